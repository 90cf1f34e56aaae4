"""Observation times are validated: a time beyond the allowed clock skew into the future, or
before the floor (1950 by default), is rejected with its reason, in files and in pushes, and
the rest of the payload is kept; and evaluation never lets a bad time already in a store hide
later evidence (a 0.95 after a poisoned 9999 row still fires)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from tests.support.factories import T0, threshold
from tests.support.server import serving
from warden.alerting.cycle import run_cycle
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.catalog.thresholds import Catalog
from warden.core import plugins
from warden.core.model import Observation
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.ingest.settings import IngestSettings, TimeBounds
from warden.store import Store
from warden.store import observations as obs_rows
from warden.store.schema import observations, rejects

NOW = T0 + timedelta(days=30)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def batch(*times: str) -> list[dict[str, object]]:
    return [
        {
            "model": f"m{i}",
            "benchmark": "bench",
            "metric": "acc",
            "value": 0.9,
            "observed_at": at,
        }
        for i, at in enumerate(times)
    ]


def folder_feed(tmp_path: Path, items: list[dict[str, object]]) -> object:
    (tmp_path / "feed").mkdir(exist_ok=True)
    (tmp_path / "feed" / "batch.json").write_text(json.dumps(items))
    connector = plugins.load(plugins.CONNECTORS, "observations_json")
    return connector({"source": str(tmp_path / "feed")})


def test_bounds_name_what_is_wrong() -> None:
    bounds = TimeBounds(300, date(1950, 1, 1))
    assert bounds.problem(NOW + timedelta(seconds=299), NOW) is None
    assert "in the future" in (bounds.problem(NOW + timedelta(seconds=301), NOW) or "")
    assert "before 1950-01-01" in (bounds.problem(datetime(1949, 12, 31, tzinfo=UTC), NOW) or "")
    assert bounds.problem(datetime(1950, 1, 1, tzinfo=UTC), NOW) is None


@pytest.mark.parametrize(
    "bad", ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "1900-06-01T00:00:00Z"]
)
def test_a_file_record_with_an_impossible_time_is_rejected_and_the_rest_kept(
    store: Store, tmp_path: Path, bad: str
) -> None:
    feed = folder_feed(tmp_path, batch(NOW.isoformat(), bad))
    result = run_feed(store, "f", feed, Cursor(), Clock())  # type: ignore[arg-type]
    assert (result.ingested, result.rejected) == (1, 1)
    (r,) = result.rejections
    assert (r.reason, r.field, r.record) == ("invalid_value", "observed_at", "1")
    assert bad[:4] in r.message
    with store.read() as conn:
        assert [row[0] for row in conn.execute(select(observations.c.subject))] == ["m0"]
        assert conn.execute(select(rejects.c.field)).scalar_one() == "observed_at"


def test_the_allowed_skew_and_floor_are_settings(store: Store, tmp_path: Path) -> None:
    settings = IngestSettings(max_clock_skew="2d", earliest=date(1900, 1, 1))
    ahead = (NOW + timedelta(days=1)).isoformat()
    feed = folder_feed(tmp_path, batch(ahead, "1920-01-01T00:00:00Z"))
    clock = Clock()
    result = run_feed(store, "f", feed, Cursor(), clock, bounds=settings.bounds())  # type: ignore[arg-type]
    assert (result.ingested, result.rejected) == (2, 0)
    with pytest.raises(ValueError):
        IngestSettings(max_clock_skew="soon")


def test_a_push_with_a_time_in_year_9999_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}", api_token="t0ken", catalog=[]
    )
    w = Warden(settings, clock=Clock())
    auth = {"Authorization": "Bearer t0ken"}
    try:
        with serving(w) as base:
            url = f"{base}/api/v1/observations"
            r = requests.post(url, json=batch("9999-01-01T00:00:00Z"), headers=auth, timeout=10)
            assert r.status_code == 422, r.text
            detail = r.json()["detail"]
            assert detail["field"] == "observed_at" and "in the future" in detail["message"]
            r = requests.post(
                url, json=batch(NOW.isoformat(), "0001-01-01T00:00:00Z"), headers=auth, timeout=10
            )
            assert r.status_code == 200, r.text
            assert r.json()["ingested"] == 1 and r.json()["rejected"][0]["field"] == "observed_at"
    finally:
        w.close()


def test_a_poisoned_time_already_stored_does_not_hide_a_later_crossing(store: Store) -> None:
    clock = Clock()
    catalog = Catalog((threshold(warn_at=None),))
    poisoned = Observation(
        "m", "bench", "acc", 0.1, datetime(9999, 1, 1, tzinfo=UTC), "bad", "s", "0" * 64
    )
    with store.write() as conn:  # as an older warden, without the ingest check, stored it
        obs_rows.insert_observations(conn, "f", [poisoned], clock())
    run_cycle(store, catalog, ["hook"], clock)
    real = Observation("m", "bench", "acc", 0.95, clock(), "real", "s", "0" * 64)
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [real], clock())
    result = run_cycle(store, catalog, ["hook"], clock)
    assert [(t.subject, t.to_state.value) for _, t in result.transitions] == [("m", "firing")]

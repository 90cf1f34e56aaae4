"""`projected:` thresholds: an early warning ahead of the data when the frontier's trend is
projected to cross the trigger value in time, on real stores; and the forecast metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from tests.support.factories import threshold
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.core.model import Observation
from warden.store import observations as obs_rows

CATALOG = """
benchmarks:
  - id: horizon
    title: Time horizon
    metrics: {p50_minutes: {scale: minutes, direction: higher}}
thresholds:
  - id: lab.horizon.projected
    title: Frontier reaches day-long tasks within a year
    domain: ai_rnd_autonomy
    level: early_warning
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: horizon, metric: p50_minutes, op: ">=", value: 480}
    scope: frontier
    projected: {within_days: 365, probability: 0.5}
    provenance:
      when.value: {kind: source, note: "8 hours"}
      projected.within_days: {kind: proxy, note: "a year of lead time"}
      projected.probability: {kind: proxy, note: "more likely than not"}
    then: {severity: warning, mitigations: [Prepare the AI R&D assessment.]}
"""
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def make(tmp_path: Path, doubling_days: float) -> Warden:
    (tmp_path / "c.yaml").write_text(CATALOG)
    sink = {"id": "log", "type": "log", "options": {"path": str(tmp_path / "alerts.jsonl")}}
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "c.yaml")],
        sinks=[sink],
    )
    w = Warden(settings, clock=lambda: NOW)
    # A new frontier model every 60 days for two years, growing with `doubling_days`, ending
    # at 200 minutes today: far below 480, but on a steep trend.
    rows = []
    for i in range(13):
        at = NOW - timedelta(days=60 * (12 - i))
        value = 200.0 * 2 ** (-(NOW - at).days / doubling_days)
        rows.append(Observation(f"lab/m{i}", "horizon", "p50_minutes", value, at, f"k{i}", "s",
                                "0" * 64))  # fmt: skip
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, "f", rows, NOW)
    return w


def test_a_steep_trend_warns_ahead_of_the_data(tmp_path: Path) -> None:
    w = make(tmp_path, doubling_days=120)  # 480 is 1.3 doublings away: about 150 days
    try:
        (ev,) = [e for e in w.evaluate().evaluations if e.threshold == "lab.horizon.projected"]
        assert ev.verdict.value == "warning" and ev.value == pytest.approx(200.0)
        assert ev.reason.startswith("projected crossing: the frontier (value) is projected to")
        assert ev.projection is not None and ev.projection["trigger"]["status"] == "projected"
        assert ev.projection["trigger"]["probability"] >= 0.5
        while w.dispatcher.run_once():
            pass
        w.forecast()
        text = generate_latest(w.metrics.registry).decode()
    finally:
        w.close()
    (alert,) = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert alert["status"] == "warning" and alert["trigger"]["projection"]["fit"]["points"] >= 10
    median = alert["trigger"]["projection"]["trigger"]["quantiles"]["0.5"]
    assert NOW < datetime.fromisoformat(median) < NOW + timedelta(days=365)
    assert (
        'warden_threshold_projected_crossing_timestamp_seconds{percentile="50",threshold="lab.horizon.projected"}'
        in text
    )
    doubling = [
        x for x in text.splitlines() if x.startswith("warden_frontier_doubling_time_seconds{")
    ]
    (line,) = doubling
    assert float(line.rsplit(" ", 1)[1]) / 86400 == pytest.approx(120, rel=0.05)


def test_a_slow_trend_does_not_warn(tmp_path: Path) -> None:
    w = make(tmp_path, doubling_days=2000)  # 480 is more than six years away
    try:
        (ev,) = [e for e in w.evaluate().evaluations if e.threshold == "lab.horizon.projected"]
    finally:
        w.close()
    assert ev.verdict.value == "ok" and ev.projection is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": "per_model"},
        {"when": {"all": [{"benchmark": "b", "metric": "m", "op": ">=", "value": 1}]}},
    ],
)
def test_projected_needs_a_single_condition_on_a_frontier(overrides: dict[str, Any]) -> None:
    base = {"scope": "frontier", "projected": {"within_days": 90, "probability": 0.8}}
    with pytest.raises(ValidationError, match="projected: needs a single benchmark condition"):
        if "when" in overrides:
            from warden.catalog.thresholds import Threshold

            data = threshold(**base).model_dump(by_alias=True, mode="json")
            data.update(overrides, warn_at=None)
            Threshold.model_validate(data)
        else:
            threshold(**{**base, **overrides})

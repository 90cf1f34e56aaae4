"""Fit windows: the catalog's `forecast:`, the defaults per metric, the window beside the
projection's and the words when the two disagree; and on the real samples, METR's time horizon
fitted over its whole history and since 2024, whatever order its files were copied in, and
training compute from 2010 on."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.support.factories import threshold
from tests.support.realfeeds import CLOCK, METR_FILES, ingest
from warden.catalog.thresholds import Catalog, load_catalog
from warden.core.model import Observation
from warden.forecasting.fit import fit
from warden.forecasting.frontier import forecast_threshold
from warden.forecasting.window import Window, change, label, plan
from warden.store import Store
from warden.store import observations as obs_rows
from warden.store.observations import history

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


# -- the catalog's `forecast:` and the defaults -----------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("2010-01-01", "2010-01-01"),
        (datetime(2010, 1, 1).date(), "2010-01-01"),  # YAML's unquoted date
        (2024, "2024-01-01"),
        ("2Y", "2y"),
        ("730d", "730d"),
        ("all", "all"),
    ],
)
def test_a_window_start_is_a_date_a_year_a_length_or_all(given: Any, canonical: str) -> None:
    t = threshold(scope="frontier", forecast={"since": given, "recent": "all"})
    assert t.forecast is not None and t.forecast.since == canonical


@pytest.mark.parametrize("bad", ["2010-13-01", "last year", "0y", "-2y", True, 2.5])
def test_a_bad_window_start_is_refused_naming_the_forms(bad: Any) -> None:
    with pytest.raises(ValidationError, match="a window start is `all`, a date"):
        threshold(forecast={"since": bad})


def test_forecast_settings_are_checked() -> None:
    t = threshold(forecast={"min_points": 6, "min_span": "400d", "method": "ols", "max_age": "90d"})
    assert t.forecast is not None and t.forecast.min_span == 400 * 86400
    for bad in ({"min_points": 2}, {"method": "median"}, {"max_age": "-3d"}, {"window": "2y"}):
        with pytest.raises(ValidationError):
            threshold(forecast=bad)
    from warden.catalog.thresholds import Threshold

    data = threshold().model_dump(by_alias=True, mode="json", exclude_none=True)
    data.update(when={"since_assessment": {"days": 30}}, forecast={"since": "all"})
    del data["warn_at"]
    with pytest.raises(ValidationError, match="forecast: needs a benchmark condition"):
        Threshold.model_validate(data)


def test_defaults_follow_the_metric_and_the_command_line_overrides_the_window() -> None:
    t = threshold(scope="frontier")
    compute, horizon = plan(t, "flop"), plan(t, "minutes")
    assert (compute.main.spec, compute.other, compute.max_age_days) == (
        "2010-01-01",
        Window("2y"),
        365,
    )
    assert (horizon.main.spec, horizon.max_age_days, horizon.origin) == (
        "all",
        270,
        "default for minutes",
    )
    catalogued = threshold(scope="frontier", forecast={"since": 2024, "method": "ols"})
    p = plan(catalogued, "minutes")
    assert (p.main.spec, p.method, p.origin) == ("2024-01-01", "ols", "catalog's")
    o = plan(catalogued, "minutes", Window("730d"))
    assert (o.main.spec, o.fallback, o.origin) == ("730d", Window("2024-01-01"), "command line's")


def test_relative_windows_count_back_from_the_newest_data() -> None:
    newest = datetime(2025, 11, 24, tzinfo=UTC)
    assert Window("2y").start(newest) == datetime(2024, 1, 1, tzinfo=UTC)
    assert Window("1y").start(newest) == datetime(2025, 1, 1, tzinfo=UTC)
    assert Window("730d").start(newest) == newest - timedelta(days=730)
    assert Window("all").start(newest) is None
    assert Window("2010-01-01").start(None) == datetime(2010, 1, 1, tzinfo=UTC)


def kinked(before: float, after: float, knee: int = 1000) -> list[tuple[datetime, float]]:
    """Minutes doubling every `before` days until day `knee`, then every `after` days."""
    out = []
    for d in range(0, 1600, 40):
        base = d / before if d <= knee else knee / before + (d - knee) / after
        out.append((at(d), 2**base * math.exp(0.02 * math.sin(d))))
    return out


def test_a_faster_recent_trend_is_called_accelerating_and_a_slower_one_decelerating() -> None:
    points = kinked(200, 80)
    whole, recent = fit(points, "minutes"), fit(points, "minutes", since=at(1000))
    assert label(Window("all"), whole) == "over 2020-2024"
    assert label(Window("2022-09-27"), recent) == "since 2022-09-27"
    text = change(whole, "over 2020-2024", recent, "since 2022-09-27")
    assert text is not None and text.startswith("accelerating: doubling ")
    assert text.endswith(" since 2022-09-27") and " d over 2020-2024, " in text
    # The projection's window named second is still the later one, named last.
    assert change(recent, "since 2022-09-27", whole, "over 2020-2024") == text
    slower = kinked(80, 400)
    down = change(fit(slower, "minutes"), "a", fit(slower, "minutes", since=at(1000)), "b")
    assert down is not None and down.startswith("decelerating: ")
    steady = kinked(200, 200)
    assert change(fit(steady, "minutes"), "a", fit(steady, "minutes", since=at(1000)), "b") is None


CATALOG = """
benchmarks:
  - {id: horizon, title: H, metrics: {p50: {direction: higher, scale: minutes}}}
thresholds:
  - id: test.horizon.recent
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: horizon, metric: p50, op: ">=", value: 100000}
    scope: frontier
    forecast: {since: 2022-09-27, recent: all}
    then: {severity: critical}
"""


def test_projections_use_the_catalogs_window_and_show_the_other(
    store: Store, tmp_path: Path
) -> None:
    (tmp_path / "c.yaml").write_text(CATALOG)
    catalog = load_catalog([tmp_path / "c.yaml"])
    items = [
        Observation(f"lab/m{i}", "horizon", "p50", v, t, f"k{i}", "s", "0" * 64)
        for i, (t, v) in enumerate(kinked(200, 80))
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", items, at(1600))
    with store.read() as conn:
        records = history(conn, [("horizon", "p50")])
    (f,) = forecast_threshold(
        records, catalog.by_id("test.horizon.recent"), catalog.registry, at(1600), 365
    )
    assert f.window == "since 2022-09-27" and f.other_window == "over 2020-2024"
    assert f.fit.doubling_days == pytest.approx(80, rel=0.1)
    assert f.other is not None and (f.other.doubling_days or 0) > 1.5 * (f.fit.doubling_days or 0)
    assert f.change is not None and f.change.startswith("accelerating")
    assert f.trigger.fit is f.fit and f.other_trigger is not None
    t80, t200 = f.trigger.quantiles[0.5], f.other_trigger.quantiles[0.5]
    assert t80 is not None and t200 is not None and t80 < t200
    doc = f.as_dict()
    assert doc["plan"]["since"] == "2022-09-27" and doc["other"]["window"] == "over 2020-2024"


# -- real data: METR's files in either copy order ---------------------------------------------

MONTH = 365.25 / 12


@pytest.fixture
def bundled() -> Catalog:
    from thresholds import bundled_catalog, bundled_registry

    return load_catalog([bundled_catalog()], [bundled_registry()])


@pytest.mark.realdata
@pytest.mark.parametrize("order", [METR_FILES, METR_FILES[::-1]], ids=["1.0-first", "1.1-first"])
def test_metr_p50_doubling_over_the_whole_history_and_since_2024_side_by_side(
    samples: Path, tmp_path: Path, store: Store, bundled: Catalog, order: tuple[str, ...]
) -> None:
    ingest(store, bundled.registry, samples, tmp_path, order)
    with store.read() as conn:
        records = history(conn, [("metr_time_horizon", "p50_minutes")])
    t = bundled.by_id("autonomy.metr_time_horizon.p50.high")
    (f,) = forecast_threshold(records, t, bundled.registry, CLOCK, 365)
    full, recent = f.fit, f.other
    assert recent is not None and (f.window, f.other_window) == ("over 2019-2025", "since 2024")
    print(f"METR p50 ({' then '.join(order)}): {f.change}; frontier now {f.frontier.best}")
    assert full.doubling_days is not None and recent.doubling_days is not None
    assert 5 * MONTH <= full.doubling_days <= 8 * MONTH
    assert 3 * MONTH <= recent.doubling_days <= 5.5 * MONTH
    assert f.change is not None and f.change.startswith("accelerating: doubling ")
    # The same frontier whatever the copy order: TH 1.1 supersedes TH 1.0 for a model in both.
    best = f.frontier.best
    assert best is not None and (best.subject, round(best.value, 1)) == (
        "anthropic/claude-opus-4.5",
        320.4,
    )
    assert [(p.subject, round(p.value, 2)) for p in f.frontier.points][-3:] == [
        ("openai/o3", 120.73),
        ("openai/gpt-5", 213.95),
        ("anthropic/claude-opus-4.5", 320.42),
    ]
    assert dict(f.frontier.left_out)["superseded by a newer version of their source"] > 0


@pytest.mark.realdata
def test_the_copy_order_of_metrs_files_does_not_change_the_frontier(
    samples: Path, tmp_path: Path, bundled: Catalog
) -> None:
    from warden.forecasting.frontier import FrontierScope, series

    frontiers = []
    for order in (METR_FILES, METR_FILES[::-1]):
        folder = tmp_path / "-".join(order)
        folder.mkdir()
        store = Store(f"sqlite:///{folder / 'w.db'}")
        store.upgrade()
        ingest(store, bundled.registry, samples, folder, order)
        with store.read() as conn:
            frontiers.append(
                series(conn, "metr_time_horizon", "p50_minutes", FrontierScope(), bundled.registry)
            )
        store.dispose()
    first, second = ([(p.at, p.subject, p.value) for p in f.points] for f in frontiers)
    assert first == second and len(first) == 16  # with the registry of now


@pytest.mark.realdata
def test_training_compute_is_fitted_from_2010_and_the_whole_history_shown_on_request(
    samples: Path, tmp_path: Path, store: Store, bundled: Catalog
) -> None:
    ingest(store, bundled.registry, samples, tmp_path, epoch=False, models=True)
    with store.read() as conn:
        records = history(conn, [("training_compute", "flop")])
    t = bundled.by_id("compute.training_compute.frontier.next_order.early_warning")
    (f,) = forecast_threshold(records, t, bundled.registry, CLOCK, 365)
    assert f.window == "since 2010" and f.plan is not None and f.plan.origin == "default for flop"
    # Epoch: frontier training compute grows 4-5x a year (a doubling every 160-180 days).
    assert f.fit.doubling_days is not None and 120 <= f.fit.doubling_days <= 200
    whole = forecast_threshold(records, t, bundled.registry, CLOCK, 365, window=Window("all"))[0]
    assert whole.window == "over 1950-2025" and whole.other_window == "since 2010"
    assert whole.fit.doubling_days is not None and whole.fit.doubling_days > 300
    median, old = f.trigger.quantiles[0.5], whole.trigger.quantiles[0.5]
    assert median is not None and old is not None and median.year <= 2027 < 2030 <= old.year

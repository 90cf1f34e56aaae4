"""Frontiers: the best value over time per scope, by observation time or release date,
read from a real store, and the forecasts of a threshold's conditions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from warden.catalog.thresholds import Catalog, load_catalog
from warden.core.model import Observation
from warden.forecasting.frontier import (
    Frontier,
    FrontierScope,
    for_threshold,
    forecast_threshold,
    series,
)
from warden.store import Store
from warden.store import observations as obs_rows
from warden.store.observations import history

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CATALOG = """
benchmarks:
  - id: bench
    title: Test bench
    metrics:
      acc: {direction: higher, scale: fraction}
      err: {direction: lower, scale: fraction}
      mins: {direction: higher, scale: minutes}
models:
  - {id: lab/a, organisation: Lab, open_weights: false, release_date: 2024-01-01}
  - {id: lab/b, organisation: Lab, open_weights: true, release_date: 2024-06-01}
  - {id: other/c, organisation: Other, open_weights: true, release_date: 2025-01-01}
thresholds:
  - id: test.acc.frontier
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: bench, metric: acc, op: ">=", value: 0.9}
    warn_at: 0.7
    scope: frontier
    then: {severity: critical}
  - id: test.acc.strict
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: bench, metric: acc, op: ">=", value: 0.9}
    scope: {organisation: Lab}
    confidence: 0.95
    missing_uncertainty: ignore
    min_samples: 10
    exclude_vendor_reported: true
    then: {severity: critical}
  - id: test.both.open
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when:
      all:
        - {benchmark: bench, metric: acc, op: ">=", value: 0.9, warn_at: 0.7}
        - {benchmark: bench, metric: mins, op: ">=", value: 480, warn_at: 240}
    scope: open_weights_frontier
    then: {severity: critical}
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    return load_catalog([tmp_path / "catalog.yaml"])


_keys = iter(range(10**9))


def observation(
    subject: str, value: float, days: float, metric: str = "acc", **attributes: Any
) -> Observation:
    stderr, n = attributes.pop("stderr", None), attributes.pop("n", None)
    return Observation(
        subject,
        "bench",
        metric,
        value,
        T0 + timedelta(days=days),
        f"k{next(_keys)}",
        "test",
        "0" * 64,
        stderr,
        n,
        attributes,
    )


def stored(store: Store, catalog: Catalog, items: list[Observation]) -> None:
    with store.write() as conn:
        normalised = [catalog.registry.normalise(o) for o in items]
        obs_rows.insert_observations(conn, "f", normalised, T0 + timedelta(days=1000))


def frontier(
    store: Store, catalog: Catalog, metric: str = "acc", scope: str = "all", **kw: Any
) -> Frontier:
    with store.read() as conn:
        return series(conn, "bench", metric, FrontierScope.parse(scope), catalog.registry, **kw)


def values(f: Frontier) -> list[tuple[int, float, str]]:
    return [((p.at - T0).days, p.value, p.subject) for p in f.points]


def test_each_new_best_is_a_record_in_time_order(store: Store, catalog: Catalog) -> None:
    stored(
        store,
        catalog,
        [
            observation("lab/a", 0.2, 0),
            observation("lab/b", 0.1, 1),
            observation("lab/a", 0.3, 2),
            observation("other/c", 0.3, 3),
            observation("lab/b", 0.25, 4),
            observation("other/c", 0.5, 5),
            observation("unknown/x", 0.4, 6),
        ],
    )
    f = frontier(store, catalog, basis="observed_at")
    assert (f.basis, f.direction, f.scale, f.considered) == ("observed_at", "higher", "fraction", 7)
    assert values(f) == [(0, 0.2, "lab/a"), (2, 0.3, "lab/a"), (5, 0.5, "other/c")]
    assert f.best is not None and f.best.value == 0.5
    assert f.pairs() == [(p.at, p.value) for p in f.points]
    until = T0 + timedelta(days=4)
    assert values(frontier(store, catalog, basis="observed_at", until=until)) == values(f)[:2]


def test_models_with_a_release_date_are_placed_at_it_and_the_rest_at_measurement_time(
    store: Store, catalog: Catalog
) -> None:
    stored(
        store,
        catalog,
        [
            observation("lab/a", 0.2, 0),
            observation("lab/a", 0.3, 2),  # its newest estimate, at its release (2024-01-01)
            observation("lab/b", 0.25, 4),  # released 2024-06-01: no record
            observation("other/c", 0.5, 5),  # released 2025-01-01
            observation("unknown/x", 0.4, 6),  # no release date anywhere: measured on day 6
        ],
    )
    f = frontier(store, catalog)  # most have a release date: by release date
    assert f.basis == "release_date"
    assert values(f) == [(0, 0.3, "lab/a"), (6, 0.4, "unknown/x"), (366, 0.5, "other/c")]
    assert dict(f.placed) == {"release date": 3, "measurement time": 1}
    assert f.basis_text == "by release date (1 by measurement time: no release date)"
    assert f.newest == T0 + timedelta(days=366)
    assert dict(f.left_out) == {"older estimates of a model": 1}


def test_a_lower_metric_keeps_the_lowest_and_a_tie_in_time_keeps_the_best(
    store: Store, catalog: Catalog
) -> None:
    stored(
        store,
        catalog,
        [
            observation("lab/a", 0.5, 0, "err"),
            observation("lab/b", 0.3, 0, "err"),
            observation("lab/a", 0.4, 1, "err"),
            observation("other/c", 0.1, 2, "err"),
        ],
    )
    f = frontier(store, catalog, "err", basis="observed_at")
    assert f.direction == "lower"
    assert values(f) == [(0, 0.3, "lab/b"), (2, 0.1, "other/c")]


def test_scopes_take_membership_from_the_registry_else_the_attributes(
    store: Store, catalog: Catalog
) -> None:
    stored(
        store,
        catalog,
        [
            observation("lab/a", 0.6, 0),
            observation("lab/b", 0.4, 1),
            observation("other/c", 0.5, 2),
            observation("new/x", 0.7, 3, organisation="Lab", open_weights=True),
            # The registry knows lab/a is closed: its attributes do not override that.
            observation("lab/a", 0.9, 4, open_weights=True),
        ],
    )
    by_time: dict[str, Any] = {"basis": "observed_at"}
    open_weights = frontier(store, catalog, scope="open_weights", **by_time)
    assert values(open_weights) == [(1, 0.4, "lab/b"), (2, 0.5, "other/c"), (3, 0.7, "new/x")]
    lab = frontier(store, catalog, scope="organisation:Lab", **by_time)
    assert [s for _, _, s in values(lab)] == ["lab/a", "new/x", "lab/a"]
    both = frontier(store, catalog, scope="open_weights,organisation:Lab", **by_time)
    assert both.scope.name == "open_weights,organisation:Lab"
    assert [s for _, _, s in values(both)] == ["lab/b", "new/x"]


def test_scope_names_parse_and_follow_thresholds(catalog: Catalog) -> None:
    assert FrontierScope.parse("all") == FrontierScope()
    assert FrontierScope.parse("organisation: Lab") == FrontierScope(False, "Lab")
    with pytest.raises(ValueError, match="all, open_weights or organisation:NAME"):
        FrontierScope.parse("organisation:")
    by_id = {t.id: FrontierScope.of(t) for t in catalog.thresholds}
    assert by_id == {
        "test.acc.frontier": FrontierScope(),
        "test.acc.strict": FrontierScope(False, "Lab"),
        "test.both.open": FrontierScope(True, None),
    }


def test_release_dates_place_results_that_have_no_measurement_time(
    store: Store, catalog: Catalog
) -> None:
    fetched = {"timestamp_kind": "fetched"}
    stored(
        store,
        catalog,
        [
            # METR-like: observed when fetched (day 900), release dates from the registry.
            observation("lab/a", 0.3, 900, **fetched),
            observation("lab/b", 0.5, 900, **fetched),
            observation("lab/b", 0.45, 950, **fetched),  # re-estimated later: the newest counts
            observation("other/c", 0.7, 900, **fetched),
            observation("new/x", 0.9, 900, release_date="2023-06-01", **fetched),
            observation("new/y", 0.95, 900, **fetched),  # no release date anywhere
            # Epoch-like: observed_at is the release date already.
            observation("new/z", 0.6, 200, timestamp_kind="release_date"),
        ],
    )
    f = frontier(store, catalog)
    assert f.basis == "release_date"
    assert values(f) == [
        (-214, 0.9, "new/x"),  # 2023-06-01
    ]
    without_x = frontier(store, catalog, scope="organisation:Lab")
    assert values(without_x) == [(0, 0.3, "lab/a"), (152, 0.45, "lab/b")]
    assert dict(f.left_out) == {"no release date": 1, "older estimates of a model": 1}
    by_time = frontier(store, catalog, basis="observed_at")
    assert values(by_time) == [(200, 0.6, "new/z")]
    assert dict(by_time.left_out) == {"no measurement time": 6}


def test_a_threshold_sees_its_bound_and_leaves_out_what_it_does_not_count(
    store: Store, catalog: Catalog
) -> None:
    stored(
        store,
        catalog,
        [
            observation("lab/a", 0.8, 0, stderr=0.05, n=100),
            observation("lab/a", 0.95, 1, stderr=0.1, n=100),  # bound 0.754
            observation("lab/b", 0.99, 2, stderr=0.01, n=5),  # too few samples
            observation("lab/b", 0.99, 3, stderr=0.01, n=50, vendor_reported=True),
            observation("lab/b", 0.99, 4, n=50),  # no stderr
            observation("other/c", 0.99, 5, stderr=0.01, n=50),  # not Lab
        ],
    )
    with store.read() as conn:
        records = history(conn, [("bench", "acc")])
    t = catalog.by_id("test.acc.strict")
    (condition,) = t.conditions
    f = for_threshold(records[("bench", "acc")], t, condition, catalog.registry, "observed_at")
    assert f.measure == "lower 0.95 bound"
    assert [(round(p.value, 4), p.subject) for p in f.points] == [
        (0.702, "lab/a"),
        (0.754, "lab/a"),
    ]
    assert dict(f.left_out) == {
        "fewer than min_samples (10) samples": 1,
        "no stderr (missing_uncertainty: ignore)": 1,
        "vendor-reported (exclude_vendor_reported)": 1,
    }
    assert f.considered == 2


def test_forecasts_cover_every_condition_with_its_own_warning(
    store: Store, catalog: Catalog
) -> None:
    # Models with no release date (in-house checkpoints): placed by measurement time.
    weights = {"open_weights": True}
    growth = [
        observation("new/b", 2 ** (d / 100), d * 1.0, "mins", **weights) for d in range(0, 700, 50)
    ]
    rising = [observation("new/c", 0.2 + 0.06 * i, 50.0 * i, **weights) for i in range(10)]
    stored(store, catalog, growth + rising)
    with store.read() as conn:
        records = history(conn, [("bench", "acc"), ("bench", "mins")])
    now = T0 + timedelta(days=700)
    fits: dict[tuple[Any, ...], Any] = {}
    made = forecast_threshold(
        records, catalog.by_id("test.both.open"), catalog.registry, now, 365, fits=fits
    )
    assert [(f.condition.metric, f.trigger.level) for f in made] == [("acc", 0.9), ("mins", 480)]
    assert [f.warning.level if f.warning else None for f in made] == [0.7, 240]
    acc, mins = made
    assert acc.warning is not None and acc.warning.status == "crossed"  # 0.74 on day 450
    assert acc.trigger.status == "projected" and acc.fit.kind == "logit"
    assert mins.fit.doubling_days == pytest.approx(100, rel=0.01)
    assert mins.trigger.status == "projected" and mins.warning is not None
    assert mins.warning.status == "projected"  # 2**(700/100) = 128 < 240 at day 650
    median = mins.trigger.quantiles[0.5]
    assert median is not None and abs((median - T0 - timedelta(days=891)).days) <= 2
    again = forecast_threshold(
        records, catalog.by_id("test.both.open"), catalog.registry, now, 365, fits=fits
    )
    assert again[1].fit is mins.fit and len(fits) == 2
    doc = json.loads(json.dumps(mins.as_dict()))
    assert doc["frontier"]["basis"] == "observed_at" and doc["fit"]["kind"] == "log"
    assert doc["trigger"]["status"] == "projected" and doc["warning"]["level"] == 240
    none = forecast_threshold({}, catalog.by_id("test.acc.frontier"), catalog.registry, now, 365)
    assert none[0].frontier.points == () and none[0].trigger.status == "no_forecast"

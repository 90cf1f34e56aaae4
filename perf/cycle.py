"""The evaluation cycle: 100 thresholds x `models` models x 50 benchmarks through
`run_cycle`, steady state, beside a plain sqlite3 read and compare (perf/README.md,
figure `cycle`)."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from harness import (
    BENCHMARKS,
    NOW,
    best,
    chunks,
    emit,
    fresh_store,
    grid_thresholds,
    observation,
    say,
)

from warden.alerting.cycle import CycleResult, run_cycle
from warden.catalog.conditions import Condition
from warden.catalog.thresholds import Catalog, Threshold
from warden.store import Store
from warden.store.observations import insert_observations


def raw_cycle(path: Path, thresholds: Sequence[Threshold]) -> float:
    """The floor: read each series' newest value and the alert states with sqlite3, and compare
    every threshold x subject in a plain loop."""
    evidence = "SELECT benchmark, metric, subject, value FROM observations ORDER BY 1, 2, 3, "
    t0 = time.perf_counter()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        newest: dict[tuple[str, str], dict[str, float]] = {}
        for b, m, s, v in conn.execute(evidence + "observed_at DESC"):
            newest.setdefault((b, m), {}).setdefault(s, v)
        rows = conn.execute("SELECT threshold, subject, state FROM alert_states")
        states = {(t, s): state for t, s, state in rows}
    compare(thresholds, newest, states)
    return time.perf_counter() - t0


def compare(
    thresholds: Sequence[Threshold],
    newest: dict[tuple[str, str], dict[str, float]],
    states: dict[tuple[str, str], str],
) -> None:
    """The raw baselines' evaluation: each threshold x subject's newest value against its
    condition and its stored state, in a plain loop."""
    conditions = [(t.when, t.id) for t in thresholds if isinstance(t.when, Condition)]
    assert len(conditions) == len(thresholds)  # the perf catalog: plain conditions only
    for when, tid in conditions:
        for subject, value in newest.get((when.benchmark, when.metric), {}).items():
            _ = states.get((tid, subject)) == ("firing" if when.holds(value) else "inactive")


class Grid(NamedTuple):
    thresholds: tuple[Threshold, ...]
    catalog: Catalog
    store: Store
    observations: int


def seeded(models: int, path: Path) -> Grid:
    """The figure's store (a SQLite file, or a fresh PostgreSQL schema under --database) with
    one seeded observation per model and benchmark, and its grid of thresholds."""
    thresholds = tuple(Threshold.model_validate(d) for d in grid_thresholds(BENCHMARKS))
    names = [f"bench-{b:02d}" for b in range(BENCHMARKS)]
    rng = random.Random(3)
    rows = [
        observation(f"model-{m:04d}", b, rng.random(), NOW - timedelta(rng.randint(1, 30)))
        for m in range(models)
        for b in names
    ]
    store = fresh_store(path)
    for part in chunks(rows, 10_000):
        with store.write() as conn:
            insert_observations(conn, "perf", part, NOW)
    say(f"cycle: {len(thresholds)} thresholds x {models} models x {BENCHMARKS} benchmarks")
    return Grid(thresholds, Catalog(thresholds), store, len(rows))


def cycles(grid: Grid) -> tuple[CycleResult, list[CycleResult]]:
    """The first cycle (it creates every alert state) and two steady-state ones."""
    first = run_cycle(grid.store, grid.catalog, ["webhook"], lambda: NOW)
    say(f"first cycle {first.duration_seconds:.1f} s, {len(first.transitions)} transitions")
    steady = [run_cycle(grid.store, grid.catalog, ["webhook"], lambda: NOW) for _ in range(2)]
    assert not first.failed and not any(r.transitions or r.failed for r in steady)
    return first, steady


def figure(models: int, tmp: Path) -> None:
    grid = seeded(models, tmp / "cycle.db")
    first, steady = cycles(grid)
    grid.store.dispose()
    value = min(r.duration_seconds for r in steady)
    floor = best(2, lambda _: raw_cycle(tmp / "cycle.db", grid.thresholds))
    emit(
        "evaluation_cycle_seconds", value, "s", "steady-state cycle < 1 s", value < 1.0,
        baseline={"raw_sqlite3_read_and_compare_seconds": round(floor, 4)},
        ratio_to_raw=round(value / floor, 1), first_cycle_seconds=round(first.duration_seconds, 3),
        first_cycle_transitions=len(first.transitions), evaluations=len(steady[0].evaluations),
        thresholds=len(grid.thresholds), models=models, observations=grid.observations,
    )  # fmt: skip

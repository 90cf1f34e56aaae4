"""The insert and cycle figures on PostgreSQL (`perf/run.py --database postgresql://...`), each
beside a raw baseline measured in the same run on a schema made by warden's own migrations:
psycopg `COPY` for the bulk insert, and the plain newest-per-series query plus a Python compare
for the cycle (perf/README.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cycle import compare, cycles, seeded
from harness import (
    NOW,
    best,
    chunks,
    emit,
    fresh_store,
    say,
)
from insert import figure_rows, warden_insert

from warden.catalog.thresholds import Threshold
from warden.core.model import Observation
from warden.store import Store

COLUMNS = (
    "feed", "key", "subject", "benchmark", "metric", "value", "stderr", "n", "observed_at",
    "ingested_at", "source", "content_hash", "attributes",
)  # fmt: skip


def raw_copy(store: Store, rows: Sequence[Observation], batch: int) -> float:
    """The limit: psycopg COPY into warden's own observations table (same columns, indexes and
    constraints), one transaction per batch as warden's insert; JSON conversion included."""
    raw: Any = store.engine.raw_connection()
    t0 = time.perf_counter()
    try:
        cur = raw.cursor()
        for part in chunks(rows, batch):
            with cur.copy(f"COPY observations ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for o in part:
                    copy.write_row(
                        ("perf", o.key, o.subject, o.benchmark, o.metric, o.value, o.stderr, o.n,
                         o.observed_at, NOW, o.source, o.content_hash, json.dumps(o.attributes))
                    )  # fmt: skip
            raw.commit()
        seconds = time.perf_counter() - t0
        cur.execute("SELECT count(*) FROM observations")
        assert cur.fetchone()[0] == len(rows)
    finally:
        raw.close()
    return seconds


def insert_figure(count: int, repeats: int, tmp: Path, batch: int = 1000) -> None:
    rows = figure_rows(count)

    def copy(k: int) -> float:
        store = fresh_store(tmp / f"copy-{k}.db")
        try:
            return raw_copy(store, rows, batch)
        finally:
            store.dispose()

    say(f"inserting {len(rows)} observations in batches of {batch} on PostgreSQL")
    # Passes interleaved (warden, COPY, warden, ...): a machine busy for a while slows both
    # alike instead of only the one that ran then.
    warden_seconds, copy_seconds = [], []
    for k in range(repeats):
        warden_seconds.append(warden_insert(rows, tmp / f"bulk-{k}.db", batch))
        copy_seconds.append(copy(k))
    rate, raw = len(rows) / min(warden_seconds), len(rows) / min(copy_seconds)
    emit(
        "bulk_insert_rows_per_second", rate, "rows/s", ">= 50% of raw_psycopg_copy",
        rate >= 0.5 * raw, baseline={"raw_psycopg_copy": round(raw)},
        ratio_to_raw_psycopg_copy=round(rate / raw, 3), rows=len(rows), batch=batch,
    )  # fmt: skip


NEWEST = (
    "SELECT DISTINCT ON (benchmark, metric, subject) benchmark, metric, subject, value "
    "FROM observations ORDER BY benchmark, metric, subject, observed_at DESC"
)


def raw_cycle(store: Store, thresholds: Sequence[Threshold]) -> float:
    """The floor: the newest value of each series and the alert states by plain SQL through
    psycopg, and every threshold x subject compared in a plain loop (perf/cycle.py's)."""
    raw: Any = store.engine.raw_connection()
    t0 = time.perf_counter()
    try:
        cur = raw.cursor()
        newest: dict[tuple[str, str], dict[str, float]] = {}
        for b, m, s, v in cur.execute(NEWEST):
            newest.setdefault((b, m), {})[s] = v
        states = {
            (t, s): st
            for t, s, st in cur.execute("SELECT threshold, subject, state FROM alert_states")
        }
        raw.rollback()
    finally:
        raw.close()
    compare(thresholds, newest, states)
    return time.perf_counter() - t0


def cycle_figure(models: int, tmp: Path) -> None:
    grid = seeded(models, tmp / "cycle.db")
    say("cycle on PostgreSQL")
    first, steady = cycles(grid)
    value = min(r.duration_seconds for r in steady)
    floor = best(2, lambda _: raw_cycle(grid.store, grid.thresholds))
    grid.store.dispose()
    emit(
        "evaluation_cycle_seconds", value, "s", "steady-state cycle < 1 s", value < 1.0,
        baseline={"raw_psycopg_newest_per_series_and_compare_seconds": round(floor, 4)},
        ratio_to_raw=round(value / floor, 1), first_cycle_seconds=round(first.duration_seconds, 3),
        first_cycle_transitions=len(first.transitions), evaluations=len(steady[0].evaluations),
        thresholds=len(grid.thresholds), models=models, observations=grid.observations,
    )  # fmt: skip

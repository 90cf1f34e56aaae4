"""Bulk observation insert: `insert_observations` in batches into a fresh SQLite store, beside
sqlite3's executemany into a table made with warden's own DDL (perf/README.md, figure
`insert`)."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, timedelta
from pathlib import Path

from harness import (
    BENCHMARKS,
    NOW,
    best,
    chunks,
    emit,
    fresh_store,
    observation,
    say,
)

from warden.core.model import Observation
from warden.store.observations import insert_observations

# -- 2. Bulk observation insert ----------------------------------------------------------------
COLUMNS = "feed, key, subject, benchmark, metric, value, stderr, n, observed_at, ingested_at, "
COLUMNS += "source, content_hash, attributes"


def raw_row(o: Observation, ingested_at: str) -> tuple[object, ...]:
    observed_at = o.observed_at.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    fields = (o.subject, o.benchmark, o.metric, o.value, o.stderr, o.n, observed_at, ingested_at)
    return ("perf", o.key, *fields, o.source, o.content_hash, json.dumps(o.attributes))


def raw_insert(path: Path, ddl: list[str], rows: Sequence[Observation], batch: int) -> float:
    """The limit: sqlite3 executemany into a table made with warden's own DDL (same columns and
    indexes), same pragmas and batches; datetime and JSON conversion included in the time."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", *ddl]:
        conn.execute(statement)
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    sql = f"INSERT OR IGNORE INTO observations ({COLUMNS}) VALUES ({marks})"
    now = NOW.replace(tzinfo=None).isoformat(" ")
    t0 = time.perf_counter()
    for part in chunks(rows, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, [raw_row(o, now) for o in part])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    assert conn.execute("SELECT count(*) FROM observations").fetchone()[0] == len(rows)
    conn.close()
    return seconds


def figure_rows(count: int) -> list[Observation]:
    """The figure's observations (seeded): 1,000 models over the benchmarks, a stderr, n and
    attributes each (the same rows on SQLite and PostgreSQL)."""
    rng, extra = random.Random(2), {"stderr": 0.01, "n": 100, "attributes": {"org": "perf"}}
    return [
        observation(f"model-{i % 1000:04d}", f"bench-{i // 1000 % BENCHMARKS:02d}", rng.random(),
                    NOW - timedelta(seconds=i), **extra)
        for i in range(count)
    ]  # fmt: skip


def warden_insert(rows: Sequence[Observation], path: Path, batch: int) -> float:
    """Seconds for warden's `insert_observations` to store `rows` in batches into a fresh store
    at `path` (a SQLite file, or a fresh PostgreSQL schema under --database)."""
    store = fresh_store(path)
    t0 = time.perf_counter()
    for part in chunks(rows, batch):
        with store.write() as conn:
            assert insert_observations(conn, "perf", part, NOW) == len(part)
    seconds = time.perf_counter() - t0
    store.dispose()
    return seconds


def figure(count: int, repeats: int, tmp: Path, batch: int = 1000) -> None:
    rows = figure_rows(count)
    say(f"inserting {len(rows)} observations in batches of {batch}, best of {repeats}")
    rate = len(rows) / best(repeats, lambda k: warden_insert(rows, tmp / f"bulk-{k}.db", batch))
    query = "SELECT sql FROM sqlite_master WHERE tbl_name = 'observations' AND sql IS NOT NULL"
    with contextlib.closing(sqlite3.connect(tmp / "bulk-0.db")) as db:
        ddl = [r[0] for r in db.execute(f"{query} ORDER BY type DESC")]  # table first
    raw = len(rows) / best(repeats, lambda k: raw_insert(tmp / f"raw{k}.db", ddl, rows, batch))
    emit(
        "bulk_insert_rows_per_second", rate, "rows/s", ">= 30% of raw_sqlite3_executemany",
        rate >= 0.3 * raw, baseline={"raw_sqlite3_executemany": round(raw)},
        ratio_to_raw_sqlite3_executemany=round(rate / raw, 3), rows=len(rows), batch=batch,
    )  # fmt: skip

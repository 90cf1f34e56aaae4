"""How long an unrelated push waits behind an alert cycle that has much to match (issue 13, item 5).

A store holds `--silences` active silences with non-trivial regular expressions (none of which
matches, so every one is tried against every alert) and `--models` observations over a
threshold: one cycle over that threshold makes a burst of `--models` transitions into firing,
each matched against every silence. While it runs, another thread pushes, again and again, an
observation of an unrelated benchmark and runs that push's own cycle (as `POST
/api/v1/observations` does); each push is timed from its start until its cycle has committed.
The baseline is the same push with no cycle running. One JSON line on stdout.

    .venv/bin/python perf/cycle_lock.py                     # SQLite file in a temporary folder
    .venv/bin/python perf/cycle_lock.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    PYTHONPATH=/path/to/other/checkout .venv/bin/python perf/cycle_lock.py   # another version
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import warden
from warden.alerting.cycle import run_cycle
from warden.alerting.routing import Router, RouteSettings
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.matchers import Matchers
from warden.core.model import Observation
from warden.store import Store, actions
from warden.store.observations import insert_observations


def threshold(tid: str, benchmark: str) -> Threshold:
    return Threshold.model_validate(
        {
            "id": tid,
            "title": tid,
            "domain": "perf",
            "level": "high",
            "sources": [{"title": "perf", "url": "https://example.org/perf"}],
            "when": {"benchmark": benchmark, "metric": "accuracy", "op": ">=", "value": 0.5},
            "then": {"severity": "critical"},
        }
    )


def observation(model: str, benchmark: str, value: float, at: datetime) -> Observation:
    key = hashlib.sha256(f"{model}/{benchmark}/{at.isoformat()}".encode()).hexdigest()
    return Observation(model, benchmark, "accuracy", value, at, key, "perf://", "0" * 64)


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A fresh SQLite file, or a schema of its own on the PostgreSQL at `url`."""
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'warden.db'}"
        return
    schema = f"perf_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def silence(i: int) -> Matchers:
    """A silence for a team's model family that no perf alert belongs to."""
    return Matchers(
        match_re={
            "subject": f"(team{i}|group{i})/(model|agent)-[a-z]+-v[0-9]+(-beta|-rc[0-9]+)?",
            "threshold": r"perf\.(burst|other)\.(high|critical)",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--silences", type=int, default=2000)
    parser.add_argument("--models", type=int, default=500, help="transitions of the burst")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between pushes")
    args = parser.parse_args()
    burst, quiet = threshold("perf.burst.high", "burst"), threshold("perf.quiet.high", "quiet")
    catalog = Catalog((burst, quiet))
    router = Router(
        [RouteSettings.model_validate({"sinks": ["hook"], "match_re": {"domain": "perf|ops"}})],
        ["hook"],
    )
    now = datetime.now(UTC)

    def clock() -> datetime:
        return datetime.now(UTC)

    with database(args.database_url) as url:
        store = Store(url)
        store.upgrade()
        with store.write() as conn:
            for i in range(args.silences):
                end = now + timedelta(days=1)
                actions.add_silence(conn, silence(i), now, end, "perf", "perf", now)
            rows = [observation(f"model-{m:05d}", "burst", 0.9, now) for m in range(args.models)]
            insert_observations(conn, "perf", rows, now)
        pushes = 0

        def push() -> float:
            nonlocal pushes
            pushes += 1
            started = time.perf_counter()
            with store.write() as conn:
                insert_observations(
                    conn, "push", [observation(f"pushed-{pushes}", "quiet", 0.1, clock())], clock()
                )
            run_cycle(store, catalog, router, clock, [quiet])
            return time.perf_counter() - started

        baseline = [push() for _ in range(20)]
        cycle: dict[str, Any] = {}

        def run() -> None:
            started = time.perf_counter()
            result = run_cycle(store, catalog, router, clock, [burst])
            cycle["seconds"] = time.perf_counter() - started
            cycle["transitions"] = len(result.transitions)

        worker = threading.Thread(target=run)
        worker.start()
        waits = []
        while worker.is_alive():
            waits.append(push())
            time.sleep(args.interval)
        worker.join()
        store.dispose()
    record = {
        "figure": "push_wait_behind_cycle_seconds",
        "value": round(max(waits), 3),
        "unit": "s",
        "p50_seconds": round(statistics.median(waits), 4),
        "pushes_during_cycle": len(waits),
        "baseline_push_p50_seconds": round(statistics.median(baseline), 4),
        "cycle_seconds": round(cycle["seconds"], 3),
        "transitions": cycle["transitions"],
        "silences": args.silences,
        "dialect": make_url(url).get_backend_name(),
        "warden": str(Path(warden.__file__).parent),
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())

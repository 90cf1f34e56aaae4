"""A silence regex that backtracks catastrophically, before and after RE2 (issue 13, item 5).

A silence `match_re: {subject: "(a+)+$"}` against an alert whose subject is `a` repeated and
then `!`: Python's backtracking `re` (the engine silences used before) takes time exponential in
the number of `a`s; warden's matchers (RE2 semantics, warden/core/matchers.py) are linear. The
figure is one push (store an observation and run its alert cycle) with that silence active, the
subject 30 `a`s long, into a fresh SQLite store; the same-run baseline is `re.fullmatch` of the
same pattern on subjects of 18-24 `a`s (each step doubles its time; 30 would take minutes:
the issue measured 52.6 s for the push). One JSON line on stdout.

    .venv/bin/python perf/redos.py
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warden.alerting import actions as alerting
from warden.alerting.cycle import run_cycle
from warden.alerting.routing import Router
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.matchers import Matchers
from warden.core.model import Observation
from warden.store import Store
from warden.store import observations as obs_rows

PATTERN = "(a+)+$"
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def threshold() -> Threshold:
    return Threshold.model_validate(
        {
            "id": "perf.redos.high",
            "title": "T",
            "domain": "perf",
            "level": "high",
            "sources": [{"title": "S", "url": "https://example.org/"}],
            "when": {"benchmark": "bench", "metric": "acc", "op": ">=", "value": 0.5},
            "then": {"severity": "warning"},
        }
    )


def push_seconds(length: int) -> float:
    folder = Path(tempfile.mkdtemp())
    store = Store(f"sqlite:///{folder / 'w.db'}")
    store.upgrade()
    catalog = Catalog([threshold()])
    ends = NOW + timedelta(hours=1)
    alerting.add_silence(store, Matchers(match_re={"subject": PATTERN}), NOW, ends, "p", "r", NOW)
    o = Observation("a" * length + "!", "bench", "acc", 0.9, NOW, "k", "perf", "0" * 64)
    started = time.perf_counter()
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [o], NOW)
    result = run_cycle(store, catalog, Router([], ["hook"]), lambda: NOW)
    took = time.perf_counter() - started
    store.dispose()
    assert len(result.transitions) == 1
    return took


def backtracking_seconds(length: int) -> float:
    started = time.perf_counter()
    assert re.fullmatch(PATTERN, "a" * length + "!") is None
    return time.perf_counter() - started


def main() -> None:
    push = min(push_seconds(30) for _ in range(3))
    baseline = {
        f"python_re_{n}_a_seconds": round(backtracking_seconds(n), 4) for n in (18, 20, 22, 24)
    }
    print(
        json.dumps(
            {
                "figure": "redos_push_seconds",
                "value": round(push, 4),
                "unit": "s",
                "subject_length": 31,
                "baseline": baseline,
                "issue_before_seconds": 52.6,
                "target": "< 1 s",
                "met": push < 1,
            }
        )
    )


if __name__ == "__main__":
    main()

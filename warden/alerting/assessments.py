"""Recording capability assessments: `warden assess record MODEL --by WHO [--compute FLOP]`.

An assessment resets the clock of `since_assessment: {days: N}` and the compute baseline of
`since_assessment: {compute_ratio: R}` for its model. Each one is also an entry in the trigger
log, so the record of who assessed what, and when, is as tamper-evident as the alerts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from warden.catalog.registry import Registry
from warden.core.clock import Clock
from warden.core.errors import UsageError
from warden.core.model import Assessment
from warden.store import Store
from warden.store import alerts as alert_rows
from warden.store import assessments as rows
from warden.triggerlog.entries import assessment_entry


@dataclass(frozen=True)
class Recorded:
    assessment: Assessment
    seq: int
    known_model: bool
    compute_from_observation: bool


def record(
    store: Store,
    registry: Registry,
    clock: Clock,
    model: str,
    by: str,
    at: datetime | None = None,
    compute: float | None = None,
    note: str = "",
) -> Recorded:
    """Record that `model` was assessed by `by` at `at` (default now). Without `compute`, the
    model's newest training compute observation up to `at` is taken, if there is one."""
    now = clock()
    at = at or now
    if at.tzinfo is None:
        raise UsageError("--at: give a time with an offset, or a date (taken as UTC)")
    if at > now:
        raise UsageError(f"--at {at.isoformat()} is in the future")
    if not by.strip():
        raise UsageError("--by: name who assessed the model")
    if compute is not None and not (math.isfinite(compute) and compute > 0):
        raise UsageError(f"--compute: a positive number of FLOP (got {compute!r})")
    spec = registry.model(model)
    canonical = spec.id if spec else model
    with store.write() as conn:
        found = False
        if compute is None:
            compute = rows.newest_compute(conn, canonical, at)
            found = compute is not None
        a = Assessment(canonical, at, by.strip(), compute, note)
        alert_rows.lock(conn)
        entry = assessment_entry(alert_rows.chain_head(conn), now, a)
        alert_rows.append_triggers(conn, [entry])
        rows.record(conn, a, entry.seq)
    return Recorded(a, entry.seq, spec is not None, found)

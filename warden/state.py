"""The alert state machine, per threshold x subject. Pure.

    inactive -> pending -> firing -> resolved      (plus warning, nodata, error)

- breached: `firing` once confirmations reach the threshold's `for`, else `pending` (a firing
  alert stays firing);
- warning: `warning` (an early warning, or a firing alert fallen back below the trigger);
- ok: `resolved` from firing, warning, nodata or error; `inactive` from pending;
- unknown: `nodata` from pending, warning, firing or error; otherwise unchanged. Missing evidence
  never reads as ok or resolved;
- error (evaluation failed): `error`.
"""

from __future__ import annotations

from datetime import datetime

from warden.catalog import Threshold
from warden.model import AlertState, Evaluation, State, Transition, Verdict

_OK_TO = {
    State.FIRING: State.RESOLVED,
    State.WARNING: State.RESOLVED,
    State.NODATA: State.RESOLVED,
    State.ERROR: State.RESOLVED,
    State.PENDING: State.INACTIVE,
}
_HAD_EVIDENCE = {State.PENDING, State.WARNING, State.FIRING, State.ERROR}


def target(prev: State, ev: Evaluation, required: int) -> State:
    if ev.verdict is Verdict.BREACHED:
        if ev.confirmations >= required or prev is State.FIRING:
            return State.FIRING
        return State.PENDING
    if ev.verdict is Verdict.WARNING:
        return State.WARNING
    if ev.verdict is Verdict.OK:
        return _OK_TO.get(prev, prev)
    if ev.verdict is Verdict.UNKNOWN:
        return State.NODATA if prev in _HAD_EVIDENCE else prev
    return State.ERROR


def advance(
    prev: AlertState | None, ev: Evaluation, threshold: Threshold, now: datetime
) -> tuple[AlertState, Transition | None]:
    """The next alert state, and the transition when the state changes."""
    before = prev.state if prev is not None else State.INACTIVE
    after = target(before, ev, threshold.for_)
    evidence_id = ev.evidence[0].id if ev.evidence else None
    if prev is not None and after is before:
        if prev.evidence_id == evidence_id or evidence_id is None:
            return prev, None
        return AlertState(
            ev.threshold, ev.subject, after, prev.since, prev.threshold_version, evidence_id
        ), None
    state = AlertState(ev.threshold, ev.subject, after, now, threshold.version, evidence_id)
    if after is before:
        return state, None
    return state, Transition(threshold.id, threshold.version, ev.subject, before, after, ev)

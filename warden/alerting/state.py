"""The alert state machine, per threshold x subject. Pure.

    inactive -> pending -> firing -> resolved      (plus warning, nodata, error)

- breached: `firing` once confirmations reach the threshold's `for` (or, for a duration `for`,
  once it has been pending that long), else `pending` (a firing alert stays firing);
- warning: `warning` (an early warning, or a firing alert fallen back below the trigger);
- ok: `resolved` from firing, warning, nodata or error; `inactive` from pending;
- unknown: `nodata` from pending, warning, firing or error; otherwise unchanged. Missing evidence
  never reads as ok or resolved;
- error (evaluation failed): `error`;
- hysteresis: with `clear_at`, a firing alert holds while the value still meets `clear_at`;
  with `keep_firing_for`, until that long after the last breach.
"""

from __future__ import annotations

from warden.catalog.conditions import Comparison
from warden.catalog.thresholds import Threshold
from warden.core.model import Evaluation, State, Transition, Verdict

_OK_TO = {
    State.FIRING: State.RESOLVED,
    State.WARNING: State.RESOLVED,
    State.NODATA: State.RESOLVED,
    State.ERROR: State.RESOLVED,
    State.PENDING: State.INACTIVE,
}
_HAD_EVIDENCE = {State.PENDING, State.WARNING, State.FIRING, State.ERROR}


def target(prev: State, ev: Evaluation, required: int, held: bool = True) -> State:
    """The next state; `held` says whether a duration-based `for` has elapsed."""
    if ev.verdict is Verdict.BREACHED:
        if (ev.confirmations >= required and held) or prev is State.FIRING:
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
    prev: State | None,
    ev: Evaluation,
    threshold: Threshold,
    pending_seconds: float | None = None,
    breached_seconds_ago: float | None = None,
) -> Transition | None:
    """The transition `ev` causes from `prev` (None: no alert state yet), if any.
    `pending_seconds`: how long the alert has been pending, for a duration `for` (it fires once
    that long). With `clear_at`, a firing alert stays firing until the value is past that
    recovery level, and with `keep_firing_for` until that long after it was last breached
    (`breached_seconds_ago`)."""
    before = prev or State.INACTIVE
    held = threshold.for_seconds is None or (
        before is State.PENDING
        and pending_seconds is not None
        and pending_seconds >= threshold.for_seconds
    )
    after = target(before, ev, threshold.for_, held)
    if before is State.FIRING and after in (State.WARNING, State.RESOLVED):
        if (
            threshold.clear_at is not None
            and ev.value is not None
            and isinstance(threshold.when, Comparison)
            and threshold.when.holds(ev.value, threshold.clear_at)
        ):
            return None
        if (
            threshold.keep_firing_for is not None
            and breached_seconds_ago is not None
            and breached_seconds_ago < threshold.keep_firing_for
        ):
            return None
    if after is before:
        return None
    return Transition(threshold.id, threshold.version, ev.subject, before, after, ev)

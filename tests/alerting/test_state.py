from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.factories import T0, obs, series, threshold
from warden.alerting.state import advance, target
from warden.core.model import Evaluation, State, Verdict
from warden.evaluation.evaluate import evaluate


def ev(verdict: Verdict, confirmations: int = 1) -> Evaluation:
    return Evaluation("t", "s", verdict, 0.5, confirmations)


def test_transitions() -> None:
    assert target(State.INACTIVE, ev(Verdict.BREACHED, 1), 2) is State.PENDING
    assert target(State.PENDING, ev(Verdict.BREACHED, 2), 2) is State.FIRING
    assert target(State.FIRING, ev(Verdict.BREACHED, 1), 2) is State.FIRING
    assert target(State.FIRING, ev(Verdict.OK), 1) is State.RESOLVED
    assert target(State.PENDING, ev(Verdict.OK), 1) is State.INACTIVE
    assert target(State.INACTIVE, ev(Verdict.WARNING), 1) is State.WARNING
    assert target(State.WARNING, ev(Verdict.OK), 1) is State.RESOLVED
    assert target(State.RESOLVED, ev(Verdict.OK), 1) is State.RESOLVED
    assert target(State.FIRING, ev(Verdict.UNKNOWN), 1) is State.NODATA
    assert target(State.INACTIVE, ev(Verdict.UNKNOWN), 1) is State.INACTIVE
    assert target(State.NODATA, ev(Verdict.OK), 1) is State.RESOLVED
    assert target(State.FIRING, ev(Verdict.ERROR), 1) is State.ERROR


def test_unknown_never_resolves_a_firing_alert() -> None:
    for prev in State:
        assert target(prev, ev(Verdict.UNKNOWN), 1) is not State.RESOLVED or prev is State.RESOLVED


def test_advance_reports_transitions_with_the_threshold_version() -> None:
    t = threshold(**{"for": 2})
    tr1 = advance(None, ev(Verdict.BREACHED, 1), t)
    assert tr1 is not None
    assert (tr1.from_state, tr1.to_state, tr1.threshold_version) == (
        State.INACTIVE,
        State.PENDING,
        t.version,
    )
    tr2 = advance(tr1.to_state, ev(Verdict.BREACHED, 2), t)
    assert tr2 is not None and tr2.to_state is State.FIRING
    assert advance(tr2.to_state, ev(Verdict.BREACHED, 3), t) is None
    assert advance(None, ev(Verdict.OK), t) is None  # nothing to report on first sight


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(0, 1), min_size=1, max_size=10),
    need=st.integers(1, 4),
    scope=st.sampled_from(["per_model", "frontier"]),
)
def test_re_evaluating_unchanged_data_adds_no_transitions(values, need, scope) -> None:  # type: ignore[no-untyped-def]
    t = threshold(**{"for": need}, scope=scope)
    s = series(*(obs("m", v, i) for i, v in enumerate(values)))
    states: dict[str, State] = {}
    now = T0 + timedelta(days=1)
    for e in evaluate(t, s, now):
        first = advance(None, e, t)
        states[e.subject] = first.to_state if first else State.INACTIVE
    for _ in range(3):
        for e in evaluate(t, s, now):
            assert advance(states[e.subject], e, t) is None


def test_clear_at_holds_a_firing_alert_until_the_recovery_level() -> None:
    t = threshold(clear_at=0.3)  # fires at >= 0.5, warns at 0.4, clears below 0.3
    firing = State.FIRING
    assert advance(firing, Evaluation("t", "s", Verdict.WARNING, 0.45), t) is None
    assert advance(firing, Evaluation("t", "s", Verdict.OK, 0.35), t) is None
    cleared = advance(firing, Evaluation("t", "s", Verdict.OK, 0.25), t)
    assert cleared is not None and cleared.to_state is State.RESOLVED
    nodata = advance(firing, Evaluation("t", "s", Verdict.UNKNOWN), t)
    assert nodata is not None and nodata.to_state is State.NODATA  # never held on no evidence
    # without clear_at the same value resolves at once
    plain = advance(firing, Evaluation("t", "s", Verdict.OK, 0.35), threshold())
    assert plain is not None and plain.to_state is State.RESOLVED


def test_a_duration_for_fires_once_pending_that_long() -> None:
    t = threshold(**{"for": "2h"})
    breach = Evaluation("t", "s", Verdict.BREACHED, 0.9, 1)
    first = advance(None, breach, t)
    assert first is not None and first.to_state is State.PENDING
    assert advance(State.PENDING, breach, t, pending_seconds=3600) is None  # still pending
    fired = advance(State.PENDING, breach, t, pending_seconds=7200)
    assert fired is not None and fired.to_state is State.FIRING
    back = advance(State.PENDING, Evaluation("t", "s", Verdict.OK, 0.1), t, 9000)
    assert back is not None and back.to_state is State.INACTIVE  # the clock starts again


def test_keep_firing_for_holds_a_firing_alert_after_the_last_breach() -> None:
    t = threshold(keep_firing_for="1h")
    assert t.keep_firing_for == 3600
    ok = Evaluation("t", "s", Verdict.OK, 0.1)
    assert advance(State.FIRING, ok, t, None, breached_seconds_ago=600) is None
    late = advance(State.FIRING, ok, t, None, breached_seconds_ago=3600)
    assert late is not None and late.to_state is State.RESOLVED
    gone = advance(State.FIRING, Evaluation("t", "s", Verdict.UNKNOWN), t, None, 600)
    assert gone is not None and gone.to_state is State.NODATA  # no evidence is never held

"""The alert cycle matches routes, silences and inhibition rules with no transaction open: a
writer (a push and its own cycle, a new silence) commits while a cycle is matching, and the
cycle's outcome still counts every transition once, as if that writer had come first. Real
stores (SQLite file, PostgreSQL), real threads; a matcher that waits to be released stands for a
slow match (2,000 silences, a large label set)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.alerting.test_cycle import Clock, catalog, put
from tests.support.factories import threshold
from warden.alerting import actions as alerting
from warden.alerting import cycle
from warden.alerting.cycle import CycleResult, idempotency_key, run_cycle
from warden.alerting.routing import (
    DEFAULT_INHIBIT,
    InhibitSettings,
    Matches,
    Router,
    RouteSettings,
    Unprepared,
    labels,
)
from warden.core.matchers import Matchers, Silence
from warden.core.model import State
from warden.store import Store, alerts
from warden.store.schema import outbox
from warden.triggerlog.entries import verify

WAIT = 20.0  # seconds a thread may take before the test calls it blocked


class Worker(threading.Thread):
    """Runs `work` in a thread and keeps its result or its exception."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.work()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc

    def result(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive(), "still blocked"
        if self.error is not None:
            raise self.error
        return self.value


class SlowMatch:
    """Label matching that, the first time it runs in `thread`, says so and waits until the
    test releases it."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.matching = threading.Event()
        self.release = threading.Event()
        self.real = Matchers.matches

    def __call__(self, matchers: Matchers, alert: Mapping[str, str]) -> bool:
        if threading.current_thread() is self.thread and not self.matching.is_set():
            self.matching.set()
            assert self.release.wait(WAIT * 3), "never released"
        return self.real(matchers, alert)


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowMatch]:
    hook = SlowMatch()

    def matches(matchers: Matchers, alert: Mapping[str, str]) -> bool:
        return hook(matchers, alert)

    monkeypatch.setattr(Matchers, "matches", matches)
    yield hook
    hook.release.set()  # a failed test never leaves a thread waiting


def cycle_in_thread(slow: SlowMatch, work: Callable[[], CycleResult]) -> Worker:
    """Start `work` in a thread whose first match waits; return once it is matching."""
    worker = Worker(work)
    slow.thread = worker
    worker.start()
    assert slow.matching.wait(WAIT), "the cycle never matched"
    return worker


def moves(result: CycleResult) -> list[tuple[str, State, State]]:
    return [(t.subject, t.from_state, t.to_state) for _, t in result.transitions]


def test_a_push_commits_while_a_cycle_is_matching_and_each_transition_counts_once(
    store: Store, slow: SlowMatch
) -> None:
    clock = Clock()
    cat = catalog(threshold())
    router = Router([], ["hook"])
    put(store, clock, "m1", 0.9, "first")
    sweep = cycle_in_thread(slow, lambda: run_cycle(store, cat, router, clock))

    def push() -> CycleResult:  # an ingest of the same alert's series, and its own cycle
        put(store, clock, "m1", 0.95, "second")
        return run_cycle(store, cat, router, clock)

    try:
        pushed = Worker(push)
        pushed.start()
        by_push = pushed.result()  # fails when the push waits behind the matching cycle
    finally:
        slow.release.set()
    by_sweep = sweep.result()
    # The push came first: it fired the alert on the newest evidence; the sweep, evaluating
    # again under the lock after matching, found it firing already.
    assert moves(by_push) == [("m1", State.INACTIVE, State.FIRING)]
    assert by_push.transitions[0][1].evaluation.value == 0.95
    assert moves(by_sweep) == []
    assert [e.subject for e in by_sweep.evaluations] == ["m1"]
    with store.read() as conn:
        entries = list(alerts.entries(conn))
        rows = conn.execute(select(outbox.c.trigger_seq, outbox.c.idempotency_key)).all()
    firing = [e for e in entries if e.to_state == "firing"]
    assert len(firing) == 1 and verify(entries) is None
    assert rows == [(firing[0].seq, idempotency_key(firing[0].hash, "hook"))]


def test_evidence_stored_while_a_cycle_is_matching_is_what_the_cycle_applies(
    store: Store, slow: SlowMatch
) -> None:
    """A feed run stores its observations, then runs its cycle: in between, the sweep's cycle
    that had prepared `firing` (0.9) applies `warning` (0.45, the newest) instead, once."""
    clock = Clock()
    cat = catalog(threshold())  # fires at 0.5, warns at 0.4
    router = Router([], ["hook"])
    put(store, clock, "m1", 0.9, "first")
    sweep = cycle_in_thread(slow, lambda: run_cycle(store, cat, router, clock))
    stored = Worker(lambda: put(store, clock, "m1", 0.45, "second"))
    stored.start()
    try:
        stored.result()  # fails when the ingest waits behind the matching cycle
    finally:
        slow.release.set()
    result = sweep.result()
    assert moves(result) == [("m1", State.INACTIVE, State.WARNING)]
    assert result.transitions[0][1].evaluation.value == 0.45
    assert run_cycle(store, cat, router, clock).transitions == []  # the feed run's own cycle
    with store.read() as conn:
        entries = list(alerts.entries(conn))
        rows = conn.execute(select(outbox.c.trigger_seq, outbox.c.sink)).all()
    assert [(e.subject, e.to_state) for e in entries] == [("m1", "warning")]
    assert entries[0].body["delivery"]["sinks"] == ["hook"] and verify(entries) is None
    assert rows == [(entries[0].seq, "hook")]


def test_a_silence_added_while_a_cycle_is_matching_holds_its_notification_back(
    store: Store, slow: SlowMatch
) -> None:
    clock = Clock()
    cat = catalog(threshold())
    router = Router([], ["hook"])
    put(store, clock, "m1", 0.9, "a")
    put(store, clock, "m2", 0.9, "b")
    evaluating = cycle_in_thread(slow, lambda: run_cycle(store, cat, router, clock))
    matchers = Matchers(match_re={"subject": "m1|m9"})

    def add() -> tuple[int, int]:
        ends = clock() + timedelta(hours=1)
        return alerting.add_silence(store, matchers, clock(), ends, "ops", "drill", clock())

    adding = Worker(add)
    adding.start()
    try:
        silence_id, _ = adding.result()  # fails when the silence waits behind the matching
    finally:
        slow.release.set()
    result = evaluating.result()
    assert sorted(moves(result)) == [
        ("m1", State.INACTIVE, State.FIRING),
        ("m2", State.INACTIVE, State.FIRING),
    ]
    with store.read() as conn:
        entries = {e.subject: e for e in alerts.entries(conn) if e.kind == "transition"}
        sent = {r[0] for r in conn.execute(select(outbox.c.trigger_seq))}
    assert entries["m1"].body["delivery"]["silenced_by"] == [silence_id]
    assert entries["m1"].body["delivery"]["sinks"] == []
    assert entries["m2"].body["delivery"] == {
        "sinks": ["hook"],
        "routes": [0],
        "silenced_by": [],
        "inhibited_by": None,
    }
    assert sent == {entries["m2"].seq}


def test_a_cycle_that_keeps_meeting_new_silences_matches_the_last_ones_under_the_lock(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each time the cycle has matched outside the transaction, a new silence has appeared:
    after MAX_ATTEMPTS it stops retrying, and its decision still names every silence."""
    clock = Clock()
    cat = catalog(threshold())
    put(store, clock, "m1", 0.9, "a")
    added: list[int] = []
    learn = Matches.learn

    def learn_then_silence(self: Matches, *args: Any) -> None:
        learn(self, *args)  # no transaction is open here: the silence commits at once
        ends = clock() + timedelta(hours=1)
        matchers = Matchers(match={"subject": "m1"})
        sid, _ = alerting.add_silence(store, matchers, clock(), ends, "ops", "drill", clock())
        added.append(sid)

    monkeypatch.setattr(Matches, "learn", learn_then_silence)
    result = run_cycle(store, cat, Router([], ["hook"]), clock)
    assert len(added) == cycle.MAX_ATTEMPTS - 1
    assert moves(result) == [("m1", State.INACTIVE, State.FIRING)]
    with store.read() as conn:
        (entry,) = [e for e in alerts.entries(conn) if e.kind == "transition"]
        assert conn.execute(select(outbox.c.id)).all() == []
    assert entry.body["delivery"]["silenced_by"] == added


def test_a_cycle_without_notifications_evaluates_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep that changes nothing (or only what is not notified) never retries."""
    clock = Clock()
    cat = catalog(threshold(**{"for": 2}))
    put(store, clock, "m1", 0.9, "a")
    calls: list[str] = []
    real = cycle.evaluate_threshold

    def counted(t: Any, *args: Any) -> Any:
        calls.append(t.id)
        return real(t, *args)

    monkeypatch.setattr(cycle, "evaluate_threshold", counted)
    result = run_cycle(store, cat, Router([], ["hook"]), clock)
    assert moves(result) == [("m1", State.INACTIVE, State.PENDING)] and len(calls) == 1
    calls.clear()
    put(store, clock, "m1", 0.8, "b")
    result = run_cycle(store, cat, Router([], ["hook"]), clock)
    assert moves(result) == [("m1", State.PENDING, State.FIRING)] and len(calls) == 2


# The decisions the cycle looks up are the ones Router.decide has always made: a reference
# implementation of its rules (first matching route unless `continue`, silences in their order,
# the first firing alert that inhibits) against Matches, learnt ahead and looked up strictly.


def reference(
    router: Router,
    alert: Mapping[str, str],
    silences: list[Silence],
    firing: list[Mapping[str, str]],
    now: Any,
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], str | None]:
    routes = router.matching(alert)
    resolved = alert.get("state") == "resolved"
    sinks = tuple(
        dict.fromkeys(
            s
            for i in routes
            if not (resolved and not router.routes[i].send_resolved)
            for s in router.routes[i].sinks
        )
    )
    silenced = tuple(s.id for s in silences if s.active(now) and s.matchers.matches(alert))
    inhibited = None
    for rule in router.inhibit:
        if inhibited is None and rule.target.matches(alert):
            for other in firing:
                if (
                    other["threshold"] != alert["threshold"]
                    and rule.source.matches(other)
                    and all(other.get(k) == alert.get(k) for k in rule.equal)
                ):
                    inhibited = f"{other['threshold']} ({other['subject']})"
                    break
    if silenced or inhibited:
        return (), tuple(routes), silenced, inhibited
    return sinks, tuple(routes), (), None


def test_learnt_matches_decide_as_the_rules_say_and_refuse_what_they_were_not_taught() -> None:
    rng = random.Random(13)
    now = Clock()()
    ids = [
        f"{d}.b{i}.{lvl}"
        for d in ("cyber", "bio")
        for i in range(3)
        for lvl in ("high", "early_warning")
    ]
    ths = [
        threshold(
            id=i,
            domain=i.split(".")[0],
            level=i.rsplit(".", 1)[1],
            then={
                "severity": "critical" if "high" in i else "warning",
                "labels": {"team": rng.choice(["red", "blue"])},
            },
        )
        for i in ids
    ]
    router = Router(
        [
            RouteSettings.model_validate(
                {"sinks": ["pager"], "match": {"severity": "critical"}, "continue": True}
            ),
            RouteSettings.model_validate(
                {"sinks": ["chat"], "match_re": {"domain": "cyber|bio"}, "send_resolved": False}
            ),
            RouteSettings.model_validate({"sinks": ["mail"]}),
        ],
        ["pager", "chat", "mail"],
        [
            *DEFAULT_INHIBIT,
            InhibitSettings(
                source=Matchers(match={"team": "red"}),
                target=Matchers(match_re={"level": "early.*"}),
                equal=["subject"],
            ),
        ],
    )
    subjects = [f"org/m{i}" for i in range(6)]
    states = ["firing", "warning", "resolved", "nodata"]
    for _ in range(30):
        silences = [
            Silence(
                n,
                Matchers(
                    match_re={
                        "subject": rng.choice(["org/m[0-2]", ".*m5", "org/m1|org/m4"]),
                        "state": rng.choice(["firing|warning", ".*"]),
                    }
                ),
                now - timedelta(minutes=rng.choice([-5, 5])),
                now + timedelta(minutes=rng.choice([-1, 10])),
                "ops",
                "",
            )
            for n in rng.sample(range(1, 50), 4)
        ]
        firing = [labels(rng.choice(ths), rng.choice(subjects), "firing") for _ in range(8)]
        alerts_ = [
            labels(rng.choice(ths), rng.choice(subjects), rng.choice(states)) for _ in range(10)
        ]
        matches = Matches(router, strict=True)
        with pytest.raises(Unprepared):
            matches.decide(alerts_[0], matches.holds([], [], now))
        matches.learn(alerts_, silences, firing)
        holds = matches.holds(silences, firing, now)
        for alert in alerts_:
            d = matches.decide(alert, holds)
            assert (d.sinks, d.routes, d.silenced_by, d.inhibited_by) == reference(
                router, alert, silences, firing, now
            )
            assert router.decide(alert, silences, firing, now) == d
        unseen = labels(ths[0], "org/unseen", "firing")
        with pytest.raises(Unprepared):
            matches.decide(unseen, holds)
        new = Silence(
            99, Matchers(match={"subject": "org/m1"}), now, now + timedelta(hours=1), "o", ""
        )
        with pytest.raises(Unprepared):
            matches.holds([*silences, new], firing, now)
    early = labels(ths[1], "org/m0", "warning")  # an early warning: inhibition looks at firing
    matches.learn([early], [], [])
    matches.decide(early, matches.holds([], [], now))
    with pytest.raises(Unprepared):
        matches.decide(early, matches.holds([], [labels(ths[0], "org/new", "firing")], now))

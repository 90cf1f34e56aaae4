"""Repeats and escalations (alerting.actions.renotify) match routes, silences and inhibition
rules with no transaction open, as the alert cycle does: a push commits while renotify is
matching, and renotify still queues each repeat once. Real stores, real threads; a matcher that
waits to be released stands for a slow match."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.alerting import test_cycle_lock
from tests.alerting.test_cycle import Clock, catalog, put
from tests.alerting.test_cycle_lock import SlowMatch, Worker
from tests.support.factories import threshold
from warden.alerting import actions as alerting
from warden.alerting.cycle import CycleResult, run_cycle
from warden.alerting.routing import Router, RouteSettings
from warden.core.matchers import Matchers
from warden.store import Store
from warden.store.schema import outbox

WAIT = 20.0
slow = test_cycle_lock.slow  # the fixture: a matcher that waits in one thread


def test_a_push_commits_while_renotify_is_matching(store: Store, slow: SlowMatch) -> None:
    clock = Clock()
    cat = catalog(threshold())
    route = RouteSettings.model_validate(
        {"sinks": ["pager"], "repeat_interval": "1h", "match": {"subject": "m1"}}
    )
    router = Router([route], [])
    put(store, clock, "m1", 0.9, "first")
    assert [t.subject for _, t in run_cycle(store, cat, router, clock).transitions] == ["m1"]
    clock.tick(61)
    renotifying = Worker(lambda: alerting.renotify(store, cat, router, clock()))
    slow.thread = renotifying
    renotifying.start()
    assert slow.matching.wait(WAIT), "renotify never matched"

    def push() -> CycleResult:  # another model's evidence and its own cycle
        put(store, clock, "m2", 0.9, "second")
        return run_cycle(store, cat, router, clock)

    pushed = Worker(push)
    pushed.start()
    try:
        by_push = pushed.result()  # fails when the push waits behind renotify's matching
    finally:
        slow.release.set()
    assert [t.subject for _, t in by_push.transitions] == ["m2"]
    done = renotifying.result()
    assert (done.repeats, done.escalations) == (1, 0)
    with store.read() as conn:
        rows = conn.execute(select(outbox.c.sink, outbox.c.idempotency_key)).all()
    # m1's firing and its one repeat reach the pager; m2's firing matches no route.
    assert [sink for sink, _ in rows] == ["pager", "pager"]
    assert len({key for _, key in rows}) == 2
    assert alerting.renotify(store, cat, router, clock()).repeats == 0  # not again so soon


def test_a_silence_added_while_renotify_is_matching_stops_the_repeat(
    store: Store, slow: SlowMatch
) -> None:
    clock = Clock()
    cat = catalog(threshold())
    route = RouteSettings.model_validate({"sinks": ["pager"], "repeat_interval": "1h"})
    router = Router([route], [])
    put(store, clock, "m1", 0.9, "first")
    run_cycle(store, cat, router, clock)
    clock.tick(61)
    renotifying = Worker(lambda: alerting.renotify(store, cat, router, clock()))
    slow.thread = renotifying
    renotifying.start()
    assert slow.matching.wait(WAIT), "renotify never matched"
    ends = clock() + timedelta(hours=2)
    adding = Worker(
        lambda: alerting.add_silence(
            store, Matchers(match={"subject": "m1"}), clock(), ends, "ops", "drill", clock()
        )
    )
    adding.start()
    try:
        adding.result()  # fails when the silence waits behind renotify's matching
    finally:
        slow.release.set()
    # The silence came first: renotify, matching it on its next attempt, repeats nothing.
    assert renotifying.result().repeats == 0

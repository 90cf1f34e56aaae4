"""Dispatch to real sinks: a loopback webhook receiver and a log file."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.factories import T0, threshold
from tests.support.receiver import Receiver, receiver
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog
from warden.core.model import Observation
from warden.delivery.dispatch import Dispatcher, backoff_seconds
from warden.delivery.settings import DispatchSettings
from warden.delivery.sinks.log import LogSink
from warden.delivery.sinks.webhook import WebhookSink
from warden.store import Store
from warden.store import alerts as alert_rows
from warden.store import observations as obs_rows
from warden.store import outbox as outbox_rows
from warden.store.schema import deliveries, outbox


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def fire(store: Store, clock: Clock, sinks: list[str], subjects: int = 1) -> None:
    """Make `subjects` firing triggers with outbox rows for `sinks`."""
    rows = [
        Observation(f"model-{i}", "bench", "acc", 0.9, clock(), f"k{i}", "src", "0" * 64)
        for i in range(subjects)
    ]
    cat = Catalog((threshold(),))
    with store.write() as conn:
        # Watched before they arrive: these observations are news, not history.
        alert_rows.watch_starts(conn, [t.id for t in cat.thresholds], clock())
        obs_rows.insert_observations(conn, "f", rows, clock())
    run_cycle(store, cat, sinks, clock)


def attempts(store: Store) -> list[tuple[str, int, str]]:
    with store.read() as conn:
        q = select(deliveries.c.sink, deliveries.c.attempt, deliveries.c.outcome)
        return [tuple(r) for r in conn.execute(q.order_by(deliveries.c.id))]  # type: ignore[misc]


def members(bodies: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    """The alerts of the notifications received: a grouped one lists them in `alerts`."""
    return [a for b in bodies for a in b.get("alerts", [{**b["trigger"], **b}])]


def settings(**kw: float) -> DispatchSettings:
    return DispatchSettings(**{"backoff_initial_seconds": 1, "max_attempts": 3, **kw})


def test_webhook_gets_signed_payload_with_idempotency_key(store: Store, hook: Receiver) -> None:
    clock = Clock()
    fire(store, clock, ["hook"])
    sink = WebhookSink("hook", {"url": hook.url, "secret": "s3cret"})
    Dispatcher(store, {"hook": sink}, settings(), clock).run_once()
    (req,) = hook.wait_for(1)
    expected = "sha256=" + hmac.new(b"s3cret", req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Warden-Signature"] == expected
    body = req.json()
    with store.read() as conn:
        key = conn.execute(select(outbox.c.idempotency_key)).scalar_one()
    assert req.headers["Idempotency-Key"] == key == body["idempotency_key"]
    assert body["status"] == "firing" and body["version"] == 1
    assert body["trigger"]["threshold"] == "test.bench.high"
    assert body["trigger"]["mitigations"] == ["Pause."]
    assert body["trigger"]["evidence"][0]["model"] == "model-0"
    assert "[FIRING] test.bench.high (model-0)" in body["summary"]
    assert attempts(store) == [("hook", 1, "delivered")]


def test_retries_with_backoff_then_delivers(store: Store, hook: Receiver) -> None:
    clock = Clock()
    fire(store, clock, ["hook"])
    hook.statuses = [503, 429]
    d = Dispatcher(
        store, {"hook": WebhookSink("hook", {"url": hook.url})}, settings(), clock, random.Random(1)
    )
    assert d.run_once() == 1
    assert d.run_once() == 0  # not due yet
    clock.now += timedelta(seconds=1.01)
    assert d.run_once() == 1
    clock.now += timedelta(seconds=2.01)
    assert d.run_once() == 1
    reqs = hook.wait_for(3)
    assert len({r.headers["Idempotency-Key"] for r in reqs}) == 1
    assert attempts(store) == [("hook", 1, "retry"), ("hook", 2, "retry"), ("hook", 3, "delivered")]


def test_permanent_failure_stops_at_once(store: Store, hook: Receiver) -> None:
    clock = Clock()
    fire(store, clock, ["hook"])
    hook.statuses = [404]
    d = Dispatcher(store, {"hook": WebhookSink("hook", {"url": hook.url})}, settings(), clock)
    d.run_once()
    clock.now += timedelta(hours=1)
    assert d.run_once() == 0
    assert attempts(store) == [("hook", 1, "failed")]
    with store.read() as conn:
        status, error = conn.execute(select(outbox.c.status, outbox.c.last_error)).one()
    assert status == "failed" and "HTTP 404" in error


def test_gives_up_after_max_attempts_on_connection_errors(store: Store) -> None:
    clock = Clock()
    fire(store, clock, ["hook"])
    dead = WebhookSink("hook", {"url": "http://127.0.0.1:9/", "timeout_seconds": 2})
    d = Dispatcher(store, {"hook": dead}, settings(), clock)
    for _ in range(5):
        d.run_once()
        clock.now += timedelta(minutes=10)
    assert [o for *_, o in attempts(store)] == ["retry", "retry", "failed"]


def test_a_crashed_worker_s_claim_expires_and_the_row_is_delivered_with_the_same_key(
    store: Store, hook: Receiver
) -> None:
    clock = Clock()
    fire(store, clock, ["hook"])
    with store.write() as conn:  # a worker claims, then dies before delivering
        (lost,) = outbox_rows.claim(conn, clock(), 60, 10)
    d = Dispatcher(store, {"hook": WebhookSink("hook", {"url": hook.url})}, settings(), clock)
    assert d.run_once() == 0  # still leased
    clock.now += timedelta(seconds=61)
    assert d.run_once() == 1
    (req,) = hook.wait_for(1)
    assert req.headers["Idempotency-Key"] == lost.idempotency_key


def test_two_workers_never_send_one_row_twice(store: Store, hook: Receiver) -> None:
    clock = Clock()
    fire(store, clock, ["hook"], subjects=40)
    sink = WebhookSink("hook", {"url": hook.url})
    workers = [Dispatcher(store, {"hook": sink}, settings(), clock) for _ in range(2)]

    def drain(d: Dispatcher) -> None:
        while d.run_once(limit=3):
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for t in threads:
        assert not t.is_alive()
    keys = [a["idempotency_key"] for a in members([r.json() for r in hook.requests])]
    assert len(keys) == 40 == len(set(keys))
    with store.read() as conn:
        assert {r[0] for r in conn.execute(select(outbox.c.status))} == {"delivered"}


def test_removed_sink_fails_its_rows_permanently(store: Store) -> None:
    clock = Clock()
    fire(store, clock, ["gone"])
    Dispatcher(store, {}, settings(), clock).run_once()
    assert attempts(store) == [("gone", 1, "failed")]


def test_log_sink_appends_json_lines(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    fire(store, clock, ["file"], subjects=2)
    path = tmp_path / "alerts" / "alerts.jsonl"
    Dispatcher(store, {"file": LogSink("file", {"path": str(path)})}, settings(), clock).run_once()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["group"] == {"size": 2, "history": False}
    assert sorted(x["subject"] for x in members(lines)) == ["model-0", "model-1"]


def test_backoff_grows_is_capped_and_jittered() -> None:
    s = DispatchSettings(backoff_initial_seconds=1, backoff_max_seconds=30)
    rng = random.Random(7)
    for attempt, full in [(1, 1), (2, 2), (3, 4), (6, 30), (20, 30)]:
        d = backoff_seconds(attempt, s, rng)
        assert full / 2 <= d <= full


def test_a_redirect_is_a_permanent_failure(store: Store, hook: Receiver) -> None:
    clock = Clock()
    fire(store, clock, ["hook"])
    hook.statuses = [302]
    Dispatcher(
        store, {"hook": WebhookSink("hook", {"url": hook.url})}, settings(), clock
    ).run_once()
    assert attempts(store) == [("hook", 1, "failed")]


def test_the_payload_carries_what_the_threshold_demands(store: Store, hook: Receiver) -> None:
    clock = Clock()
    rows = [Observation("m", "bench", "acc", 0.9, clock(), "k", "src", "0" * 64)]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", rows, clock())
    t = threshold(
        then={
            "severity": "critical",
            "mitigations": ["Pause."],
            "safeguards": ["ASL-3"],
            "runbook": "https://example.org/runbook",
            "annotations": {"owner": "red"},
        }
    )
    run_cycle(store, Catalog((t,)), ["hook"], clock)
    Dispatcher(
        store, {"hook": WebhookSink("hook", {"url": hook.url})}, settings(), clock
    ).run_once()
    trigger = hook.wait_for(1)[0].json()["trigger"]
    assert (
        trigger["safeguards"] == ["ASL-3"] and trigger["runbook"] == "https://example.org/runbook"
    )
    assert trigger["annotations"] == {"owner": "red"} and trigger["mitigations"] == ["Pause."]


def test_a_hanging_sink_never_delays_the_others(store: Store, hook: Receiver) -> None:
    import socket
    import time

    from warden.core.clock import system_clock

    silent = socket.socket()  # accepts connections (the backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        hang_url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        sinks = {
            "stuck": WebhookSink("stuck", {"url": hang_url, "timeout_seconds": 30}),
            "hook": WebhookSink("hook", {"url": hook.url}),
        }
        fire(store, system_clock, ["stuck", "hook"], subjects=3)
        dispatcher = Dispatcher(store, sinks, settings(), system_clock)
        started = time.perf_counter()
        dispatcher.start()
        try:
            received = hook.wait_for(1, timeout=10)  # the three alerts, as one group
        finally:
            # Unblock the stuck worker (its connection is reset) rather than wait 30 s for its
            # timeout, then wait for every worker: none may write to the store after the test
            # (on PostgreSQL a late write deadlocks with the fixture dropping the schema).
            silent.close()
            dispatcher.stop(timeout=20)
            assert not any(t.is_alive() for t in dispatcher._threads)
        assert received[-1].at - started < 5.0  # far below the stuck sink's 30 s timeout
        assert len(members([r.json() for r in received])) == 3
    finally:
        silent.close()

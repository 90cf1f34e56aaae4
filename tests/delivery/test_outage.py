"""A sink that is down for 30 minutes of simulated time (answering 500, closing the connection,
or hanging past its timeout) while alerts keep changing, then recovers: every notification is
delivered, each alert's notifications arrive in the order of its transitions, and the
receiver's final view of every alert is the alert's state in the store. Time is an injected
clock, moved in steps; only the receiver and the database are real."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.factories import T0, threshold
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog
from warden.core.model import Observation
from warden.delivery.dispatch import Dispatcher, retry_deliveries
from warden.delivery.settings import DispatchSettings
from warden.delivery.sinks.webhook import WebhookSink
from warden.store import Store
from warden.store import observations as obs_rows
from warden.store.schema import alert_states, outbox

STEP = timedelta(seconds=20)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Flaky:
    """A webhook receiver whose answer is scripted: `ok`, `500`, `close` (drops the connection
    without an answer) or `hang` (answers only after the sender's timeout)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.got: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                mode = flaky.mode
                if mode == "close":
                    self.close_connection = True
                    return
                if mode == "hang":
                    time.sleep(0.3)
                if mode == "500":
                    self.send_response(500)
                else:
                    if mode == "ok":
                        with flaky.lock:
                            flaky.got.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def flaky() -> Iterator[Flaky]:
    f = Flaky()
    thread = threading.Thread(target=f.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f
    finally:
        f.server.shutdown()
        f.server.server_close()


def observe(store: Store, clock: Clock, values: dict[str, float], n: int) -> None:
    rows = [
        Observation(m, "bench", "acc", v, clock(), f"{m}-{n}", "src", "0" * 64)
        for m, v in values.items()
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", rows, clock())


def drain(d: Dispatcher) -> None:
    while d.run_once():
        pass


@pytest.mark.parametrize("outage", ["500", "close", "hang"])
def test_a_30_minute_outage_loses_nothing_and_keeps_each_alert_in_order(
    store: Store, flaky: Flaky, outage: str
) -> None:
    clock = Clock()
    catalog = Catalog((threshold(warn_at=None),))
    models = [f"model-{i}" for i in range(3 if outage == "hang" else 6)]
    sink = WebhookSink("hook", {"url": flaky.url, "timeout_seconds": 0.15})
    dispatcher = Dispatcher(store, {"hook": sink}, DispatchSettings(), clock)

    flaky.mode = outage
    changes = 0
    for step in range(int(timedelta(minutes=30) / STEP)):
        if step % 9 == 0:  # every 3 minutes each alert flips: firing, resolved, firing, ...
            value = 0.9 if changes % 2 == 0 else 0.1
            observe(store, clock, dict.fromkeys(models, value), changes)
            run_cycle(store, catalog, ["hook"], clock)
            changes += 1
        drain(dispatcher)
        clock.now += STEP
    assert flaky.got == [], "the sink was down"
    with store.read() as conn:
        assert {r[0] for r in conn.execute(select(outbox.c.status))} == {"pending"}

    flaky.mode = "ok"  # recovery: the backoff is capped at 5 minutes
    for _ in range(int(timedelta(minutes=6) / STEP)):
        drain(dispatcher)
        clock.now += STEP
    drain(dispatcher)

    with store.read() as conn:
        statuses = [r[0] for r in conn.execute(select(outbox.c.status))]
        states = {
            (t, s): state
            for t, s, state in conn.execute(
                select(alert_states.c.threshold, alert_states.c.subject, alert_states.c.state)
            )
        }
    assert statuses and set(statuses) == {"delivered"}
    # Each notification lists its alerts (a group, made by one cycle or one backlog) in turn.
    got = [a for g in flaky.got for a in g.get("alerts", [{**g["trigger"], **g}])]
    assert len(got) == len(statuses) == changes * len(models)
    keys = [g["idempotency_key"] for g in got]
    assert len(set(keys)) == len(keys)
    seen: dict[tuple[str, str], list[int]] = {}
    final: dict[tuple[str, str], str] = {}
    for g in got:
        alert = (g["threshold"], g["subject"])
        seen.setdefault(alert, []).append(g["seq"])
        final[alert] = g["to"]
    for alert, seqs in seen.items():
        assert seqs == sorted(seqs), (alert, seqs)
    assert final == states


def test_a_notification_fails_only_once_its_retry_for_is_spent(store: Store, flaky: Flaky) -> None:
    clock = Clock()
    catalog = Catalog((threshold(warn_at=None),))
    settings = DispatchSettings(retry_for="1h", backoff_max_seconds="5m")
    dispatcher = Dispatcher(
        store,
        {"hook": WebhookSink("hook", {"url": flaky.url})},
        settings,
        clock,
    )
    flaky.mode = "500"
    observe(store, clock, {"m": 0.9}, 0)
    run_cycle(store, catalog, ["hook"], clock)
    for _ in range(int(timedelta(minutes=59) / STEP)):
        drain(dispatcher)
        clock.now += STEP
    with store.read() as conn:
        assert [r[0] for r in conn.execute(select(outbox.c.status))] == ["pending"]
    for _ in range(int(timedelta(minutes=6) / STEP)):
        drain(dispatcher)
        clock.now += STEP
    with store.read() as conn:
        status, error = conn.execute(select(outbox.c.status, outbox.c.last_error)).one()
    assert status == "failed" and "gave up after" in error and "HTTP 500" in error

    # Re-driven after the sink recovered: delivered.
    flaky.mode = "ok"
    done = retry_deliveries(store, clock(), ["hook"], failed=True)
    assert (done.redriven, done.superseded) == (1, 0)
    drain(dispatcher)
    assert [g["status"] for g in flaky.got] == ["firing"]
    assert "alerts" not in flaky.got[0]  # a lone alert is a notification of its own


def test_a_failed_notification_behind_a_newer_state_is_superseded_not_resent(
    store: Store, flaky: Flaky
) -> None:
    clock = Clock()
    catalog = Catalog((threshold(warn_at=None),))
    dispatcher = Dispatcher(
        store,
        {"hook": WebhookSink("hook", {"url": flaky.url})},
        DispatchSettings(),
        clock,
    )
    flaky.mode = "close"
    observe(store, clock, {"m": 0.9}, 0)
    run_cycle(store, catalog, ["hook"], clock)
    with store.write() as conn:  # the firing notification failed (as a sink's 4xx would make it)
        conn.execute(outbox.update().values(status="failed"))
    flaky.mode = "ok"
    clock.now += STEP
    observe(store, clock, {"m": 0.1}, 1)
    run_cycle(store, catalog, ["hook"], clock)
    drain(dispatcher)
    assert [g["status"] for g in flaky.got] == ["resolved"]
    done = retry_deliveries(store, clock(), None, failed=True)
    assert (done.redriven, done.superseded) == (0, 1)
    drain(dispatcher)
    assert [g["status"] for g in flaky.got] == ["resolved"]  # the receiver's view stays true

"""After a crash: a restarted daemon takes back the leases its previous process held at once
(the rows are re-sent under the same keys, not after the 60 s lease), and feed runs left
`running` are marked `interrupted` and say nothing of their feed's health."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.support.factories import T0, threshold
from tests.support.receiver import Receiver, receiver
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog
from warden.core.model import Observation
from warden.delivery.dispatch import Dispatcher
from warden.delivery.settings import DispatchSettings
from warden.delivery.sinks.webhook import WebhookSink
from warden.store import Store, stats
from warden.store import feeds as feed_rows
from warden.store import observations as obs_rows
from warden.store import outbox as outbox_rows
from warden.store.schema import feed_runs, outbox


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def fired(store: Store) -> None:
    o = Observation("m", "bench", "acc", 0.9, T0, "k", "s", "0" * 64)
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [o], T0)
    run_cycle(store, Catalog((threshold(),)), ["hook"], lambda: T0)


def test_a_restarted_daemon_takes_back_its_own_leases_at_once(store: Store, hook: Receiver) -> None:
    fired(store)
    with store.write() as conn:  # the previous process claimed the row, then was killed
        (lost,) = outbox_rows.claim(conn, T0, 60, 10, owner="host-a")
    other = Dispatcher(store, {"hook": WebhookSink("hook", {"url": hook.url})},
                       DispatchSettings(), lambda: T0, owner="host-b")  # fmt: skip
    assert other.run_once() == 0  # another host's lease is waited out
    restarted = Dispatcher(store, {"hook": WebhookSink("hook", {"url": hook.url})},
                           DispatchSettings(), lambda: T0, owner="host-a")  # fmt: skip
    restarted.start()
    try:
        (got,) = hook.wait_for(1)
    finally:
        restarted.stop()
    assert got.headers["Idempotency-Key"] == lost.idempotency_key
    with store.read() as conn:
        assert conn.execute(select(outbox.c.status)).scalar_one() == "delivered"


def test_runs_left_running_are_interrupted_and_do_not_count_as_the_feed_s_last_run(
    store: Store,
) -> None:
    with store.write() as conn:
        ok = feed_rows.start_run(conn, "lab", "csv", T0)
        feed_rows.finish_run(conn, ok, "lab", T0, feed_rows.RunCounts(), None)
        feed_rows.start_run(conn, "lab", "csv", T0)  # the daemon died during this one
    with store.write() as conn:
        assert feed_rows.interrupt_running(conn, T0) == 1
        assert feed_rows.interrupt_running(conn, T0) == 0
    with store.read() as conn:
        statuses = [r[0] for r in conn.execute(select(feed_runs.c.status).order_by(feed_runs.c.id))]
        assert statuses == ["ok", "interrupted"]
        assert [(f, s) for f, s, *_ in stats.last_runs(conn)] == [("lab", "ok")]

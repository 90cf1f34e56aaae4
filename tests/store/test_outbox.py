"""Outbox claims and outcomes in bulk (warden/store/outbox.py): one claim statement for many rows
that passes over rows another worker is claiming instead of waiting for them, and the outcomes of
a flush recorded together, each row moved on only while its claim is still held."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support.factories import T0, threshold
from warden.alerting.cycle import run_cycle
from warden.alerting.routing import Router, RouteSettings
from warden.catalog.thresholds import Catalog
from warden.core.model import Observation
from warden.store import Store
from warden.store import observations as obs_rows
from warden.store import outbox as outbox_rows
from warden.store.schema import deliveries, outbox


def fired(store: Store, subjects: int) -> None:
    """`subjects` alerts firing, each with an outbox row for sink `hook` (its own notification:
    grouped by subject)."""
    rows = [
        Observation(f"m{i}", "bench", "acc", 0.9, T0, f"k{i}", "s", "0" * 64)
        for i in range(subjects)
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", rows, T0)
    route = RouteSettings(sinks=["hook"], group_by=["subject"], history="each")
    run_cycle(store, Catalog((threshold(),)), Router([route], ["hook"]), lambda: T0)


def test_a_claim_passes_over_rows_another_worker_is_claiming(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: one claim never meets another's")
    fired(store, 4)
    with store.engine.connect() as first, first.begin():
        mine = outbox_rows.claim(first, T0, 60, 2, owner="a")  # not committed yet
        with store.write() as second:
            # Waiting for the first worker's rows would run into this; passing them over not.
            second.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            theirs = outbox_rows.claim(second, T0, 60, 10, owner="b")
    assert len(mine) == len(theirs) == 2
    assert not {c.id for c in mine} & {c.id for c in theirs}
    with store.read() as conn:
        owners = [r[0] for r in conn.execute(select(outbox.c.claim_owner).order_by(outbox.c.id))]
    assert owners == ["a", "a", "b", "b"]


def test_a_claim_takes_only_rows_still_due_and_returns_them_in_queue_order(store: Store) -> None:
    fired(store, 3)
    with store.write() as conn:
        first = outbox_rows.claim(conn, T0, 60, 1)
        rest = outbox_rows.claim(conn, T0, 60, 10)  # the first row is leased: not due
        assert outbox_rows.claim(conn, T0, 60, 10) == []
    assert len(first) == 1 and len(rest) == 2
    assert [c.id for c in first + rest] == sorted(c.id for c in first + rest)
    assert len({c.claim_token for c in rest}) == 1 != len({first[0].claim_token, *rest})


def test_the_outcomes_of_a_flush_are_recorded_together_and_only_held_claims_move_on(
    store: Store,
) -> None:
    fired(store, 3)
    with store.write() as conn:
        one, two = outbox_rows.claim(conn, T0, 600, 2)
        (three,) = outbox_rows.claim(conn, T0, 60, 10)
    later = T0 + timedelta(seconds=61)
    with store.write() as conn:  # the third row's lease ran out: another worker took it
        (taken,) = outbox_rows.claim(conn, later, 60, 10)
    retry_at = later + timedelta(seconds=5)
    attempts = [
        outbox_rows.Attempt(one, "delivered", None, T0, 0.1),
        outbox_rows.Attempt(two, "retry", "HTTP 503 from the receiver", T0, 0.2, retry_at),
        outbox_rows.Attempt(three, "delivered", None, T0, 0.3),
    ]
    with store.write() as conn:
        assert outbox_rows.finish_all(conn, attempts, later) == [True, True, False]
    with store.read() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                select(outbox.c.id, outbox.c.status, outbox.c.attempts, outbox.c.claim_token,
                       outbox.c.next_attempt_at, outbox.c.finished_at, outbox.c.last_error)
            )
        }  # fmt: skip
        recorded = conn.execute(
            select(deliveries.c.outbox_id, deliveries.c.attempt, deliveries.c.outcome).order_by(
                deliveries.c.id
            )
        ).all()
    assert (rows[one.id].status, rows[one.id].finished_at, rows[one.id].attempts) == (
        "delivered", later, 1
    )  # fmt: skip
    assert rows[one.id].claim_token is None
    assert (rows[two.id].status, rows[two.id].next_attempt_at) == ("pending", retry_at)
    assert rows[two.id].last_error == "HTTP 503 from the receiver"
    assert rows[two.id].claim_token is None and rows[two.id].attempts == 1
    # The lost claim's attempt is recorded, but the row stays with the worker that holds it.
    assert (rows[three.id].status, rows[three.id].claim_token) == ("pending", taken.claim_token)
    assert rows[three.id].attempts == 0
    assert [tuple(r) for r in recorded] == [
        (one.id, 1, "delivered"), (two.id, 1, "retry"), (three.id, 1, "delivered")
    ]  # fmt: skip

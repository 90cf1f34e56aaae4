"""The leadership epoch recorded on every trigger-log entry and feed run (issue 19): a leader's
writes carry its fencing token, the next leader's the higher one, a follower's push the epoch in
force under the chain lock; SQLite's rows carry none, and rows written before the column existed
stay without one and still verify. Real PostgreSQL (WARDEN_TEST_DATABASE_URL) and SQLite files.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from alembic import command
from click.testing import CliRunner
from sqlalchemy import insert, select, text

from tests.support.factories import T0, threshold
from warden.alerting.actions import acknowledge
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog
from warden.core.model import Observation
from warden.interfaces.cli.main import main
from warden.store import Store, merkle
from warden.store import alerts as alert_rows
from warden.store import feeds as feed_rows
from warden.store import observations as obs_rows
from warden.store.engine import alembic_config
from warden.store.leader import Leadership, fenced
from warden.store.schema import feed_runs, triggers
from warden.triggerlog.entries import action_entry, verify

CATALOG = Catalog((threshold(**{"for": 1}),))
# Its first transition (to pending) notifies nobody: the cycle decides it in one attempt, in
# the transaction that waited for the chain lock (a notified one is matched and tried again).
PENDING = Catalog((threshold(**{"for": 2}),))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


def member(store: Store, name: str, clock: Clock) -> Leadership:
    """A replica's side of the election, stepped by the test. A wide failover window: its lock
    session, which no thread pings here, must not end by itself (idle for half the window) on
    a loaded machine; sessions are ended on purpose (`end_session`)."""
    return Leadership(store, name, 60.0, lambda _epoch: None, lambda: None, clock)


def push(store: Store, clock: Clock, subject: str, value: float) -> list[int]:
    """Store one observation and evaluate it, as a pushed observation is: the seqs written."""
    clock.now += timedelta(minutes=1)
    key = f"{subject}-{clock.now.isoformat()}"
    o = Observation(subject, "bench", "acc", value, clock.now, key, "test", "0" * 64)
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [o], clock.now)
    return [seq for seq, _ in run_cycle(store, CATALOG, ["log"], clock).transitions]


def epochs(store: Store, table=triggers) -> dict[int, int | None]:  # type: ignore[no-untyped-def]
    key = table.c.seq if table is triggers else table.c.id
    with store.read() as conn:
        return {int(k): e for k, e in conn.execute(select(key, table.c.epoch).order_by(key))}


def end_session(store: Store, leader: Leadership) -> None:
    """The leader's lock session ends (a dead or partitioned leader). Waits (up to 10 s) until
    its backend has exited, and its advisory lock with it: without the timeout argument
    (PostgreSQL 14) the call only signals it, and the next poll may still find the lock held."""
    assert leader._conn is not None
    pid = leader._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with store.write() as conn:
        gone = conn.execute(text("SELECT pg_terminate_backend(:p, 10000)"), {"p": pid})
        assert gone.scalar_one() is True


def test_a_leaders_entries_and_feed_runs_carry_its_epoch_and_after_failover_the_higher_one(
    pg_store: Store,
) -> None:
    clock = Clock()
    a, b = member(pg_store, "a:1", clock), member(pg_store, "b:1", clock)
    try:
        a.step()
        b.step()
        fence_a = a.fence()
        assert fence_a is not None and fence_a[0] == 1 and b.fence() is None
        with fenced(*fence_a):  # a leader-only job: a feed run and the sweep
            with pg_store.write() as conn:
                run_a = feed_rows.start_run(conn, "lab", "inspect_logs", clock())
            first = push(pg_store, clock, "m", 0.9)
        assert first
        end_session(pg_store, a)
        b.step()
        a.step()
        fence_b = b.fence()
        assert fence_b is not None and fence_b[0] == 2 and a.fence() is None
        with fenced(*fence_b):
            with pg_store.write() as conn:
                run_b = feed_rows.start_run(conn, "lab", "inspect_logs", clock())
            second = push(pg_store, clock, "m", 0.1)  # firing -> resolved, under b
        assert second
    finally:
        a.stop()
        b.stop()
    recorded = epochs(pg_store)
    assert {recorded[s] for s in first} == {1}
    assert {recorded[s] for s in second} == {2}
    assert epochs(pg_store, feed_runs) == {run_a: 1, run_b: 2}
    with pg_store.read() as conn:
        entries = list(alert_rows.entries(conn))
    assert [e.epoch for e in entries] == list(recorded.values())  # read back as written
    assert verify(entries) is None


def test_a_push_evaluated_on_a_follower_records_the_epoch_in_force(pg_store: Store) -> None:
    clock = Clock()
    leader = member(pg_store, "a:1", clock)
    try:
        leader.step()
        # Not fenced: pushes, acknowledgements and dispatch run on any replica.
        seqs = push(pg_store, clock, "m", 0.9)
        ack = acknowledge(pg_store, "test.bench.high", "m", "alice", "on it", clock())
        with pg_store.write() as conn:  # another replica takes over
            conn.execute(text("UPDATE leadership SET epoch = epoch + 1"))
        later = push(pg_store, clock, "m", 0.1)
    finally:
        leader.stop()
    recorded = epochs(pg_store)
    assert [recorded[s] for s in seqs] == [1] * len(seqs) and seqs
    assert recorded[ack] == 1
    assert [recorded[s] for s in later] == [2] * len(later) and later


def test_a_push_that_waited_for_the_chain_lock_through_a_takeover_records_the_new_epoch(
    pg_store: Store,
) -> None:
    """The epoch is read under the lock that orders the chain, not before it: whatever waited
    for the lock while a new leader took over is recorded under the new leader, so epochs never
    go down along the log."""
    clock = Clock()
    with pg_store.write() as conn:
        conn.execute(text("UPDATE leadership SET epoch = 4"))
    o = Observation("m", "bench", "acc", 0.9, T0, "k", "test", "0" * 64)
    with pg_store.write() as conn:
        obs_rows.insert_observations(conn, "f", [o], T0)
    done: list[list[int]] = []
    with pg_store.write() as holder:
        alert_rows.lock(holder)  # another appender holds the chain
        worker = threading.Thread(
            target=lambda: done.append(
                [s for s, _ in run_cycle(pg_store, PENDING, ["log"], clock).transitions]
            )
        )
        worker.start()
        _wait_for_a_lock_waiter(pg_store)
        with pg_store.write() as conn:  # the takeover commits while the push waits
            conn.execute(text("UPDATE leadership SET epoch = 5"))
    worker.join(timeout=30)
    (seqs,) = done
    assert seqs and {epochs(pg_store)[s] for s in seqs} == {5}


def _wait_for_a_lock_waiter(store: Store) -> None:
    """Until a session waits for an advisory lock (the push, blocked on the chain lock)."""
    deadline = time.monotonic() + 30
    q = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    while time.monotonic() < deadline:
        with store.read() as conn:
            if conn.execute(q).scalar_one():
                return
        time.sleep(0.01)
    raise AssertionError("the push never waited for the chain lock")


def test_sqlite_entries_and_feed_runs_carry_no_epoch(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.upgrade()
    clock = Clock()
    try:
        with store.write() as conn:
            run = feed_rows.start_run(conn, "lab", "inspect_logs", clock())
        seqs = push(store, clock, "m", 0.9)
        acknowledge(store, "test.bench.high", "m", "alice", "on it", clock())
        assert seqs
        assert set(epochs(store).values()) == {None}
        assert epochs(store, feed_runs) == {run: None}
    finally:
        store.dispose()


def test_the_upgrade_leaves_rows_written_before_it_without_an_epoch_and_they_verify(
    db_url: str, tmp_path: Path
) -> None:
    store = Store(db_url)
    try:
        command.upgrade(alembic_config(store.engine), "0014")
        old = []
        head = (0, "0" * 64)
        for n in range(3):
            entry = action_entry(head, T0, "ack", {"actor": "alice", "n": n}, subject="m")
            old.append(entry)
            head = (entry.seq, entry.hash)
        with store.write() as conn:  # as warden wrote them before the epoch was kept
            fields = ("seq", "at", "threshold", "threshold_version", "subject", "from_state")
            fields += ("to_state", "content", "prev_hash", "hash", "kind")
            rows = [{f: getattr(e, f) for f in fields} for e in old]
            conn.execute(insert(triggers), rows)
            merkle.append(conn, old)
            conn.execute(insert(feed_runs).values(feed="lab", started_at=T0, status="ok"))
        store.upgrade()
        assert set(epochs(store).values()) == {None}
        assert set(epochs(store, feed_runs).values()) == {None}
        clock = Clock()
        new = push(store, clock, "m", 0.9)
        recorded = epochs(store)
        # PostgreSQL before any replica led: epoch 0; SQLite: none.
        expected = 0 if store.dialect == "postgresql" else None
        assert [recorded[s] for s in new] == [expected] * len(new) and new
    finally:
        store.dispose()
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: {db_url!r}\n")
    r = CliRunner().invoke(main, ["log", "verify", "--config", str(config)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"ok: {3 + len(new)} entries verified")

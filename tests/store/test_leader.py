"""warden/store/leader.py: the election by advisory lock, the epoch, the fence (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from warden.store import Store
from warden.store import feeds as feed_rows
from warden.store.leader import Fenced, Leadership, current_epoch, fenced, list_replicas

AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


class Events:
    def __init__(self) -> None:
        self.elected: list[int] = []
        self.lost = 0

    def member(self, store: Store, name: str) -> Leadership:
        return Leadership(store, name, 3.0, self.elected.append, self._lost, lambda: AT)

    def _lost(self) -> None:
        self.lost += 1


def test_one_leader_an_epoch_each_and_a_takeover_when_its_session_ends(pg_store: Store) -> None:
    a_events, b_events = Events(), Events()
    a, b = a_events.member(pg_store, "a:1"), b_events.member(pg_store, "b:1")
    try:
        a.step()
        b.step()
        assert (a.epoch, b.epoch) == (1, None) and a_events.elected == [1]
        with pg_store.read() as conn:
            assert current_epoch(conn) == (1, "a:1")
            roles = {r.id: r.leader_epoch for r in list_replicas(conn)}
        assert roles == {"a:1": 1, "b:1": None}
        b.step()
        assert b.epoch is None  # still held
        # The leader's session ends (a dead or partitioned leader): the lock goes with it.
        assert a._conn is not None
        pid = a._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with pg_store.write() as conn:
            # With a timeout, terminate waits for the backend to exit (and free the lock);
            # without one it only signals it, and b could still find the lock held.
            conn.execute(text("SELECT pg_terminate_backend(:p, 10000)"), {"p": pid})
        b.step()
        assert b.epoch == 2 and b_events.elected == [2]
        a.step()  # the ex-leader notices, stops, and does not take the lock back
        assert a.epoch is None and a_events.lost == 1
        with pg_store.read() as conn:
            assert current_epoch(conn) == (2, "b:1")
    finally:
        a.stop()
        b.stop()
    with pg_store.read() as conn:
        assert list_replicas(conn) == []  # stopped replicas leave the list


def test_a_write_under_an_old_epoch_fails_and_writes_nothing(pg_store: Store) -> None:
    events = Events()
    a = events.member(pg_store, "a:1")
    try:
        a.step()
        fence = a.fence()
        assert fence == (1, 1.5)
        with fenced(*fence), pg_store.write() as conn:  # the current epoch: writes
            feed_rows.start_run(conn, "lab", "inspect_logs", AT)
        with pg_store.write() as conn:  # another replica's increment
            conn.execute(text("UPDATE leadership SET epoch = epoch + 1"))
        late = pytest.raises(Fenced, match="under epoch 1, and the store's epoch is now 2")
        with late, fenced(*fence), pg_store.write() as conn:
            feed_rows.start_run(conn, "late", "inspect_logs", AT)
        with pg_store.read() as conn:
            feeds = {r[0] for r in conn.execute(text("SELECT feed FROM feed_runs"))}
        assert feeds == {"lab"}
        # Reads and writes outside a leader-only job are not fenced.
        with pg_store.write() as conn:
            feed_rows.start_run(conn, "push", "inspect_logs", AT)
    finally:
        a.stop()

"""Leader election among replicas sharing one PostgreSQL store, and the fencing token.

Each replica keeps one dedicated connection (autocommit, no pool) and polls
`pg_try_advisory_lock` on it; the replica whose session holds the lock is the leader. Taking the
lock, it increments the leadership epoch (one row of `leadership`) and runs its leader-only jobs
under that epoch (`fenced`): every write transaction they begin reads the epoch FOR SHARE and
fails (`Fenced`) when it is no longer theirs (warden/store/engine.py).

Failover within `failover_seconds`:

- a leader that dies (SIGKILL, a lost host) loses its session, and with it the lock: at once on
  a closed socket; on a silent one, PostgreSQL ends the session once it has been idle for half
  the window (`idle_session_timeout`: the leader pings its session every fifth of it, a
  stalled or partitioned one cannot);
- followers poll every fifth of the window;
- the leader notices a lost session (its ping fails) and stops its leader-only jobs; a job
  already running cannot write past the new epoch (the fence);
- a leader-only write transaction left idle longer than half the window (its process stalled
  mid-way) is ended by PostgreSQL, so the new leader's increment never waits on it for long.

Replicas also heartbeat into `replicas` (`warden status`); the leader removes rows silent for
long (`STALE_FAILOVERS` windows).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, create_engine, delete, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.pool import NullPool

from warden.core.clock import Clock, system_clock
from warden.store import Store
from warden.store.engine import FENCE, Fenced, cause
from warden.store.schema import leadership, replicas

log = logging.getLogger(__name__)

__all__ = ["Fenced", "Leadership", "Replica", "fenced", "list_replicas"]

STALE_FAILOVERS = 20  # a replica silent this many failover windows is dropped from the list


@contextmanager
def fenced(epoch: int, idle_seconds: float) -> Iterator[None]:
    """Run the block's write transactions under leadership `epoch` (the fencing token)."""
    token = FENCE.set((epoch, idle_seconds))
    try:
        yield
    finally:
        FENCE.reset(token)


def default_replica_id(port: int) -> str:
    """host:port: unique per daemon (one port per host), the same for a restarted one."""
    return f"{socket.gethostname()}:{port}"


@dataclass(frozen=True)
class Replica:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    leader_epoch: int | None


def list_replicas(conn: Connection) -> list[Replica]:
    r = replicas
    q = select(r.c.id, r.c.host, r.c.pid, r.c.started_at, r.c.heartbeat_at, r.c.leader_epoch)
    return [Replica(*row) for row in conn.execute(q.order_by(r.c.id))]


def current_epoch(conn: Connection) -> tuple[int, str | None]:
    """(epoch, the replica that took it)."""
    row = conn.execute(select(leadership.c.epoch, leadership.c.leader)).first()
    return (0, None) if row is None else (int(row[0]), row[1])


class Leadership:
    """One replica's side of the election: a thread that polls for the lock, pings it while it
    holds it, and heartbeats. `on_elected(epoch)` runs when it becomes the leader (the jobs it
    starts write under that epoch), `on_lost()` when it stops being it."""

    def __init__(
        self,
        store: Store,
        replica: str,
        failover_seconds: float,
        on_elected: Callable[[int], None],
        on_lost: Callable[[], None],
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        self.replica = replica
        self.failover = failover_seconds
        self.on_elected = on_elected
        self.on_lost = on_lost
        self.clock = clock
        self.epoch: int | None = None
        self.started_at = clock()
        self._engine: Engine = create_engine(
            store.engine.url,
            poolclass=NullPool,
            connect_args={
                "connect_timeout": max(1, int(failover_seconds / 2)),
                # A leader whose server stops answering notices within the window.
                "tcp_user_timeout": max(1000, int(failover_seconds * 1000 / 2)),
                "keepalives_idle": max(1, int(failover_seconds / 5)),
                "keepalives_interval": 1,
                "keepalives_count": 2,
            },
        )
        self._conn: Connection | None = None
        self._key: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._warned = False

    @property
    def period(self) -> float:
        return self.failover / 5

    @property
    def leader(self) -> bool:
        return self.epoch is not None

    def fence(self) -> tuple[int, float] | None:
        """(epoch, the longest a fenced transaction may sit idle), or None when not leading."""
        epoch = self.epoch
        return None if epoch is None else (epoch, self.failover / 2)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="warden-leadership", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and give the lock up (the next replica takes over at its next poll)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.failover)
        with self._lock:
            self._drop_connection()
        try:
            with self.store.write() as conn:
                conn.execute(delete(replicas).where(replicas.c.id == self.replica))
        except Exception as exc:  # noqa: BLE001 - a stopping daemon; its row goes stale
            log.warning("leadership: could not remove this replica's row: %s", cause(exc))
        self._engine.dispose()

    def step(self) -> None:
        """One poll: keep or try for the lock, then heartbeat."""
        with self._lock:
            if self.epoch is not None and not self._ping():
                self._lose("its lock connection was lost")
            if self.epoch is None:
                self._try()
        self._heartbeat()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.step()
            except Exception:
                log.exception("leadership: poll failed")
            took = time.monotonic() - started
            if took > self.period:
                log.warning("leadership: a poll took %.2fs (every %.2fs)", took, self.period)
            self._stop.wait(max(0.0, self.period - (time.monotonic() - started)))

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            idle_ms = max(1000, int(self.failover * 1000 / 2))
            conn.execute(text(f"SET statement_timeout = {idle_ms}"))
            # A session left idle (a stalled or vanished leader) ends, and its lock with it.
            # PostgreSQL 14 and later; before, a stalled leader's session ends by TCP keepalive.
            if int(conn.execute(text("SHOW server_version_num")).scalar_one()) >= 140000:
                conn.execute(text(f"SET idle_session_timeout = {idle_ms}"))
            elif not self._warned:
                self._warned = True
                log.warning(
                    "leadership: PostgreSQL before 14 has no idle_session_timeout: a stalled "
                    "leader is replaced only once its connection is found dead"
                )
            self._key = int(
                conn.execute(
                    text("SELECT hashtext('warden.leader:' || current_schema())")
                ).scalar_one()
            )
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001 - already gone
                pass

    def _ping(self) -> bool:
        try:
            self._connection().execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure: the session may be gone
            log.warning("leadership: the lock connection does not answer: %s", cause(exc))
            self._drop_connection()
            return False
        return True

    def _try(self) -> None:
        try:
            conn = self._connection()
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            )
        except Exception as exc:  # noqa: BLE001 - the store is down: try again next poll
            log.warning("leadership: cannot reach the store: %s", cause(exc))
            self._drop_connection()
            return
        if not got:
            return
        try:
            epoch = self._increment()
        except Exception as exc:  # noqa: BLE001 - an ex-leader's write still holds the epoch
            log.warning("leadership: lock taken, epoch not yet: %s", cause(exc))
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            return
        self.epoch = epoch
        log.warning("leadership: %s leads under epoch %d", self.replica, epoch)
        try:
            self.on_elected(epoch)
        except Exception:
            log.exception("leadership: starting the leader's jobs failed")

    def _increment(self) -> int:
        wait_ms = max(100, int(self.failover * 1000 / 5))
        with self.store.write() as conn:
            conn.execute(text(f"SET LOCAL lock_timeout = {wait_ms}"))
            q = (
                update(leadership)
                .where(leadership.c.id == 1)
                .values(epoch=leadership.c.epoch + 1, leader=self.replica, since=self.clock())
                .returning(leadership.c.epoch)
            )
            return int(conn.execute(q).scalar_one())

    def _lose(self, why: str) -> None:
        log.error("leadership: %s no longer leads (epoch %s): %s", self.replica, self.epoch, why)
        self.epoch = None
        self._drop_connection()
        try:
            self.on_lost()
        except Exception:
            log.exception("leadership: stopping the leader's jobs failed")

    def _heartbeat(self) -> None:
        now = self.clock()
        row = {
            "id": self.replica,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "heartbeat_at": now,
            "leader_epoch": self.epoch,
        }
        stmt = postgresql.insert(replicas).values(row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[replicas.c.id],
            set_={
                c: stmt.excluded[c]
                for c in ("host", "pid", "started_at", "heartbeat_at", "leader_epoch")
            },
        )
        try:
            with self.store.write() as conn:
                conn.execute(stmt)
                if self.epoch is not None:
                    stale = now - timedelta(seconds=self.failover * STALE_FAILOVERS)
                    conn.execute(delete(replicas).where(replicas.c.heartbeat_at < stale))
        except Exception as exc:  # noqa: BLE001 - the next poll tries again
            log.warning("leadership: heartbeat failed: %s", cause(exc))

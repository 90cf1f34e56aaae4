"""Several replicas, one leader (docs/explanation/high-availability.md).

Every replica serves the HTTP API and /metrics, accepts pushes and dispatches; only the leader
runs the schedules (feeds, the sweep, forecasts, verification, follow-up, checkpoints). On
PostgreSQL the leader is elected (warden/store/leader.py) and its jobs write under its epoch;
on SQLite the one daemon a file allows (warden/store/single.py) always leads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from warden.app.scheduler import Schedules
from warden.app.settings import Settings
from warden.core.clock import Clock
from warden.ingest.connector import Cursor
from warden.metrics.collector import Metrics
from warden.store import Store
from warden.store import feeds as feed_rows
from warden.store.leader import Fenced, Leadership, fenced

log = logging.getLogger(__name__)


class HasCursor(Protocol):
    cursor: Cursor


class Warden(Protocol):
    """What the group needs of the daemon (warden/app/daemon.py)."""

    settings: Settings
    store: Store
    clock: Clock
    metrics: Metrics
    replica: str
    leading: Callable[[], bool]

    @property
    def feeds(self) -> Mapping[str, HasCursor]: ...

    def reset_sweep(self) -> None: ...


class Group:
    """This replica's role, and the leader-only schedules it runs while it leads."""

    def __init__(self, warden: Warden, jobs: Schedules) -> None:
        self.warden = warden
        self.jobs = jobs
        self._lock = threading.Lock()
        self.leadership: Leadership | None = None
        if warden.store.dialect == "postgresql":
            self.leadership = Leadership(
                warden.store,
                warden.replica,
                warden.settings.ha.failover_seconds,
                self._elected,
                self._lost,
                warden.clock,
            )
            warden.leading = lambda: self.leadership is not None and self.leadership.leader

    def leader_only(self, job_id: str, func: Callable[[], object]) -> Callable[[], object]:
        """`func` as a leader-only job: skipped on a follower, and its writes fenced by the
        epoch it starts under."""

        def run() -> object:
            if self.leadership is None:
                return func()
            fence = self.leadership.fence()
            if fence is None:
                return None
            try:
                with fenced(*fence):
                    return func()
            except Fenced as exc:
                log.warning("job %s: %s", job_id, exc)
                return None

        return run

    def start(self) -> None:
        if self.leadership is None:  # SQLite: the only daemon leads
            self._interrupt_runs()
            self.warden.metrics.leader.set(1)
            self.jobs.start()
            return
        self.warden.metrics.leader.set(0)
        self.jobs.start(paused=True)
        self.leadership.start()

    def stop(self) -> None:
        """Start no more jobs, let the running ones finish (still leading, so that their writes
        land), then hand the lead over at once (the next follower's poll takes it)."""
        self.jobs.pause()
        self.jobs.shutdown()
        if self.leadership is not None:
            self.leadership.stop()

    def _elected(self, epoch: int) -> None:
        """Take over where the store says: cursors, alert states and timers are read from it
        afresh (a replica that led before may hold stale ones), then start the schedules."""
        w = self.warden
        assert self.leadership is not None
        with self._lock:
            for feed in w.feeds.values():
                feed.cursor.versions.clear()  # the next run resumes from the stored cursor
            w.reset_sweep()
            fence = self.leadership.fence()
            if fence is None:
                return
            with fenced(*fence):
                self._interrupt_runs()
            w.metrics.leader.set(1)
            if epoch > 1:
                w.metrics.failovers.inc()
            self.jobs.resume()

    def _lost(self) -> None:
        with self._lock:
            self.jobs.pause()
            self.warden.metrics.leader.set(0)

    def _interrupt_runs(self) -> None:
        w = self.warden
        with w.store.write() as conn:
            interrupted = feed_rows.interrupt_running(conn, w.clock())
        if interrupted:
            log.warning(
                "%d feed runs were interrupted by the previous leader: marked so", interrupted
            )

"""Store outages are conditions, not tracebacks: while the database does not answer, the daemon
keeps running, its jobs wait with a backoff instead of failing every second, one line a minute
says the store is still down (and one says when it is back), `/readyz` answers 503 and
`warden_store_up` is 0. Nothing is lost: a feed's cursor moves only past what was stored, and
an outbox row stays pending until a sink took it, so the jobs pick up where they stopped.

`Outage.guard` wraps each scheduled job; `OutageFilter`, installed on the log handler by
`warden.app.logs.setup`, does the same for code that logs the failure itself (a loop that logs
its exception and retries): a `StoreUnavailable` traceback becomes one line a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from warden.store import StoreUnavailable

log = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 60.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0

T = TypeVar("T")


class Outage:
    """The daemon's view of a store outage: when it began, when the jobs may next try, and when
    it was last logged."""

    def __init__(
        self,
        log_every: float = LOG_EVERY_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log_every = log_every
        self.backoff_max = backoff_max
        self._now = monotonic
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._delay = 0.0
        self._next_try = 0.0
        self._logged_at = 0.0
        self._failed = 0  # attempts that failed since the last line
        self._skipped = 0  # job runs that waited for the backoff since the last line

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def guard(self, job_id: str, func: Callable[[], T]) -> Callable[[], T | None]:
        """`func`, which during an outage waits for the backoff (None, without calling it) and
        turns StoreUnavailable into `failed` (None)."""

        def run() -> T | None:
            if self._waiting():
                return None
            try:
                result = func()
            except StoreUnavailable as exc:
                self.failed(job_id, exc)
                return None
            self.answered()
            return result

        return run

    def _waiting(self) -> bool:
        with self._lock:
            if self.down_since is None or self._now() >= self._next_try:
                return False
            self._skipped += 1
            return True

    def failed(self, what: str, exc: StoreUnavailable) -> None:
        """Note a use of the store that failed; logs the first one and then one a minute."""
        with self._lock:
            now = self._now()
            first = self.down_since is None
            if first:
                self.down_since = now
                self._delay = BACKOFF_FIRST_SECONDS
            else:
                self._delay = min(self.backoff_max, self._delay * 2)
            self._next_try = now + self._delay
            self._failed += 1
            due = first or now - self._logged_at >= self.log_every
            if not due:
                return
            self._logged_at = now
            failed, skipped, self._failed, self._skipped = self._failed, self._skipped, 0, 0
            down_for = now - (self.down_since or now)
        if first:
            log.error(
                "%s; jobs retry with a backoff up to %.0f s and this is logged once a minute "
                "until it is back (%s failed)",
                exc,
                self.backoff_max,
                what,
            )
        else:
            log.error(
                "%s: still, after %.0f s (%d attempts failed, %d runs waited since the last line)",
                exc,
                down_for,
                failed,
                skipped,
            )

    def answered(self) -> None:
        """Note a use of the store that worked; logs the end of an outage."""
        with self._lock:
            if self.down_since is None:
                return
            down_for = self._now() - self.down_since
            self.down_since = None
            self._delay = 0.0
            self._failed = self._skipped = 0
        log.warning("store available again after %.0f s of outage; jobs resume", down_for)


class OutageFilter(logging.Filter):
    """Log records carrying a StoreUnavailable as their exception pass as one line (no
    traceback), at most one per logger a minute."""

    def __init__(
        self, every: float = LOG_EVERY_SECONDS, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.every = every
        self._now = monotonic
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, StoreUnavailable):
            return True
        with self._lock:
            now = self._now()
            last = self._last.get(record.name)
            if last is not None and now - last < self.every:
                return False
            self._last[record.name] = now
        record.msg = f"{record.getMessage()}: {exc} (a store outage: logged once a minute)"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True

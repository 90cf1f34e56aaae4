"""Dispatch: hand outbox rows to their sinks, at least once, with retries.

Rows are claimed atomically with a lease, so two workers never send one twice and a worker that
dies mid-delivery leaves a row that is claimed again when its lease ends. Retries back off
exponentially with jitter up to a cap; after `max_attempts`, or on a permanent error, the row is
`failed`. Every attempt is a delivery row.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from warden.core.chain import DELIVERY
from warden.core.clock import Clock
from warden.core.errors import DeliveryError
from warden.core.notification import Notification
from warden.delivery.settings import DispatchSettings
from warden.delivery.sinks import Sink
from warden.store import Store
from warden.store import alerts as alert_rows
from warden.store import outbox as outbox_rows
from warden.triggerlog.entries import action_entry

log = logging.getLogger(__name__)


def backoff_seconds(attempt: int, settings: DispatchSettings, rng: random.Random) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, jittered in
    [50%, 100%] of the step."""
    step = settings.backoff_initial_seconds * 2 ** (attempt - 1)
    return float(min(settings.backoff_max_seconds, step) * (0.5 + rng.random() / 2))


FLUSH_SECONDS = 0.25  # the longest a delivered row waits for its outcome to be written


@dataclass(frozen=True)
class _Done:
    """One delivery attempt's outcome, to be written."""

    item: outbox_rows.Claimed
    outcome: str  # delivered | retry | failed
    error: str | None
    retry_at: datetime | None
    started_at: datetime
    duration: float


class Dispatcher:
    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        settings: DispatchSettings,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.sinks = dict(sinks)
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self._wakes: list[threading.Event] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def wake(self) -> None:
        """Deliver now: called right after a transaction that added outbox rows."""
        for event in self._wakes:
            event.set()

    def run_once(
        self,
        limit: int = 50,
        sinks: Sequence[str] | None = None,
        others: Sequence[str] | None = None,
    ) -> int:
        """Claim due rows (of `sinks`, or of all sinks but `others`) and deliver them; returns
        how many were attempted."""
        with self.store.write() as conn:
            lease = self.settings.lease_seconds
            claimed = outbox_rows.claim(conn, self.clock(), lease, limit, sinks, others)
        done: list[_Done] = []
        flushed = time.monotonic()
        for item in claimed:
            done.append(self._deliver(item))
            # Outcomes are written together (one transaction, one trigger-log lock), at least
            # every FLUSH_SECONDS: a crash before then re-sends those, with the same keys.
            if time.monotonic() - flushed >= FLUSH_SECONDS:
                self._finish(done)
                done, flushed = [], time.monotonic()
        self._finish(done)
        return len(claimed)

    def _deliver(self, item: outbox_rows.Claimed) -> _Done:
        started_at = self.clock()
        t0 = time.perf_counter()
        outcome, error, retry_at = "delivered", None, None
        sink = self.sinks.get(item.sink)
        try:
            if sink is None:
                raise DeliveryError(item.sink, "sink is no longer configured", permanent=True)
            sink.send(self._notification(item))
        except DeliveryError as exc:
            error = exc.why
            attempt = item.attempts + 1
            if exc.permanent or attempt >= self.settings.max_attempts:
                outcome = "failed"
            else:
                outcome = "retry"
                delay = backoff_seconds(attempt, self.settings, self.rng)
                retry_at = self.clock() + timedelta(seconds=delay)
        except Exception as exc:
            log.exception(
                "sink %s: unexpected error delivering trigger %d", item.sink, item.trigger_seq
            )
            outcome, error = "retry", f"{type(exc).__name__}: {exc}"
            delay = backoff_seconds(item.attempts + 1, self.settings, self.rng)
            retry_at = self.clock() + timedelta(seconds=delay)
            if item.attempts + 1 >= self.settings.max_attempts:
                outcome, retry_at = "failed", None
        return _Done(item, outcome, error, retry_at, started_at, time.perf_counter() - t0)

    def _finish(self, done: Sequence[_Done]) -> None:
        if not done:
            return
        with self.store.write() as conn:
            kept = [
                outbox_rows.finish(
                    conn,
                    d.item,
                    outcome=d.outcome,
                    error=d.error,
                    started_at=d.started_at,
                    duration_seconds=d.duration,
                    now=self.clock(),
                    retry_at=d.retry_at,
                )
                for d in done
            ]
            final = [d for d, k in zip(done, kept, strict=True) if k and d.outcome != "retry"]
            if final:  # the final outcomes go into the trigger log
                alert_rows.lock(conn)
                head, entries = alert_rows.chain_head(conn), []
                for d in final:
                    body = {
                        "actor": "warden",
                        "action": f"delivery {d.outcome}",
                        "trigger": d.item.trigger_seq,
                        "sink": d.item.sink,
                        "attempts": d.item.attempts + 1,
                        "error": d.error,
                    }
                    entry = action_entry(head, self.clock(), DELIVERY, body)
                    entries.append(entry)
                    head = (entry.seq, entry.hash)
                alert_rows.append_triggers(conn, entries)
        for d, k in zip(done, kept, strict=True):
            self._log(d, k)

    def _log(self, d: _Done, kept: bool) -> None:
        item, outcome, error = d.item, d.outcome, d.error
        levels = {"delivered": logging.INFO, "retry": logging.WARNING}
        level = levels.get(outcome, logging.ERROR)
        log.log(
            level,
            "delivery of trigger %d to sink %s (attempt %d): %s%s%s",
            item.trigger_seq,
            item.sink,
            item.attempts + 1,
            outcome,
            f": {error}" if error else "",
            "" if kept else " (lease had expired; another worker holds the row)",
            extra={"sink": item.sink, "trigger": item.trigger_seq, "outcome": outcome},
        )

    def _notification(self, item: outbox_rows.Claimed) -> Notification:
        return Notification(
            idempotency_key=item.idempotency_key,
            sink=item.sink,
            trigger_seq=item.trigger_seq,
            trigger_hash=item.hash,
            trigger=json.loads(item.content),
        )

    # -- background worker ------------------------------------------------------------------
    def start(self) -> None:
        """A worker per sink, so a sink that hangs or fails never delays the others, and one
        for rows of sinks no longer configured (they fail at once)."""
        known = sorted(self.sinks)
        lanes: list[tuple[str, list[str] | None, list[str] | None]] = [
            (f"warden-dispatch-{sink}", [sink], None) for sink in known
        ]
        lanes.append(("warden-dispatch-unknown", None, known))
        for name, sinks, others in lanes:
            event = threading.Event()
            self._wakes.append(event)
            thread = threading.Thread(
                target=self._loop, args=(event, sinks, others), name=name, daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(
        self, wake: threading.Event, sinks: list[str] | None, others: list[str] | None
    ) -> None:
        while not self._stop.is_set():
            wake.clear()
            try:
                while self.run_once(50, sinks, others) and not self._stop.is_set():
                    pass
                with self.store.read() as conn:
                    due = outbox_rows.next_due_at(conn, sinks, others)
            except Exception:
                log.exception("dispatch failed; retrying shortly")
                due = None
            wait = 1.0
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock()).total_seconds()))
            wake.wait(wait)

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
from collections.abc import Mapping
from datetime import timedelta

from warden.clock import Clock
from warden.errors import DeliveryError
from warden.settings import DispatchSettings
from warden.sinks import Notification, Sink
from warden.store import Store
from warden.store import alerts as alert_rows
from warden.store import outbox as outbox_rows
from warden.triggerlog import DELIVERY, action_entry

log = logging.getLogger(__name__)


def backoff_seconds(attempt: int, settings: DispatchSettings, rng: random.Random) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, jittered in
    [50%, 100%] of the step."""
    step = settings.backoff_initial_seconds * 2 ** (attempt - 1)
    return float(min(settings.backoff_max_seconds, step) * (0.5 + rng.random() / 2))


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
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Deliver now: called right after a transaction that added outbox rows."""
        self._wake.set()

    def run_once(self, limit: int = 50) -> int:
        """Claim due rows and deliver them; returns how many were attempted."""
        with self.store.write() as conn:
            claimed = outbox_rows.claim(conn, self.clock(), self.settings.lease_seconds, limit)
        for item in claimed:
            self._deliver(item)
        return len(claimed)

    def _deliver(self, item: outbox_rows.Claimed) -> None:
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
        duration = time.perf_counter() - t0
        with self.store.write() as conn:
            kept = outbox_rows.finish(
                conn,
                item,
                outcome=outcome,
                error=error,
                started_at=started_at,
                duration_seconds=duration,
                now=self.clock(),
                retry_at=retry_at,
            )
            if kept and outcome != "retry":  # the final outcome goes into the trigger log
                alert_rows.lock(conn)
                body = {
                    "actor": "warden",
                    "action": f"delivery {outcome}",
                    "trigger": item.trigger_seq,
                    "sink": item.sink,
                    "attempts": item.attempts + 1,
                    "error": error,
                }
                entry = action_entry(alert_rows.chain_head(conn), self.clock(), DELIVERY, body)
                alert_rows.append_triggers(conn, [entry])
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
        self._thread = threading.Thread(target=self._loop, name="warden-dispatch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                while self.run_once() and not self._stop.is_set():
                    pass
                with self.store.read() as conn:
                    due = outbox_rows.next_due_at(conn)
            except Exception:
                log.exception("dispatch failed; retrying shortly")
                due = None
            wait = 1.0
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock()).total_seconds()))
            self._wake.wait(wait)

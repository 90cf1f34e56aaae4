"""Dispatch: hand outbox rows to their sinks, at least once, in order per alert, with retries.

Rows are claimed atomically with a lease, so two workers never send one twice and a worker that
dies mid-delivery leaves a row that is claimed again when its lease ends. A row is claimed only
after every earlier row of its alert for the same sink is done (`warden.store.outbox`), so a sink
receives one alert's transitions in order. Retries back off exponentially with jitter up to a
cap, for as long as the sink's `retry_for` (24 hours by default) from when the row was queued; a
row is `failed` only on a permanent error or once that time (or `max_attempts`, when set) is
spent. Every attempt is a delivery row; `warden deliveries retry` re-drives failed rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from warden.core.chain import DELIVERY
from warden.core.clock import Clock
from warden.core.errors import DeliveryError
from warden.core.notification import Member, Notification
from warden.core.redact import redact_text
from warden.delivery.settings import DispatchSettings, RetryPolicy
from warden.delivery.sinks import Sink
from warden.store import Store
from warden.store import alerts as alert_rows
from warden.store import outbox as outbox_rows
from warden.triggerlog.entries import action_entry

log = logging.getLogger(__name__)


def backoff_seconds(
    attempt: int, settings: DispatchSettings | RetryPolicy, rng: random.Random
) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, jittered in
    [50%, 100%] of the step."""
    step = settings.backoff_initial_seconds * 2 ** min(attempt - 1, 60)
    return float(min(settings.backoff_max_seconds, step) * (0.5 + rng.random() / 2))


FLUSH_SECONDS = 0.25  # the longest a delivered row waits for its outcome to be written


class Dispatcher:
    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        settings: DispatchSettings,
        clock: Clock,
        rng: random.Random | None = None,
        policies: Mapping[str, RetryPolicy] | None = None,
        owner: str | None = None,
    ) -> None:
        """`owner`: who this dispatcher's leases are held by (the daemon's host name); None for
        a dispatcher whose leases are only ever waited out."""
        self.store = store
        self.owner = owner
        self.sinks = dict(sinks)
        self.settings = settings
        self.policies = dict(policies or {})
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
            claimed = outbox_rows.claim(conn, self.clock(), lease, limit, sinks, others, self.owner)
        done: list[outbox_rows.Attempt] = []
        flushed = time.monotonic()
        for group in _groups(claimed):
            done.extend(self._deliver(group))
            # Outcomes are written together (one transaction, one trigger-log lock), at least
            # every FLUSH_SECONDS: a crash before then re-sends those, with the same keys.
            if time.monotonic() - flushed >= FLUSH_SECONDS:
                self._finish(done)
                done, flushed = [], time.monotonic()
        self._finish(done)
        return len(claimed)

    def _deliver(self, group: Sequence[outbox_rows.Claimed]) -> list[outbox_rows.Attempt]:
        """Send one notification of `group` (rows of one sink and group key, or one row): its
        outcome is each row's."""
        item = group[0]
        started_at = self.clock()
        t0 = time.perf_counter()
        outcome, error, retry_at = "delivered", None, None
        sink = self.sinks.get(item.sink)
        try:
            if sink is None:
                raise DeliveryError(item.sink, "sink is no longer configured", permanent=True)
            sink.send(notification(group))
        except DeliveryError as exc:
            error = exc.why
            outcome, retry_at, gave_up = self._next(item, exc.permanent)
            error += gave_up
        except Exception as exc:
            log.exception(
                "sink %s: unexpected error delivering trigger %d", item.sink, item.trigger_seq
            )
            error = f"{type(exc).__name__}: {exc}"
            outcome, retry_at, gave_up = self._next(item, permanent=False)
            error += gave_up
        # A sink's error may name its URL, secrets and all (`?token=`): never stored or logged so.
        error = None if error is None else redact_text(error)
        took = time.perf_counter() - t0
        return [outbox_rows.Attempt(i, outcome, error, started_at, took, retry_at) for i in group]

    def policy(self, sink: str) -> RetryPolicy:
        return self.policies.get(sink) or self.settings.policy()

    def _next(self, item: outbox_rows.Claimed, permanent: bool) -> tuple[str, datetime | None, str]:
        """After a failed attempt: retry (and when), or fail (and why it gave up)."""
        if permanent:
            return "failed", None, ""
        policy, now, attempt = self.policy(item.sink), self.clock(), item.attempts + 1
        if policy.max_attempts is not None and attempt >= policy.max_attempts:
            return "failed", None, f" (gave up after {attempt} attempts)"
        waited = (now - item.queued_at).total_seconds()
        if waited >= policy.retry_for_seconds:
            return "failed", None, f" (gave up after {attempt} attempts over {waited:.0f} s)"
        delay = backoff_seconds(attempt, policy, self.rng)
        return "retry", now + timedelta(seconds=delay), ""

    def _finish(self, done: Sequence[outbox_rows.Attempt]) -> None:
        if not done:
            return
        with self.store.write() as conn:
            kept = outbox_rows.finish_all(conn, done, self.clock())
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

    def _log(self, d: outbox_rows.Attempt, kept: bool) -> None:
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

    # -- background worker ------------------------------------------------------------------
    def start(self) -> None:
        """A worker per sink, so a sink that hangs or fails never delays the others, and one
        for rows of sinks no longer configured (they fail at once). First, the leases this
        owner's previous process held (it was killed mid-delivery) are taken back: those rows
        are sent again at once, under the same idempotency keys."""
        if self.owner is not None:
            with self.store.write() as conn:
                released = outbox_rows.release(conn, self.owner)
            if released:
                log.warning(
                    "took back %d notifications a previous process of %s had claimed",
                    released,
                    self.owner,
                )
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


def _groups(claimed: Sequence[outbox_rows.Claimed]) -> list[list[outbox_rows.Claimed]]:
    """Claimed rows as the notifications they make: the rows of one sink and group key
    together (in queue order), every other row alone."""
    out: dict[tuple[str, str] | int, list[outbox_rows.Claimed]] = {}
    for item in claimed:
        key = (item.sink, item.group_key) if item.group_key is not None else item.id
        out.setdefault(key, []).append(item)
    return list(out.values())


def notification(group: Sequence[outbox_rows.Claimed]) -> Notification:
    """The notification of one row, or of a group of rows (each a member, the first also its
    `trigger` for receivers that read one). A group's idempotency key is derived from its rows'
    keys, so a group re-sent whole after a crash keeps its key."""
    first = group[0]
    members = tuple(
        Member(i.trigger_seq, i.hash, json.loads(i.content), i.idempotency_key) for i in group
    )
    history = first.group_key is not None and first.group_key.startswith("history|")
    key = first.idempotency_key
    if len(group) > 1:
        joined = "\n".join(sorted(i.idempotency_key for i in group))
        key = "group-" + hashlib.sha256(joined.encode()).hexdigest()[:40]
    return Notification(
        idempotency_key=key,
        sink=first.sink,
        trigger_seq=first.trigger_seq,
        trigger_hash=first.hash,
        trigger=members[0].trigger,
        members=members if len(group) > 1 or history else (),
        history=history,
    )


def retry_deliveries(
    store: Store, now: datetime, sinks: Sequence[str] | None = None, failed: bool = False
) -> outbox_rows.Redriven:
    """Re-drive notifications: those still waiting for a retry (and with `failed`, those that
    failed) of `sinks` (None: every sink) become due now, with a fresh `retry_for`. A failed
    notification whose alert already reached the sink in a later state is marked superseded,
    never re-sent after it."""
    with store.write() as conn:
        done = outbox_rows.redrive(conn, now, sinks, failed)
    log.info(
        "deliveries re-driven: %d due now, %d superseded (sinks: %s)",
        done.redriven,
        done.superseded,
        ", ".join(sinks) if sinks else "all",
    )
    return done

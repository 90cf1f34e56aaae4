"""The outbox: notifications waiting for a sink, claimed atomically, and their deliveries."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, func, insert, or_, select, update

from warden.core.model import QUIET_STATES
from warden.store.schema import deliveries, outbox, triggers


@dataclass(frozen=True)
class Claimed:
    id: int
    trigger_seq: int
    sink: str
    idempotency_key: str
    attempts: int
    claim_token: str
    content: str
    hash: str


def enqueue(conn: Connection, items: Sequence[tuple[int, str, str]], now: datetime) -> None:
    """Queue (trigger seq, sink, idempotency key) notifications, due now."""
    if not items:
        return
    rows = [
        {
            "trigger_seq": seq,
            "sink": sink,
            "idempotency_key": key,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for seq, sink, key in items
    ]
    conn.execute(insert(outbox), rows)


def announced(
    conn: Connection, alerts: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], set[str]]:
    """The sinks each alert (threshold, subject) was handed to (transitions, repeats,
    escalations) since it was last over: the sinks that may be told it resolved."""
    t = triggers
    told: dict[tuple[str, str], set[str]] = {}
    for threshold, subject in set(alerts):
        alert = and_(t.c.threshold == threshold, t.c.subject == subject)
        over = (
            select(func.coalesce(func.max(t.c.seq), 0))
            .where(
                alert, t.c.kind == "transition", t.c.to_state.in_([s.value for s in QUIET_STATES])
            )
            .scalar_subquery()
        )
        q = (
            select(outbox.c.sink)
            .distinct()
            .join(t, t.c.seq == outbox.c.trigger_seq)
            .where(alert, t.c.seq > over)
        )
        told[(threshold, subject)] = {row[0] for row in conn.execute(q)}
    return told


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        outbox.c.status == "pending",
        outbox.c.next_attempt_at <= now,
        or_(outbox.c.claim_expires_at.is_(None), outbox.c.claim_expires_at < now),
    )


def _of(sinks: Sequence[str] | None, others: Sequence[str] | None) -> list[ColumnElement[bool]]:
    """Rows for `sinks` only, or for every sink but `others`."""
    where: list[ColumnElement[bool]] = []
    if sinks is not None:
        where.append(outbox.c.sink.in_(list(sinks)))
    if others:
        where.append(outbox.c.sink.not_in(list(others)))
    return where


def claim(
    conn: Connection,
    now: datetime,
    lease_seconds: float,
    limit: int,
    sinks: Sequence[str] | None = None,
    others: Sequence[str] | None = None,
) -> list[Claimed]:
    """Claim up to `limit` due rows (of `sinks`, or of every sink but `others`). Each claim is a
    conditional UPDATE, so of two workers racing for a row exactly one wins. A worker that dies
    leaves a lease that expires, and the row is claimed again (at-least-once delivery)."""
    due = select(outbox.c.id).where(_due(now), *_of(sinks, others))
    ids = [r[0] for r in conn.execute(due.order_by(outbox.c.id).limit(limit))]
    token = secrets.token_hex(16)
    expires = now + timedelta(seconds=lease_seconds)
    won = []
    for row_id in ids:
        result = conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, _due(now))
            .values(claim_token=token, claim_expires_at=expires)
        )
        if result.rowcount == 1:
            won.append(row_id)
    if not won:
        return []
    q = (
        select(
            outbox.c.id,
            outbox.c.trigger_seq,
            outbox.c.sink,
            outbox.c.idempotency_key,
            outbox.c.attempts,
            outbox.c.claim_token,
            triggers.c.content,
            triggers.c.hash,
        )
        .join(triggers, triggers.c.seq == outbox.c.trigger_seq)
        .where(outbox.c.id.in_(won))
        .order_by(outbox.c.id)
    )
    return [Claimed(*row) for row in conn.execute(q)]


def finish(
    conn: Connection,
    item: Claimed,
    *,
    outcome: str,
    error: str | None,
    started_at: datetime,
    duration_seconds: float,
    now: datetime,
    retry_at: datetime | None = None,
) -> bool:
    """Record one attempt and move the row on. False when the claim was lost (lease expired and
    another worker took it): the attempt is still recorded."""
    attempt = item.attempts + 1
    conn.execute(
        insert(deliveries).values(
            outbox_id=item.id,
            sink=item.sink,
            attempt=attempt,
            outcome=outcome,
            error=error,
            started_at=started_at,
            duration_seconds=duration_seconds,
        )
    )
    values: dict[str, object] = {
        "attempts": attempt,
        "last_error": error,
        "claim_token": None,
        "claim_expires_at": None,
    }
    if outcome == "retry":
        assert retry_at is not None
        values["next_attempt_at"] = retry_at
    else:
        values["status"] = outcome
        values["finished_at"] = now
    result = conn.execute(
        update(outbox)
        .where(outbox.c.id == item.id, outbox.c.claim_token == item.claim_token)
        .values(**values)
    )
    return result.rowcount == 1


def next_due_at(
    conn: Connection, sinks: Sequence[str] | None = None, others: Sequence[str] | None = None
) -> datetime | None:
    q = select(outbox.c.next_attempt_at).where(outbox.c.status == "pending", *_of(sinks, others))
    row = conn.execute(q.order_by(outbox.c.next_attempt_at).limit(1)).first()
    return None if row is None else row[0]

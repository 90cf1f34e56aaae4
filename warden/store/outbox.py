"""The outbox: notifications waiting for a sink, claimed atomically, and their deliveries.

Order: a row is due only when no earlier row of the same alert (threshold x subject) for the same
sink is still pending, so each sink receives one alert's notifications in the order of its
transitions. A failed row re-driven after a later one of its alert reached the sink would arrive
out of order: `redrive` marks it `superseded` instead (the sink already has a newer state).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

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
    queued_at: datetime  # when it was queued, or last re-driven: its retries' age counts from it
    group_key: str | None = None  # rows of one group claimed together are one notification


Queued = tuple[int, str, str] | tuple[int, str, str, str | None, datetime]


def enqueue(conn: Connection, items: Sequence[Queued], now: datetime) -> None:
    """Queue notifications: (trigger seq, sink, idempotency key), due now, or with a group key
    and the time it is due (`warden.alerting.cycle.groups`)."""
    if not items:
        return
    seqs = sorted({item[0] for item in items})
    alerts: dict[int, str] = {}
    for i in range(0, len(seqs), 500):
        q = select(triggers.c.seq, triggers.c.threshold, triggers.c.subject).where(
            triggers.c.seq.in_(seqs[i : i + 500])
        )
        alerts.update({seq: alert_key(t, s) for seq, t, s in conn.execute(q)})
    rows = []
    for item in items:
        seq, sink, key = item[:3]
        group, due = (item[3], item[4]) if len(item) == 5 else (None, now)
        rows.append(
            {
                "trigger_seq": seq,
                "sink": sink,
                "idempotency_key": key,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due,
                "created_at": now,
                "alert": alerts.get(seq),
                "group_key": group,
            }
        )
    conn.execute(insert(outbox), rows)


def waiting(conn: Connection, sink: str, group: str) -> datetime | None:
    """When the group's notification to `sink` that has not gone out yet is due, if there is
    one: a new alert of the group joins it."""
    q = select(func.min(outbox.c.next_attempt_at)).where(
        outbox.c.sink == sink,
        outbox.c.group_key == group,
        outbox.c.status == "pending",
        outbox.c.attempts == 0,
        outbox.c.claim_token.is_(None),
    )
    value: datetime | None = conn.execute(q).scalar_one()
    return value


def last_sent(conn: Connection, sink: str, group: str) -> datetime | None:
    """When the group's last notification to `sink` was delivered (for `group_interval`)."""
    q = select(func.max(outbox.c.finished_at)).where(
        outbox.c.sink == sink, outbox.c.group_key == group, outbox.c.status == "delivered"
    )
    value: datetime | None = conn.execute(q).scalar_one()
    return value


def alert_key(threshold: str, subject: str) -> str:
    """One alert's key in the outbox (threshold ids have no spaces)."""
    return f"{threshold} {subject}"


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


def _first_of_its_alert() -> ColumnElement[bool]:
    """No earlier row of the same alert for the same sink is still pending."""
    earlier = aliased(outbox)
    waiting_behind = exists().where(
        earlier.c.sink == outbox.c.sink,
        earlier.c.alert == outbox.c.alert,
        earlier.c.status == "pending",
        earlier.c.id < outbox.c.id,
    )
    return or_(outbox.c.alert.is_(None), ~waiting_behind)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        outbox.c.status == "pending",
        outbox.c.next_attempt_at <= now,
        or_(outbox.c.claim_expires_at.is_(None), outbox.c.claim_expires_at < now),
        _first_of_its_alert(),
    )


def _of(sinks: Sequence[str] | None, others: Sequence[str] | None) -> list[ColumnElement[bool]]:
    """Rows for `sinks` only, or for every sink but `others`."""
    where: list[ColumnElement[bool]] = []
    if sinks is not None:
        where.append(outbox.c.sink.in_(list(sinks)))
    if others:
        where.append(outbox.c.sink.not_in(list(others)))
    return where


# The most rows one group's notification lists beyond the first claim: a burst larger than this
# goes out as several notifications of the group.
GROUP_MAX = 1000


def claim(
    conn: Connection,
    now: datetime,
    lease_seconds: float,
    limit: int,
    sinks: Sequence[str] | None = None,
    others: Sequence[str] | None = None,
    owner: str | None = None,
) -> list[Claimed]:
    """Claim up to `limit` due rows (of `sinks`, or of every sink but `others`), and the other
    due rows of their groups (up to GROUP_MAX), which go out with them as one notification.
    The rows are chosen and locked in one statement that re-checks each as it locks it (FOR
    UPDATE, passing over rows another worker holds), then claimed in one UPDATE, so of two
    workers racing for a row exactly one wins. A worker that dies leaves a lease that
    expires, and the row is claimed again (at-least-once delivery)."""
    due = select(outbox.c.id, outbox.c.group_key).where(_due(now), *_of(sinks, others))
    if conn.dialect.name == "postgresql":
        # The rows are locked as they are chosen, and rows another worker holds (claiming or
        # finishing them) passed over, not waited for: concurrent replicas claim disjoint rows,
        # and the UPDATE below only touches rows this transaction already holds, so two claims
        # never wait on each other (no deadlock). SQLite's writers are serialised already.
        due = due.with_for_update(skip_locked=True, of=outbox)
    first = conn.execute(due.order_by(outbox.c.id).limit(limit)).all()
    ids = [r[0] for r in first]
    grouped = sorted({r[1] for r in first if r[1] is not None})
    if grouped:
        more = due.where(outbox.c.group_key.in_(grouped), outbox.c.id.not_in(ids))
        ids += [r[0] for r in conn.execute(more.order_by(outbox.c.id).limit(GROUP_MAX))]
    if not ids:
        return []
    token = secrets.token_hex(16)
    expires = now + timedelta(seconds=lease_seconds)
    # One UPDATE for them all, by id. The rows were re-checked as they were locked (on
    # PostgreSQL, SELECT ... FOR UPDATE re-evaluates the WHERE on the newest version of a row
    # another transaction changed, and nobody else can change them until this transaction
    # ends; a SQLite write transaction holds the database's one write lock): they are still
    # due, and repeating the condition here only gave the planner a worse plan to choose.
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(claim_token=token, claim_expires_at=expires, claim_owner=owner)
    )
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
            func.coalesce(outbox.c.retry_since_at, outbox.c.created_at),
            outbox.c.group_key,
        )
        .join(triggers, triggers.c.seq == outbox.c.trigger_seq)
        .where(outbox.c.id.in_(ids))
        .order_by(outbox.c.id)
    )
    return [Claimed(*tuple(row)) for row in conn.execute(q)]


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of a claimed row, to be recorded (`finish_all`)."""

    item: Claimed
    outcome: str  # delivered | retry | failed
    error: str | None
    started_at: datetime
    duration_seconds: float
    retry_at: datetime | None = None  # for a retry: when it is due again


def finish_all(conn: Connection, attempts: Sequence[Attempt], now: datetime) -> list[bool]:
    """Record attempts and move their rows on: each attempt is a delivery row, and each row whose
    claim is still held (its claim token unchanged) is done, or due again for a retry. A claim
    that was lost (the lease expired and another worker took the row) leaves the row alone.
    Returns, for each attempt, whether its claim was still held.

    A few statements, not two a row: the attempts in one multi-row INSERT, the rows by one
    UPDATE for each claim and outcome."""
    if not attempts:
        return []
    conn.execute(
        insert(deliveries),
        [
            {
                "outbox_id": a.item.id,
                "sink": a.item.sink,
                "attempt": a.item.attempts + 1,
                "outcome": a.outcome,
                "error": a.error,
                "started_at": a.started_at,
                "duration_seconds": a.duration_seconds,
            }
            for a in attempts
        ],
    )
    # Rows whose new values are the same are moved together (in the common case every row a
    # worker delivered in one flush: one statement).
    alike: dict[tuple[str, int, str, str | None, datetime | None], list[int]] = {}
    for a in attempts:
        key = (a.item.claim_token, a.item.attempts + 1, a.outcome, a.error, a.retry_at)
        alike.setdefault(key, []).append(a.item.id)
    kept: set[int] = set()
    for (token, attempt, outcome, error, retry_at), ids in alike.items():
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
            .where(outbox.c.id.in_(ids), outbox.c.claim_token == token)
            .values(**values)
            .returning(outbox.c.id)
        )
        kept.update(row[0] for row in result)
    return [a.item.id in kept for a in attempts]


def next_due_at(
    conn: Connection, sinks: Sequence[str] | None = None, others: Sequence[str] | None = None
) -> datetime | None:
    """When the next row (of `sinks`, or of every sink but `others`) falls due; a row waiting
    behind an earlier one of its alert falls due only after that one."""
    q = select(outbox.c.next_attempt_at).where(
        outbox.c.status == "pending", _first_of_its_alert(), *_of(sinks, others)
    )
    row = conn.execute(q.order_by(outbox.c.next_attempt_at).limit(1)).first()
    return None if row is None else row[0]


def release(conn: Connection, owner: str) -> int:
    """Give up the leases `owner` holds: called by a daemon as it starts, so what its previous
    process (killed mid-delivery) had claimed is due again at once, not after the lease."""
    result = conn.execute(
        update(outbox)
        .where(outbox.c.status == "pending", outbox.c.claim_owner == owner)
        .values(claim_token=None, claim_expires_at=None, claim_owner=None)
    )
    return int(result.rowcount)


@dataclass(frozen=True)
class Redriven:
    redriven: int  # rows made due now
    superseded: int  # failed rows a later notification of their alert already reached


def redrive(conn: Connection, now: datetime, sinks: Sequence[str] | None, failed: bool) -> Redriven:
    """Make pending rows (with `failed`, failed ones too) of `sinks` (None: all) due now, their
    retries' age counted from now. A failed row whose alert has a later row delivered to, or
    still pending for, the same sink is marked `superseded` instead: re-sent, it would arrive
    after a newer state of its alert."""
    statuses = ["pending", "failed"] if failed else ["pending"]
    later = aliased(outbox)
    newer = exists().where(
        later.c.sink == outbox.c.sink,
        later.c.alert == outbox.c.alert,
        later.c.id > outbox.c.id,
        later.c.status.in_(["pending", "delivered"]),
    )
    idle = or_(outbox.c.claim_expires_at.is_(None), outbox.c.claim_expires_at < now)
    where = [outbox.c.status.in_(statuses), idle, *_of(sinks, None)]
    superseded = 0
    if failed:
        result = conn.execute(
            update(outbox)
            .where(outbox.c.status == "failed", outbox.c.alert.is_not(None), newer,
                   *_of(sinks, None))
            .values(status="superseded", finished_at=now)
        )  # fmt: skip
        superseded = result.rowcount
    result = conn.execute(
        update(outbox)
        .where(*where)
        .values(
            status="pending",
            next_attempt_at=now,
            retry_since_at=now,
            finished_at=None,
            claim_token=None,
            claim_expires_at=None,
        )
    )
    return Redriven(result.rowcount, superseded)

"""The read side for people: the queries behind the read API (and the web view, which calls the
same functions). Lists page by keyset, never by OFFSET: a page of the trigger log is "the
`limit` entries before seq N" under the filters, which an index of `(filter column, seq)`
answers in the same few milliseconds at the first page and at the millionth entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, select

from warden.core.chain import ACK, TRANSITION, Entry
from warden.core.model import Assessment, StoredObservation
from warden.store import observations as observation_rows
from warden.store.schema import (
    alert_states,
    assessments,
    deliveries,
    feed_runs,
    outbox,
    rejects,
    silences,
    triggers,
)

MAX_LIMIT = 500

_ENTRY_COLUMNS = (
    triggers.c.seq,
    triggers.c.at,
    triggers.c.threshold,
    triggers.c.threshold_version,
    triggers.c.subject,
    triggers.c.from_state,
    triggers.c.to_state,
    triggers.c.content,
    triggers.c.prev_hash,
    triggers.c.hash,
    triggers.c.kind,
    triggers.c.epoch,
)


@dataclass(frozen=True)
class TriggerFilter:
    """What `GET /api/v1/triggers` filters on; None is "any". `state` is the state entered."""

    threshold: str | None = None
    subject: str | None = None
    kind: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        t = triggers
        out: list[ColumnElement[bool]] = []
        for column, value in (
            (t.c.threshold, self.threshold),
            (t.c.subject, self.subject),
            (t.c.kind, self.kind),
            (t.c.to_state, self.state),
        ):
            if value is not None:
                out.append(column == value)
        if self.since is not None:
            out.append(t.c.at >= self.since)
        if self.until is not None:
            out.append(t.c.at < self.until)
        return out


@dataclass(frozen=True)
class Page:
    """Entries of one page, and the cursor of the next (None on the last page)."""

    entries: list[Entry]
    next_cursor: int | None


def trigger_page(
    conn: Connection,
    where: TriggerFilter,
    *,
    cursor: int | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> Page:
    """One page of the trigger log: the `limit` entries after `cursor` (a seq: before it when
    `newest_first`) that pass `where`."""
    limit = max(1, min(limit, MAX_LIMIT))
    seq = triggers.c.seq
    q = select(*_ENTRY_COLUMNS).where(*where.where())
    if cursor is not None:
        q = q.where(seq < cursor if newest_first else seq > cursor)
    q = q.order_by(seq.desc() if newest_first else seq).limit(limit + 1)
    rows = [Entry(*row) for row in conn.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].seq if more else None)


def trigger_page_sql(where: TriggerFilter, cursor: int | None, limit: int) -> Select[Any]:
    """The statement `trigger_page` runs (newest first), for the performance baseline."""
    seq = triggers.c.seq
    q = select(*_ENTRY_COLUMNS).where(*where.where())
    if cursor is not None:
        q = q.where(seq < cursor)
    return q.order_by(seq.desc()).limit(limit + 1)


def entry(conn: Connection, seq: int) -> Entry | None:
    row = conn.execute(select(*_ENTRY_COLUMNS).where(triggers.c.seq == seq)).first()
    return None if row is None else Entry(*row)


def alert_entries(
    conn: Connection,
    threshold: str,
    subject: str,
    *,
    after: int,
    before: int | None = None,
    kinds: Sequence[str] = (ACK,),
) -> list[Entry]:
    """The entries of kinds `kinds` about the alert threshold x subject with a seq in
    (after, before), oldest first."""
    t = triggers
    q = select(*_ENTRY_COLUMNS).where(
        t.c.threshold == threshold, t.c.subject == subject, t.c.seq > after, t.c.kind.in_(kinds)
    )
    if before is not None:
        q = q.where(t.c.seq < before)
    return [Entry(*row) for row in conn.execute(q.order_by(t.c.seq))]


def next_transition(conn: Connection, threshold: str, subject: str, after: int) -> int | None:
    """The seq of the alert's next transition after `after`: where its episode ends."""
    t = triggers
    q = select(func.min(t.c.seq)).where(
        t.c.threshold == threshold,
        t.c.subject == subject,
        t.c.seq > after,
        t.c.kind == TRANSITION,
    )
    found = conn.execute(q).scalar_one_or_none()
    return None if found is None else int(found)


def previous_transition(
    conn: Connection, threshold: str, subject: str, before: int
) -> Entry | None:
    """The alert's transition just before seq `before`."""
    t = triggers
    q = (
        select(*_ENTRY_COLUMNS)
        .where(
            t.c.threshold == threshold,
            t.c.subject == subject,
            t.c.seq < before,
            t.c.kind == TRANSITION,
        )
        .order_by(t.c.seq.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return None if row is None else Entry(*row)


@dataclass(frozen=True)
class DeliveryRow:
    """One notification of a trigger to a sink, and its attempts."""

    outbox_id: int
    sink: str
    status: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    last_error: str | None
    tries: list[dict[str, Any]]


def deliveries_of(conn: Connection, seq: int) -> list[DeliveryRow]:
    o, d = outbox, deliveries
    rows = conn.execute(
        select(
            o.c.id,
            o.c.sink,
            o.c.status,
            o.c.attempts,
            o.c.created_at,
            o.c.finished_at,
            o.c.last_error,
        )
        .where(o.c.trigger_seq == seq)
        .order_by(o.c.id)
    ).all()
    tries: dict[int, list[dict[str, Any]]] = {int(r[0]): [] for r in rows}
    if tries:
        q = (
            select(d.c.outbox_id, d.c.attempt, d.c.outcome, d.c.error, d.c.started_at)
            .where(d.c.outbox_id.in_(list(tries)))
            .order_by(d.c.id)
        )
        for outbox_id, attempt, outcome, error, started in conn.execute(q):
            tries[int(outbox_id)].append(
                {"attempt": attempt, "outcome": outcome, "error": error, "started_at": started}
            )
    return [DeliveryRow(*r[:7], tries[int(r[0])]) for r in rows]


@dataclass(frozen=True)
class SilenceAt:
    id: int
    matchers: dict[str, Any]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    expired_at: datetime | None
    expired_by: str | None


def silences_by_id(conn: Connection, ids: Sequence[int]) -> list[SilenceAt]:
    s = silences
    q = (
        select(
            s.c.id,
            s.c.matchers,
            s.c.starts_at,
            s.c.ends_at,
            s.c.created_by,
            s.c.comment,
            s.c.expired_at,
            s.c.expired_by,
        )
        .where(s.c.id.in_(list(ids)))
        .order_by(s.c.id)
    )
    return [SilenceAt(*row) for row in conn.execute(q)] if ids else []


def observations_by_id(conn: Connection, ids: Sequence[int]) -> dict[int, StoredObservation]:
    """Whole stored observations (with key and attributes: their provenance) by id."""
    return observation_rows.evidence(conn, ids)


@dataclass(frozen=True)
class AlertRow:
    threshold: str
    subject: str
    state: str
    since: datetime
    threshold_version: str
    updated_at: datetime
    acked_by: str | None
    acked_at: datetime | None
    ack_note: str | None
    last_trigger: int | None


def current_alerts(conn: Connection, states: Sequence[str]) -> list[AlertRow]:
    """Alerts in one of `states`, with the seq of the transition that put each there (found by
    `ix_triggers_alert_seq`, one probe per alert)."""
    s, t = alert_states, triggers
    last = (
        select(func.max(t.c.seq))
        .where(t.c.threshold == s.c.threshold, t.c.subject == s.c.subject)
        .where(t.c.kind == TRANSITION)
        .scalar_subquery()
    )
    q = (
        select(
            s.c.threshold,
            s.c.subject,
            s.c.state,
            s.c.since,
            s.c.threshold_version,
            s.c.updated_at,
            s.c.acked_by,
            s.c.acked_at,
            s.c.ack_note,
            last,
        )
        .where(s.c.state.in_(list(states)))
        .order_by(s.c.threshold, s.c.subject)
    )
    return [AlertRow(*row[:10]) for row in conn.execute(q)]


@dataclass(frozen=True)
class RejectPage:
    rows: list[dict[str, Any]]
    next_cursor: int | None


def reject_page(
    conn: Connection,
    *,
    feed: str | None,
    include_resolved: bool,
    cursor: int | None,
    limit: int,
) -> RejectPage:
    """Rejects, newest first, keyset-paged on id."""
    limit = max(1, min(limit, MAX_LIMIT))
    r = rejects
    q = select(
        r.c.id,
        r.c.feed,
        r.c.source,
        r.c.content_hash,
        r.c.record,
        r.c.field,
        r.c.reason,
        r.c.message,
        r.c.created_at,
        r.c.resolved_at,
        r.c.dismissed_by,
        r.c.dismiss_reason,
    )
    if feed is not None:
        q = q.where(r.c.feed == feed)
    if not include_resolved:
        q = q.where(r.c.resolved_at.is_(None))
    if cursor is not None:
        q = q.where(r.c.id < cursor)
    rows = [
        dict(row) for row in conn.execute(q.order_by(r.c.id.desc()).limit(limit + 1)).mappings()
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return RejectPage(rows, int(rows[-1]["id"]) if more else None)


def assessment_before(conn: Connection, model: str, seq: int) -> Assessment | None:
    """The model's assessment in force when entry `seq` was written: the newest (by assessment
    time) of those recorded before it."""
    a = assessments
    q = (
        select(a.c.model, a.c.assessed_at, a.c.by, a.c.compute, a.c.note)
        .where(a.c.model == model, a.c.trigger_seq < seq)
        .order_by(a.c.assessed_at.desc(), a.c.id.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return None if row is None else Assessment(*row)


def feed_runs_at(
    conn: Connection, feed: str, at: datetime
) -> tuple[datetime | None, datetime | None]:
    """(first attempt, last success) of `feed` as they stood at `at`, from its run history."""
    r = feed_runs
    first = conn.execute(
        select(func.min(r.c.started_at)).where(r.c.feed == feed, r.c.started_at <= at)
    ).scalar_one_or_none()
    last = conn.execute(
        select(func.max(r.c.finished_at)).where(
            and_(r.c.feed == feed, r.c.status == "ok", r.c.finished_at <= at)
        )
    ).scalar_one_or_none()
    return first, last

"""Feeds and feed runs: what ran when, with what outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from warden.store.engine import write_epoch
from warden.store.schema import failed_runs, feed_runs, feeds, observations, rejects


@dataclass(frozen=True)
class RunCounts:
    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0


def ensure_feed(conn: Connection, feed: str, connector: str) -> None:
    row = conn.execute(select(feeds.c.connector).where(feeds.c.id == feed)).first()
    if row is None:
        conn.execute(insert(feeds).values(id=feed, connector=connector))
    elif row[0] != connector:
        conn.execute(update(feeds).where(feeds.c.id == feed).values(connector=connector))


def start_run(conn: Connection, feed: str, connector: str, now: datetime) -> int:
    ensure_feed(conn, feed, connector)
    conn.execute(update(feeds).where(feeds.c.id == feed).values(last_attempt_at=now))
    result = conn.execute(
        insert(feed_runs)
        .values(feed=feed, started_at=now, status="running", epoch=write_epoch(conn))
        .returning(feed_runs.c.id)
    )
    return int(result.scalar_one())


def interrupt_running(conn: Connection, now: datetime) -> int:
    """Mark the runs still `running` as `interrupted`: called by a daemon as it starts, when
    they can only be what a stopped or killed daemon left."""
    result = conn.execute(
        update(feed_runs)
        .where(feed_runs.c.status == "running")
        .values(
            status="interrupted",
            finished_at=now,
            error="interrupted: warden stopped before the run finished",
        )
    )
    return int(result.rowcount)


def load_cursor(conn: Connection, feed: str) -> dict[str, str]:
    value = conn.execute(select(feeds.c.cursor).where(feeds.c.id == feed)).scalar_one_or_none()
    return dict(value) if isinstance(value, dict) else {}


def finish_run(
    conn: Connection,
    run_id: int,
    feed: str,
    now: datetime,
    counts: RunCounts,
    error: str | None,
    cursor: dict[str, str] | None = None,
    reason: str | None = None,
) -> None:
    status = "failed" if error else "ok"
    conn.execute(
        update(feed_runs)
        .where(feed_runs.c.id == run_id)
        .values(
            finished_at=now,
            status=status,
            ingested=counts.ingested,
            duplicates=counts.duplicates,
            rejected=counts.rejected,
            skipped=counts.skipped,
            error=error,
            error_reason=reason if error else None,
        )
    )
    values: dict[str, object] = {"last_error": error}
    if cursor is not None:
        values["cursor"] = dict(cursor)
    if not error:
        values["last_success_at"] = now
    conn.execute(update(feeds).where(feeds.c.id == feed).values(**values))


@dataclass(frozen=True)
class FeedRow:
    id: str
    connector: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_reason: str | None
    observations: int
    open_rejects: int
    failed_runs: int = 0  # evaluation runs whose logs ended in error or were cancelled


def overview(conn: Connection) -> dict[str, FeedRow]:
    """Every feed the store has seen, with its last outcome and counts."""
    last_failed = (
        select(feed_runs.c.feed, func.max(feed_runs.c.id).label("id"))
        .where(feed_runs.c.status == "failed")
        .group_by(feed_runs.c.feed)
        .subquery()
    )
    reasons = dict(
        conn.execute(
            select(feed_runs.c.feed, feed_runs.c.error_reason).join(
                last_failed, feed_runs.c.id == last_failed.c.id
            )
        ).all()
    )
    by_feed = select(observations.c.feed, func.count()).group_by(observations.c.feed)
    counts = {row[0]: int(row[1]) for row in conn.execute(by_feed)}
    open_q = (
        select(rejects.c.feed, func.count())
        .where(rejects.c.resolved_at.is_(None))
        .group_by(rejects.c.feed)
    )
    open_rejects = {row[0]: int(row[1]) for row in conn.execute(open_q)}
    runs_q = select(failed_runs.c.feed, func.count()).group_by(failed_runs.c.feed)
    runs_failed = {row[0]: int(row[1]) for row in conn.execute(runs_q)}
    f = feeds
    q = select(f.c.id, f.c.connector, f.c.last_attempt_at, f.c.last_success_at, f.c.last_error)
    return {
        row[0]: FeedRow(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            reasons.get(row[0]) if row[4] else None,
            int(counts.get(row[0], 0)),
            int(open_rejects.get(row[0], 0)),
            runs_failed.get(row[0], 0),
        )
        for row in conn.execute(q.order_by(f.c.id))
    }


@dataclass(frozen=True)
class RejectRow:
    id: int
    feed: str
    source: str
    record: str | None
    field: str | None
    reason: str
    message: str
    created_at: datetime
    resolved_at: datetime | None
    identity: str
    dismissed_by: str | None = None
    dismiss_reason: str | None = None


def rejected(
    conn: Connection, feed: str | None = None, include_resolved: bool = False
) -> list[RejectRow]:
    r = rejects
    q = select(
        r.c.id,
        r.c.feed,
        r.c.source,
        r.c.record,
        r.c.field,
        r.c.reason,
        r.c.message,
        r.c.created_at,
        r.c.resolved_at,
        r.c.identity,
        r.c.dismissed_by,
        r.c.dismiss_reason,
    )
    if feed is not None:
        q = q.where(r.c.feed == feed)
    if not include_resolved:
        q = q.where(r.c.resolved_at.is_(None))
    return [
        RejectRow(
            row.id,
            row.feed,
            row.source,
            row.record,
            row.field,
            row.reason,
            row.message,
            row.created_at,
            row.resolved_at,
            row.identity,
            row.dismissed_by,
            row.dismiss_reason,
        )
        for row in conn.execute(q.order_by(r.c.id))
    ]


def forget(conn: Connection, feed: str, sources: set[str]) -> None:
    """Drop `sources` from the feed's saved cursor, so its next run reads them again."""
    cursor = {k: v for k, v in load_cursor(conn, feed).items() if k not in sources}
    conn.execute(update(feeds).where(feeds.c.id == feed).values(cursor=cursor))


def resolve(conn: Connection, ids: list[int], now: datetime) -> None:
    if ids:
        conn.execute(update(rejects).where(rejects.c.id.in_(ids)).values(resolved_at=now))


def dismiss(
    conn: Connection, ids: list[int] | None, feed: str | None, by: str, reason: str, now: datetime
) -> list[RejectRow]:
    """Close open rejects without a retry: those in `ids` (None: every open one, of `feed` if
    given), noting who and why. Returns the rejects closed."""
    found = [
        r for r in rejected(conn, feed) if ids is None or r.id in ids
    ]  # open ones only: a resolved reject stays as it was
    if found:
        conn.execute(
            update(rejects)
            .where(rejects.c.id.in_([r.id for r in found]))
            .values(resolved_at=now, dismissed_by=by, dismiss_reason=reason)
        )
    return found


@dataclass(frozen=True)
class FailedRun:
    id: int
    feed: str
    source: str
    status: str  # error | cancelled
    message: str
    created_at: datetime


def failed(conn: Connection, feed: str | None = None) -> list[FailedRun]:
    """The evaluation runs recorded as failed, oldest first."""
    f = failed_runs
    q = select(f.c.id, f.c.feed, f.c.source, f.c.status, f.c.message, f.c.created_at)
    if feed is not None:
        q = q.where(f.c.feed == feed)
    return [FailedRun(*row) for row in conn.execute(q.order_by(f.c.id))]

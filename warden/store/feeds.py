"""Feeds and feed runs: what ran when, with what outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from warden.store.schema import feed_runs, feeds


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
        .values(feed=feed, started_at=now, status="running")
        .returning(feed_runs.c.id)
    )
    return int(result.scalar_one())


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
        )
    )
    values: dict[str, object] = {"last_error": error}
    if cursor is not None:
        values["cursor"] = dict(cursor)
    if not error:
        values["last_success_at"] = now
    conn.execute(update(feeds).where(feeds.c.id == feed).values(**values))

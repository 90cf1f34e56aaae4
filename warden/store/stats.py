"""Aggregates for `/metrics` and `warden status`, computed from the store at read time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from warden.store.schema import (
    alert_states,
    deliveries,
    failed_runs,
    feed_runs,
    feeds,
    observations,
    rejects,
    triggers,
)


def states(conn: Connection) -> list[tuple[str, str, str, datetime]]:
    s = alert_states
    q = select(s.c.threshold, s.c.subject, s.c.state, s.c.since).order_by(
        s.c.threshold, s.c.subject
    )
    return [(r[0], r[1], r[2], r[3]) for r in conn.execute(q)]


def trigger_counts(conn: Connection) -> list[tuple[str, str, int]]:
    t = triggers
    q = (
        select(t.c.threshold, t.c.to_state, func.count())
        .where(t.c.kind == "transition")
        .group_by(t.c.threshold, t.c.to_state)
    )
    return [(r[0], r[1], int(r[2])) for r in conn.execute(q)]


def feed_times(conn: Connection) -> list[tuple[str, datetime | None, datetime | None]]:
    q = select(feeds.c.id, feeds.c.last_attempt_at, feeds.c.last_success_at)
    return [(r[0], r[1], r[2]) for r in conn.execute(q)]


def feed_history(conn: Connection) -> list[tuple[str, datetime | None, datetime | None]]:
    """Each feed's first run start and last success: (feed, first attempt, last success)."""
    first = select(feed_runs.c.feed, func.min(feed_runs.c.started_at)).group_by(feed_runs.c.feed)
    starts = dict(conn.execute(first).all())
    q = select(feeds.c.id, feeds.c.last_success_at)
    return [(row[0], starts.get(row[0]), row[1]) for row in conn.execute(q)]


def last_runs(conn: Connection) -> list[tuple[str, str, datetime, datetime | None]]:
    """Each feed's last finished run: (feed, status, started, finished). A run interrupted by
    a stopped daemon says nothing of the feed and is passed over."""
    r = feed_runs
    last = (
        select(r.c.feed, func.max(r.c.id).label("id"))
        .where(r.c.finished_at.is_not(None), r.c.status != "interrupted")
        .group_by(r.c.feed)
        .subquery()
    )
    q = select(r.c.feed, r.c.status, r.c.started_at, r.c.finished_at).join(
        last, r.c.id == last.c.id
    )
    return [(row[0], row[1], row[2], row[3]) for row in conn.execute(q)]


def failure_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(feed, reason, failed runs)."""
    r = feed_runs
    # Runs that failed before reasons were recorded count as internal errors.
    reason = func.coalesce(r.c.error_reason, "internal_error")
    q = (
        select(r.c.feed, reason, func.count())
        .where(r.c.status == "failed")
        .group_by(r.c.feed, reason)
    )
    return [(row[0], row[1], int(row[2])) for row in conn.execute(q)]


def ingested_counts(conn: Connection) -> dict[str, int]:
    q = select(observations.c.feed, func.count()).group_by(observations.c.feed)
    return {r[0]: int(r[1]) for r in conn.execute(q)}


def unmapped_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(feed, kind, observations) kept with an id the registry does not know."""
    o = observations
    out = []
    for kind, known in (("benchmark", o.c.benchmark_known), ("model", o.c.model_known)):
        q = select(o.c.feed, func.count()).where(known.is_(False)).group_by(o.c.feed)
        out += [(feed, kind, int(n)) for feed, n in conn.execute(q)]
    return out


def rejected_counts(conn: Connection) -> list[tuple[str, str, int]]:
    q = select(rejects.c.feed, rejects.c.reason, func.count()).group_by(
        rejects.c.feed, rejects.c.reason
    )
    return [(r[0], r[1], int(r[2])) for r in conn.execute(q)]


def failed_run_counts(conn: Connection) -> list[tuple[str, str, int]]:
    q = select(failed_runs.c.feed, failed_runs.c.status, func.count()).group_by(
        failed_runs.c.feed, failed_runs.c.status
    )
    return [(f, s, int(n)) for f, s, n in conn.execute(q)]


def delivery_counts(conn: Connection) -> list[tuple[str, str, int]]:
    d = deliveries
    q = select(d.c.sink, d.c.outcome, func.count()).group_by(d.c.sink, d.c.outcome)
    return [(r[0], r[1], int(r[2])) for r in conn.execute(q)]


def last_delivery_outcomes(conn: Connection) -> dict[str, str]:
    """Each sink's most recent delivery outcome (delivered, retry or failed)."""
    d = deliveries
    last = select(d.c.sink, func.max(d.c.id).label("id")).group_by(d.c.sink).subquery()
    q = select(d.c.sink, d.c.outcome).join(last, d.c.id == last.c.id)
    return {r[0]: r[1] for r in conn.execute(q)}


def outbox_counts(conn: Connection) -> dict[str, int]:
    from warden.store.schema import outbox

    q = select(outbox.c.status, func.count()).group_by(outbox.c.status)
    return {r[0]: int(r[1]) for r in conn.execute(q)}


def pending_by_sink(conn: Connection) -> dict[str, tuple[int, datetime]]:
    """Each sink's notifications not yet delivered: how many, and when the oldest was queued."""
    from warden.store.schema import outbox

    q = (
        select(outbox.c.sink, func.count(), func.min(outbox.c.created_at))
        .where(outbox.c.status == "pending")
        .group_by(outbox.c.sink)
    )
    return {r[0]: (int(r[1]), r[2]) for r in conn.execute(q)}


def failed_by_sink(conn: Connection) -> dict[str, int]:
    """Each sink's notifications that failed for good (until re-driven)."""
    from warden.store.schema import outbox

    q = (
        select(outbox.c.sink, func.count())
        .where(outbox.c.status == "failed")
        .group_by(outbox.c.sink)
    )
    return {r[0]: int(r[1]) for r in conn.execute(q)}

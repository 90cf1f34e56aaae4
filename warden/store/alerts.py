"""Alert states and the trigger log rows. Writes are batched: one executemany per kind of row."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from warden.core.chain import CATALOG, GENESIS, Entry
from warden.core.model import State
from warden.store import merkle
from warden.store.engine import write_epoch
from warden.store.schema import alert_states, feed_runs, triggers, watched

# Any constant: PostgreSQL writers take this lock so the chain has one appender at a time.
_CHAIN_LOCK = 0x77617264


def lock(conn: Connection) -> None:
    """Serialise alert-state changes for the rest of this transaction. SQLite's write
    transactions (BEGIN IMMEDIATE) already are; PostgreSQL takes an advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})


def load_states(conn: Connection, threshold_ids: Iterable[str]) -> dict[tuple[str, str], State]:
    """The state of each threshold x subject that has one other than `inactive`. A subject
    without a row is inactive: rows are written only by transitions, so the many subjects that
    never crossed anything cost nothing to load."""
    s = alert_states
    q = select(s.c.threshold, s.c.subject, s.c.state).where(
        s.c.threshold.in_(list(threshold_ids)), s.c.state != State.INACTIVE.value
    )
    states = {s.value: s for s in State}
    return {(t, subject): states[state] for t, subject, state in conn.execute(q).all()}


def pending_since(
    conn: Connection, threshold_ids: Iterable[str]
) -> dict[tuple[str, str], datetime]:
    """When each pending threshold x subject became pending (for duration-based `for`)."""
    s = alert_states
    q = select(s.c.threshold, s.c.subject, s.c.since).where(
        s.c.threshold.in_(list(threshold_ids)), s.c.state == State.PENDING.value
    )
    return {(t, subject): since for t, subject, since in conn.execute(q).all()}


def breached_at(conn: Connection, threshold_ids: Iterable[str]) -> dict[tuple[str, str], datetime]:
    """When each firing threshold x subject was last found breached (for keep_firing_for)."""
    s = alert_states
    q = select(s.c.threshold, s.c.subject, s.c.last_breached_at).where(
        s.c.threshold.in_(list(threshold_ids)),
        s.c.state == State.FIRING.value,
        s.c.last_breached_at.is_not(None),
    )
    return {(t, subject): at for t, subject, at in conn.execute(q).all()}


def mark_breached(conn: Connection, keys: Iterable[tuple[str, str]], now: datetime) -> None:
    """Record that these threshold x subject pairs were found breached now."""
    rows = [{"b_threshold": t, "b_subject": s, "at": now} for t, s in keys]
    if not rows:
        return
    s = alert_states
    stmt = (
        update(s)
        .where(s.c.threshold == bindparam("b_threshold"), s.c.subject == bindparam("b_subject"))
        .values(last_breached_at=bindparam("at"))
    )
    conn.execute(stmt, rows)


def save_states(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write alert states (dicts with threshold, subject, state, since, threshold_version,
    updated_at), inserting or replacing each threshold x subject's row."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(alert_states)
    stmt = stmt.on_conflict_do_update(
        index_elements=[alert_states.c.threshold, alert_states.c.subject],
        set_={c: stmt.excluded[c] for c in ("state", "since", "threshold_version", "updated_at")},
    )
    conn.execute(stmt, list(rows))


def chain_head(conn: Connection) -> tuple[int, str]:
    """(last seq, last hash)."""
    row = conn.execute(
        select(triggers.c.seq, triggers.c.hash).order_by(triggers.c.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append_triggers(conn: Connection, entries: Sequence[Entry]) -> None:
    """Append entries whose hashes were chained by the caller (warden.triggerlog.entries), and
    their leaves to the Merkle tree, in the same transaction. Each row records the leadership
    epoch its entry carries, or else the one this transaction writes under (write_epoch)."""
    if not entries:
        return
    # Callers took the lock before reading the chain head; taken again (it stacks) so that no
    # append, whatever replica makes it, ever runs outside it: one total order.
    lock(conn)
    epoch = None if all(e.epoch is not None for e in entries) else write_epoch(conn)
    conn.execute(
        insert(triggers),
        [
            {
                "seq": e.seq,
                "at": e.at,
                "threshold": e.threshold,
                "threshold_version": e.threshold_version,
                "subject": e.subject,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "content": e.content,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
                "kind": e.kind,
                "epoch": epoch if e.epoch is None else e.epoch,
            }
            for e in entries
        ],
    )
    merkle.append(conn, entries)


def entries(
    conn: Connection, *, threshold: str | None = None, seqs: list[int] | None = None
) -> Iterator[Entry]:
    """Trigger-log entries in chain order, optionally only some."""
    t = triggers
    q = select(
        t.c.seq,
        t.c.at,
        t.c.threshold,
        t.c.threshold_version,
        t.c.subject,
        t.c.from_state,
        t.c.to_state,
        t.c.content,
        t.c.prev_hash,
        t.c.hash,
        t.c.kind,
        t.c.epoch,
    )
    if threshold is not None:
        q = q.where(t.c.threshold == threshold)
    if seqs is not None:
        q = q.where(t.c.seq.in_(seqs))
    for row in conn.execute(q.order_by(t.c.seq)):
        yield Entry(*row)


def last_catalog_versions(conn: Connection) -> dict[str, str]:
    """Threshold id -> version as the newest catalog entry of the trigger log recorded them."""
    q = (
        select(triggers.c.content)
        .where(triggers.c.kind == CATALOG)
        .order_by(triggers.c.seq.desc())
        .limit(1)
    )
    content = conn.execute(q).scalar_one_or_none()
    if content is None:
        return {}
    versions: dict[str, str] = json.loads(content)["versions"]
    return versions


def watch_starts(
    conn: Connection, threshold_ids: Iterable[str], now: datetime
) -> dict[str, datetime]:
    """When warden started watching each threshold: its first evaluation, recorded now for
    those evaluated for the first time."""
    wanted = sorted(set(threshold_ids))
    known: dict[str, datetime] = {}
    for i in range(0, len(wanted), 500):
        q = select(watched.c.threshold, watched.c.since_at).where(
            watched.c.threshold.in_(wanted[i : i + 500])
        )
        known.update({t: since for t, since in conn.execute(q)})
    new = [t for t in wanted if t not in known]
    if new:
        conn.execute(insert(watched), [{"threshold": t, "since_at": now} for t in new])
        known.update(dict.fromkeys(new, now))
    return known


def first_runs(conn: Connection) -> dict[str, tuple[datetime, datetime | None]]:
    """When each feed's first run started and ended (None: it is still running): what it read
    then, and what it finds later that happened before it, was history to warden. A first run
    in progress counts too: another feed's cycle may read what it has stored so far."""
    r = feed_runs
    q = (
        select(r.c.feed, func.min(r.c.started_at), func.min(r.c.finished_at))
        .where(r.c.status != "interrupted")
        .group_by(r.c.feed)
    )
    return {feed: (started, ended) for feed, started, ended in conn.execute(q)}


def threshold_ids(conn: Connection) -> set[str]:
    """The threshold ids the store has alerts or trigger-log entries of."""
    ids = {r[0] for r in conn.execute(select(alert_states.c.threshold).distinct())}
    ids |= {r[0] for r in conn.execute(select(triggers.c.threshold).distinct()) if r[0]}
    return ids


def subjects(conn: Connection, threshold: str) -> set[str]:
    """The subjects `threshold` has alert states for."""
    q = select(alert_states.c.subject).where(alert_states.c.threshold == threshold)
    return {r[0] for r in conn.execute(q)}

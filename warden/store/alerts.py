"""Alert states and the trigger log rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import Connection, insert, select, text, update

from warden.model import AlertState, State
from warden.store.schema import alert_states, triggers
from warden.triggerlog import GENESIS, Entry, chain_hash

# Any constant: PostgreSQL writers take this lock so the chain has one appender at a time.
_CHAIN_LOCK = 0x77617264


def load_states(
    conn: Connection, threshold_ids: Iterable[str]
) -> dict[tuple[str, str], AlertState]:
    ids = list(threshold_ids)
    s = alert_states
    q = select(
        s.c.threshold, s.c.subject, s.c.state, s.c.since, s.c.threshold_version, s.c.evidence_id
    )
    if ids:
        q = q.where(s.c.threshold.in_(ids))
    out = {}
    for row in conn.execute(q):
        st = AlertState(row[0], row[1], State(row[2]), row[3], row[4], row[5])
        out[(st.threshold, st.subject)] = st
    return out


def save_state(conn: Connection, st: AlertState, now: datetime, *, exists: bool) -> None:
    values = {
        "state": st.state.value,
        "since": st.since,
        "threshold_version": st.threshold_version,
        "evidence_id": st.evidence_id,
        "updated_at": now,
    }
    if exists:
        conn.execute(
            update(alert_states)
            .where(alert_states.c.threshold == st.threshold, alert_states.c.subject == st.subject)
            .values(**values)
        )
    else:
        conn.execute(
            insert(alert_states).values(threshold=st.threshold, subject=st.subject, **values)
        )


def lock(conn: Connection) -> None:
    """Serialise alert-state changes for the rest of this transaction. SQLite's write
    transactions (BEGIN IMMEDIATE) already are; PostgreSQL takes an advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})


def chain_head(conn: Connection) -> tuple[int, str]:
    """(last seq, last hash)."""
    row = conn.execute(
        select(triggers.c.seq, triggers.c.hash).order_by(triggers.c.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append_trigger(
    conn: Connection,
    *,
    seq: int,
    at: datetime,
    threshold: str,
    threshold_version: str,
    subject: str,
    from_state: State,
    to_state: State,
    content: str,
    prev_hash: str,
) -> str:
    digest = chain_hash(prev_hash, content)
    conn.execute(
        insert(triggers).values(
            seq=seq,
            at=at,
            threshold=threshold,
            threshold_version=threshold_version,
            subject=subject,
            from_state=from_state.value,
            to_state=to_state.value,
            content=content,
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    return digest


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
    )
    if threshold is not None:
        q = q.where(t.c.threshold == threshold)
    if seqs is not None:
        q = q.where(t.c.seq.in_(seqs))
    for row in conn.execute(q.order_by(t.c.seq)):
        yield Entry(*row)  # type: ignore[call-arg]

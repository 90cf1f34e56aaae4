"""What people do to alerts, and what warden remembers about notifying them: silences,
acknowledgements and notices (repeats, escalations)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from warden.core.matchers import Matchers, Silence
from warden.store.schema import alert_states, notices, silences


def add_silence(
    conn: Connection,
    matchers: Matchers,
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime,
) -> int:
    result = conn.execute(
        insert(silences)
        .values(
            matchers=matchers.model_dump(),
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            created_at=now,
        )
        .returning(silences.c.id)
    )
    return int(result.scalar_one())


@lru_cache(maxsize=4096)
def _matchers(spec: str) -> Matchers:
    """A silence's matchers, validated and compiled once per distinct spec (they are frozen):
    the alert cycle reads every active silence under the write lock (alerting.cycle)."""
    return Matchers.model_validate_json(spec)


def _silence(row: Any) -> Silence:
    return Silence(
        int(row.id),
        _matchers(json.dumps(row.matchers, sort_keys=True)),
        row.starts_at,
        row.ends_at if row.expired_at is None else min(row.ends_at, row.expired_at),
        row.created_by,
        row.comment,
    )


@dataclass(frozen=True)
class SilenceRow:
    silence: Silence
    created_at: datetime
    expired_at: datetime | None
    expired_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """The silence as JSON, in the shape `POST /api/v1/silences` takes: what both the API
        and `warden silence list --json` answer."""
        s = self.silence
        return {
            "id": s.id,
            **s.matchers.model_dump(),
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(),
            "created_by": s.created_by,
            "comment": s.comment,
            "expired_by": self.expired_by,
        }


def list_silences(conn: Connection, now: datetime, include_ended: bool = False) -> list[SilenceRow]:
    s = silences
    q = select(s).order_by(s.c.id)
    if not include_ended:
        q = q.where(s.c.expired_at.is_(None), s.c.ends_at > now)
    return [
        SilenceRow(_silence(row), row.created_at, row.expired_at, row.expired_by)
        for row in conn.execute(q)
    ]


def active_silences(conn: Connection, now: datetime) -> list[Silence]:
    s = silences
    q = select(s).where(s.c.expired_at.is_(None), s.c.starts_at <= now, s.c.ends_at > now)
    return [_silence(row) for row in conn.execute(q)]


def get_silence(conn: Connection, silence_id: int) -> SilenceRow | None:
    row = conn.execute(select(silences).where(silences.c.id == silence_id)).first()
    if row is None:
        return None
    return SilenceRow(_silence(row), row.created_at, row.expired_at, row.expired_by)


def expire_silence(conn: Connection, silence_id: int, by: str, now: datetime) -> None:
    conn.execute(
        update(silences).where(silences.c.id == silence_id).values(expired_at=now, expired_by=by)
    )


def ended_unlogged(conn: Connection, now: datetime) -> list[Silence]:
    """Silences whose end has passed and was not logged yet."""
    s = silences
    q = select(s).where(s.c.expired_at.is_(None), s.c.ends_at <= now)
    return [_silence(row) for row in conn.execute(q)]


def acknowledge(
    conn: Connection, threshold: str, subject: str, by: str, note: str, now: datetime
) -> bool:
    """Mark an alert acknowledged; False when it has no stored state."""
    s = alert_states
    result = conn.execute(
        update(s)
        .where(s.c.threshold == threshold, s.c.subject == subject)
        .values(acked_by=by, acked_at=now, ack_note=note)
    )
    return bool(result.rowcount)


@dataclass(frozen=True)
class Ack:
    by: str
    at: datetime
    note: str


def acks(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Ack]:
    wanted = list(set(keys))
    if not wanted:
        return {}
    s = alert_states
    out = {}
    for i in range(0, len(wanted), 500):
        q = select(s.c.threshold, s.c.subject, s.c.acked_by, s.c.acked_at, s.c.ack_note).where(
            tuple_(s.c.threshold, s.c.subject).in_(wanted[i : i + 500]), s.c.acked_by.is_not(None)
        )
        for t, subject, by, at, note in conn.execute(q):
            out[(t, subject)] = Ack(by, at, note or "")
    return out


def clear(conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
    """An alert that stopped firing: its acknowledgement and notices go."""
    if not keys:
        return
    s = alert_states
    for i in range(0, len(keys), 500):
        chunk = list(keys[i : i + 500])
        conn.execute(
            update(s)
            .where(tuple_(s.c.threshold, s.c.subject).in_(chunk))
            .values(acked_by=None, acked_at=None, ack_note=None)
        )
        conn.execute(
            delete(notices).where(tuple_(notices.c.threshold, notices.c.subject).in_(chunk))
        )


@dataclass(frozen=True)
class Firing:
    threshold: str
    subject: str
    since: datetime
    acked: bool


def firing(conn: Connection) -> list[Firing]:
    s = alert_states
    q = select(s.c.threshold, s.c.subject, s.c.since, s.c.acked_by).where(s.c.state == "firing")
    return [Firing(t, subj, since, by is not None) for t, subj, since, by in conn.execute(q)]


@dataclass(frozen=True)
class Notice:
    last_at: datetime
    repeats: int
    escalated_at: datetime | None


def notices_of(conn: Connection) -> dict[tuple[str, str, int], Notice]:
    n = notices
    q = select(n.c.threshold, n.c.subject, n.c.route, n.c.last_at, n.c.repeats, n.c.escalated_at)
    return {(r[0], r[1], int(r[2])): Notice(r[3], int(r[4]), r[5]) for r in conn.execute(q)}


def save_notice(conn: Connection, threshold: str, subject: str, route: int, notice: Notice) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {
        "threshold": threshold,
        "subject": subject,
        "route": route,
        "last_at": notice.last_at,
        "repeats": notice.repeats,
        "escalated_at": notice.escalated_at,
    }
    stmt = dialect.insert(notices).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[notices.c.threshold, notices.c.subject, notices.c.route],
        set_={k: stmt.excluded[k] for k in ("last_at", "repeats", "escalated_at")},
    )
    conn.execute(stmt)

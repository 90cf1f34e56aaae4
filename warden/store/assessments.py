"""Recorded capability assessments: what `since_assessment` conditions measure from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from warden.core.model import COMPUTE, Assessment
from warden.store.schema import assessments, observations


def record(conn: Connection, a: Assessment, trigger_seq: int) -> None:
    conn.execute(
        insert(assessments).values(
            model=a.model,
            assessed_at=a.at,
            by=a.by,
            compute=a.compute,
            note=a.note,
            trigger_seq=trigger_seq,
        )
    )


def latest(conn: Connection, models: Iterable[str] | None = None) -> dict[str, Assessment]:
    """Each model's most recent assessment (by assessment time)."""
    t = assessments
    newest = select(t.c.model, func.max(t.c.assessed_at).label("at")).group_by(t.c.model).subquery()
    q = (
        select(t.c.model, t.c.assessed_at, t.c.by, t.c.compute, t.c.note)
        .join(newest, (t.c.model == newest.c.model) & (t.c.assessed_at == newest.c.at))
        .order_by(t.c.id)
    )
    if models is not None:
        q = q.where(t.c.model.in_(list(models)))
    return {row[0]: Assessment(*row) for row in conn.execute(q)}


def history(conn: Connection, model: str | None = None) -> list[tuple[Assessment, int]]:
    """Every recorded assessment, oldest first, with its trigger-log entry."""
    t = assessments
    q = select(t.c.model, t.c.assessed_at, t.c.by, t.c.compute, t.c.note, t.c.trigger_seq)
    if model is not None:
        q = q.where(t.c.model == model)
    return [(Assessment(*row[:5]), int(row[5])) for row in conn.execute(q.order_by(t.c.id))]


def newest_compute(conn: Connection, model: str, before: datetime) -> float | None:
    """The model's newest training compute observation at or before `before`."""
    o = observations
    q = (
        select(o.c.value)
        .where(
            o.c.benchmark == COMPUTE[0],
            o.c.metric == COMPUTE[1],
            o.c.subject == model,
            o.c.observed_at <= before,
        )
        .order_by(o.c.observed_at.desc(), o.c.id.desc())
        .limit(1)
    )
    value = conn.execute(q).scalar_one_or_none()
    return None if value is None else float(value)

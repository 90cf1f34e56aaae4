"""Threshold definitions by version hash (warden/catalog/definitions.py makes the text)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from warden.store.schema import threshold_definitions


def save(conn: Connection, items: Iterable[tuple[str, str, str]], now: datetime) -> int:
    """Keep each (version, threshold id, definition text) not kept yet; returns how many were
    new. A version is content-addressed: the first text stored under it stays."""
    unique = {v: (t, text) for v, t, text in items}
    rows: list[dict[str, object]] = [
        {"version": v, "threshold": t, "definition": text, "first_seen_at": now}
        for v, (t, text) in unique.items()
    ]
    if not rows:
        return 0
    known = set(load(conn, list(unique)))
    new = [r for r in rows if r["version"] not in known]
    if not new:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(threshold_definitions).on_conflict_do_nothing(), new)
    return len(new)


def load(conn: Connection, versions: Iterable[str]) -> dict[str, tuple[str, str]]:
    """version -> (threshold id, definition text), for the versions kept."""
    wanted = sorted(set(versions))
    d = threshold_definitions
    out = {}
    for i in range(0, len(wanted), 500):
        q = select(d.c.version, d.c.threshold, d.c.definition).where(
            d.c.version.in_(wanted[i : i + 500])
        )
        out.update({v: (t, text) for v, t, text in conn.execute(q)})
    return out

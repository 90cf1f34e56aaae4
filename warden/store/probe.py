"""A look at a database without changing it (`warden check`): is the dialect supported, does
it answer, and which (benchmark, metric) pairs do its observations have. A SQLite file is
opened read-only and a missing one is not created; nothing is migrated."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.exc import DBAPIError

from warden.store.engine import StoreUnavailable, cause, dialect_of, make_engine, sqlite_path
from warden.store.observations import pairs_with_evidence


@dataclass(frozen=True)
class Look:
    dialect: str
    where: str  # the URL without its password
    exists: bool = True  # False: a SQLite file not made yet
    migrated: bool = False  # the schema has the observations table
    pairs: set[tuple[str, str]] = field(default_factory=set)
    path: Path | None = None  # the SQLite file


def look(url: str) -> Look:
    """What the database at `url` holds. UnsupportedDatabase for a dialect warden does not
    support; StoreUnavailable (naming the host and the cause) when it does not answer."""
    from sqlalchemy.engine import make_url

    dialect = dialect_of(url)
    where = make_url(url).render_as_string(hide_password=True)
    path = sqlite_path(url)
    if dialect == "sqlite" and path is not None and not path.exists():
        return Look(dialect, where, exists=False, path=path)
    engine = _read_only(path) if path is not None else make_engine(url)
    try:
        with engine.connect() as conn:
            migrated = inspect(conn).has_table("observations")
            pairs = pairs_with_evidence(conn) if migrated else set()
    except DBAPIError as exc:
        raise StoreUnavailable(where, cause(exc)) from exc
    finally:
        engine.dispose()
    return Look(dialect, where, True, migrated, pairs, path)


def _read_only(path: Path) -> Engine:
    uri = f"{path.absolute().as_uri()}?mode=ro"
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))

"""The migrations build exactly the schema the code declares (warden/store/schema.py), on SQLite
and PostgreSQL: a column added to one and not the other fails here, not in a user's store."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from warden.store import Store
from warden.store.schema import metadata


def test_the_migrated_store_matches_the_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(context, metadata) if not _expression_index(d)]
    assert diff == []


def _expression_index(d: object) -> bool:
    """Alembic cannot compare an index on an expression (`observed_at DESC`) on SQLite: it
    reports it removed and added again. Nothing else is passed over."""
    return (
        isinstance(d, tuple)
        and d[0] in ("add_index", "remove_index")
        and d[1].name == "ix_observations_series"
    )

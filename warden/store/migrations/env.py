"""Alembic environment: warden passes its engine in `config.attributes`."""

from __future__ import annotations

from alembic import context

from warden.store.schema import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        # UTCDateTime is text on SQLite by design; comparing types there reports noise.
        compare_type=False,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

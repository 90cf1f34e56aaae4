"""The store: the only code that issues SQL. `Store.write()` and `Store.read()` hand out
connections inside a transaction; the submodules hold the queries for one concept each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from warden.store.engine import StoreError, make_engine, pending_migrations, upgrade

__all__ = ["Store", "StoreError"]


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        """The URL without its password, for logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def upgrade(self) -> None:
        upgrade(self.engine)

    def ready(self) -> tuple[bool, str]:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if pending_migrations(self.engine):
                return False, "database schema is not at the latest migration"
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            return False, f"database unreachable: {type(exc).__name__}: {exc}"
        return True, "ok"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(warden_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()

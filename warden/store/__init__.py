"""The store: the only code that issues SQL. `Store.write()` and `Store.read()` hand out
connections inside a transaction; the submodules hold the queries for one concept each.

A database that does not answer (or refuses to work: a connection lost, a file that cannot be
opened) raises `StoreUnavailable` from `read`, `write`, `upgrade`: one line naming the store and
the cause, never a driver's traceback; `health` keeps whether the last use worked, and since
when it has not (`warden_store_up`, `/readyz`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from warden.store.engine import (
    StoreError,
    StoreMissing,
    StoreUnavailable,
    UnsupportedDatabase,
    cause,
    make_engine,
    pending_migrations,
    sqlite_path,
    upgrade,
)

__all__ = ["Store", "StoreError", "StoreMissing", "StoreUnavailable", "UnsupportedDatabase"]


@dataclass
class Health:
    """Whether the store answered the last time it was used; while it does not, since when
    (monotonic seconds) and why."""

    up: bool = True
    down_since: float | None = None
    cause: str = ""
    failures: int = 0  # uses that failed since it went down

    def failed(self, why: str) -> None:
        if self.up:
            self.down_since = time.monotonic()
        self.up = False
        self.cause = why
        self.failures += 1

    def answered(self) -> float | None:
        """Note a use that worked; the seconds it was down for, if it was."""
        if self.up:
            return None
        down = time.monotonic() - (self.down_since or time.monotonic())
        self.up, self.down_since, self.cause, self.failures = True, None, "", 0
        return down


def _outage(exc: BaseException) -> bool:
    """Whether a database error says the store cannot be used now (rather than that a
    statement is wrong): a connection refused or lost, a file that cannot be opened."""
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


class Store:
    def __init__(self, url: str, *, create: bool = True) -> None:
        """A store on `url`. Without `create`, a SQLite file that does not exist is refused
        (StoreMissing) instead of being made: commands that read a store never create one."""
        self.url = url
        self.engine: Engine = _engine(url, create)
        self.health = Health()
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        """The URL without its password, for logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def upgrade(self) -> None:
        with self._guard():
            upgrade(self.engine)

    def ready(self) -> tuple[bool, str]:
        try:
            with self._guard(), self.engine.connect() as conn:
                self._answered()
                conn.execute(text("SELECT 1"))
            if pending_migrations(self.engine):
                return False, "database schema is not at the latest migration"
        except StoreUnavailable as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            return False, f"database unreachable: {type(exc).__name__}: {cause(exc)}"
        return True, "ok"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self._guard(), self.engine.connect() as conn:
            self._answered()
            conn = conn.execution_options(warden_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._guard(), self.engine.connect() as conn, conn.begin():
            self._answered()
            yield conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn the database's refusal into StoreUnavailable and keep `health`."""
        try:
            yield
        except DBAPIError as exc:
            if not _outage(exc):
                raise
            with self._lock:
                self.health.failed(cause(exc))
            raise StoreUnavailable(self.describe(), cause(exc)) from exc

    def _answered(self) -> None:
        if not self.health.up:
            with self._lock:
                self.health.answered()

    def dispose(self) -> None:
        self.engine.dispose()


def _engine(url: str, create: bool) -> Engine:
    if not create:
        path = sqlite_path(url)
        if path is not None and not path.exists():
            raise StoreMissing(path.absolute())
    return make_engine(url)

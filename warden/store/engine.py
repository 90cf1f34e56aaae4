"""Engines and migrations: SQLite (WAL, a file) by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from warden.core.errors import WardenError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DIALECTS = ("sqlite", "postgresql")  # the databases warden's migrations and queries support
CONNECT_TIMEOUT_SECONDS = 10  # a PostgreSQL that does not answer fails this fast


class StoreError(WardenError):
    pass


class UnsupportedDatabase(StoreError):
    """A database_url warden cannot use (a dialect it does not support, or not a URL)."""

    exit_code = 2

    def __init__(self, url: str, why: str) -> None:
        self.url = url
        self.why = why
        super().__init__(f"database_url {url!r}: {why}")


class StoreMissing(StoreError):
    """A command that only reads or changes an existing store found no SQLite file."""

    exit_code = 2

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"no database at {path}: this command reads an existing store and does not create "
            "one (check --config or WARDEN_CONFIG, and the working directory for a relative "
            "database_url; `warden db upgrade` creates an empty store)"
        )


class Fenced(StoreError):
    """A leader-only write under a leadership epoch that is no longer the current one: another
    replica has become the leader since (warden/store/leader.py). Nothing was written."""

    def __init__(self, epoch: int, current: int | None) -> None:
        self.epoch = epoch
        self.current = current
        super().__init__(
            f"fenced: this write was started as leader under epoch {epoch}, and the store's "
            f"epoch is now {current}: another replica leads; nothing was written"
        )


# The leadership epoch the current job runs under (a leader-only job; None for the rest). Every
# write transaction begun with it set checks it against the store's (the fencing token).
FENCE: ContextVar[tuple[int, float] | None] = ContextVar("warden_fence", default=None)


class StoreUnavailable(StoreError):
    """The database does not answer, or refuses to work (a condition, not a bug: runtime
    exit 1, /readyz false, warden_store_up 0)."""

    def __init__(self, where: str, cause: str) -> None:
        self.where = where
        self.cause = cause
        super().__init__(f"store {where} unavailable: {cause}")


def dialect_of(url: str) -> str:
    """The dialect of `url` if warden supports it; UnsupportedDatabase otherwise."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UnsupportedDatabase(_hidden(url), f"not a database URL ({exc})") from None
    name = parsed.get_backend_name()
    if name not in DIALECTS:
        raise UnsupportedDatabase(
            parsed.render_as_string(hide_password=True),
            f"warden does not support {name!r} databases; use {' or '.join(DIALECTS)} "
            "(sqlite:///path/warden.db, postgresql://user@host/db)",
        )
    return name


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def cause(exc: BaseException) -> str:
    """The first line of a database error's own message (no SQL, no traceback)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def _hidden(url: str) -> str:
    """`url` with a password (user:password@) blanked, for a message about a URL not parsed."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, auth = head.partition("://")
    user = auth.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in auth else ''}@{tail}"


def make_engine(url: str) -> Engine:
    dialect = dialect_of(url)
    parsed = make_url(url)
    if dialect == "sqlite":
        return _sqlite_engine(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args = (
        {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )
    engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    event.listen(engine, "begin", _fence)
    return engine


def _fence(conn: Any) -> None:
    """A write transaction of a leader-only job first reads the leadership epoch FOR SHARE: a
    new leader's increment waits for this transaction to end, and once it has incremented,
    this check fails (Fenced). A transaction left idle (its process stalled) longer than the
    failover window is ended by PostgreSQL, so it never holds a new leader back for longer."""
    fence = FENCE.get()
    if fence is None or not conn.get_execution_options().get("warden_write", False):
        return
    epoch, idle_seconds = fence
    conn.exec_driver_sql(
        f"SET LOCAL idle_in_transaction_session_timeout = {max(int(idle_seconds * 1000), 1)}"
    )
    row = conn.exec_driver_sql("SELECT epoch FROM leadership WHERE id = 1 FOR SHARE").first()
    current = None if row is None else int(row[0])
    if current != epoch:
        raise Fenced(epoch, current)


def write_epoch(conn: Connection) -> int | None:
    """The leadership epoch this write transaction runs under, recorded on the rows it writes
    (trigger-log entries, feed runs) so that who decided what can be read back after a failover.

    - A leader-only job's transaction: its fencing token, which `_fence` read FOR SHARE as the
      transaction began; no new leader's increment can commit before this one does, so it is
      the epoch in force when the rows are written.
    - Any other writer's (a push evaluated on a follower, dispatch, a person's `warden ack`):
      the store's epoch, read now, in this transaction, by a plain read. Callers read it under
      the lock that orders what they write (the chain lock, warden.store.alerts.lock), so along
      the trigger log epochs never decrease: each appender reads the latest committed epoch
      after the one before it has committed. Not FOR SHARE: a follower's transaction is not cut
      short when its process stalls (only leader-only ones are), and a share lock left held
      would hold every election back for as long.
    - SQLite: None (one process, no election). PostgreSQL before any replica led: 0."""
    if conn.dialect.name != "postgresql":
        return None
    fence = FENCE.get()
    if fence is not None and conn.get_execution_options().get("warden_write", False):
        return fence[0]
    row = conn.exec_driver_sql("SELECT epoch FROM leadership WHERE id = 1").first()
    return None if row is None else int(row[0])


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:":
        raise StoreError(f"database_url {url!r}: warden needs a SQLite file, not memory")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    opened: list[bool] = []  # whether a connection was made once

    @event.listens_for(engine, "do_connect")
    def _never_make_it_again(_dialect: Any, _record: Any, _args: Any, _params: Any) -> None:
        # SQLite makes a missing file on connect. Once this engine has opened the store, a file
        # that has gone (moved, deleted while running) is an outage, not a new empty store for
        # the daemon's next job to write into.
        if opened and not Path(database).exists():
            raise sqlite3.OperationalError(f"unable to open database file: {database} is gone")
        opened.append(True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy docs recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front, so a read never has to be upgraded mid-way.
        immediate = conn.get_execution_options().get("warden_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


class NewerSchema(StoreError):
    """The store's schema is at a revision this warden does not know: a newer warden wrote it
    (a deployment rolled back after an upgrade). Migrating it down is not warden's to guess."""

    def __init__(self, where: str, found: str, head: str) -> None:
        super().__init__(
            f"store {where} is at schema revision {found}, which this warden (schema up to "
            f"{head}) does not know: a newer warden wrote it. Run that version (or newer), or "
            "restore a backup taken before the upgrade"
        )


def upgrade(engine: Engine) -> None:
    """Apply every migration (idempotent). On PostgreSQL, replicas starting together migrate
    one after the other (a session advisory lock), so the first migrates and the rest find the
    schema at head. A store at a revision this code does not know is `NewerSchema`."""
    if engine.dialect.name != "postgresql":
        _upgrade(engine)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        conn.commit()
        try:
            _upgrade(engine)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            conn.commit()


def _upgrade(engine: Engine) -> None:
    config = alembic_config(engine)
    script = ScriptDirectory.from_config(config)
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        where = engine.url.render_as_string(hide_password=True)
        raise NewerSchema(where, ", ".join(unknown), ", ".join(script.get_heads()))
    command.upgrade(config, "head")


MIGRATION_LOCK = 0x7761726D  # any constant: the advisory lock replicas migrate under


def pending_migrations(engine: Engine) -> bool:
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    return set(current) != set(script.get_heads())

"""Large inserts on PostgreSQL through COPY: the rows are copied into a session-local temporary
table, then moved with one `INSERT ... SELECT ... ON CONFLICT DO NOTHING` in the caller's
transaction, in the order given (`ord`), so ids are assigned as a plain INSERT assigns them and
duplicates are skipped as it skips them.

psycopg has COPY but no "COPY, skipping duplicates"; PostgreSQL's COPY stops at the first
duplicate, and re-ingest (a feed polled again) is mostly duplicates, so the rows pass through
the staging table. What the staging costs is kept small (each measured with `perf/run.py
--database postgresql://... --only insert`, 50,000 observations, 1,000 a batch):

- the staging table is made once per connection, not per batch (a `CREATE ... IF NOT EXISTS`
  and a `TRUNCATE` a batch cost a few percent of the time); a rollback (of a transaction or a
  savepoint) may have taken it with it, so after one the next batch makes sure again;
- it is empty when a transaction begins (`ON COMMIT DELETE ROWS`; a rollback takes the copied
  rows back), so it is emptied (`TRUNCATE`) only for a second batch in one transaction;
- COPY in the binary format with the staging table's own column types: the server parses no
  text (about a quarter less time in the COPY);
- the INSERT's command tag counts the new rows: no `RETURNING` of every id.

The plain executemany INSERT reached 10% of a raw COPY of the same rows; this path 46% with the
staging table made and truncated per batch, in text and with RETURNING, and 66% as it is now
(the two interleaved in one run: 37,218 and 53,521 rows/s against COPY's 81,071; perf/README.md).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, event
from sqlalchemy.engine import RootTransaction
from sqlalchemy.exc import DBAPIError

# Key in the DBAPI connection's `info` (which lives as long as that connection, and is cleared
# when the pool reconnects): {staging table name: _Staging}.
_HELD = "warden.store.pgcopy.staging"
# PostgreSQL's json type's binary form is its text: a column of it is fed as text (the rows
# carry JSON already serialised, as the JSON column type would serialise it).
_AS_TEXT = {114: 25}  # json -> text


def insert_by_copy(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert `rows` (tuples of `columns`, in that order) into `table`, skipping those that
    violate a unique constraint; returns how many were new. A database error is raised as
    SQLAlchemy raises one of a plain INSERT (DBAPIError), which callers catch."""
    dbapi = conn.dialect.dbapi
    assert dbapi is not None
    try:
        return _copy_and_insert(conn, table.name, columns, rows)
    except dbapi.Error as exc:
        _forget(conn)  # whatever failed, the next call makes sure of its staging table again
        raise DBAPIError.instance(f"COPY {table.name}", None, exc, dbapi.Error) from None


@dataclass
class _Staging:
    """A staging table this connection holds: its column type oids (for a binary COPY) and the
    transaction that last filled it (it holds that batch's rows until the transaction ends)."""

    types: list[int]
    filled_in: weakref.ref[RootTransaction] | None = None


def _copy_and_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    raw = conn.connection.driver_connection
    assert raw is not None  # a live psycopg connection: the caller holds a transaction
    names = ", ".join(columns)
    # Named for its columns too: code that copies other columns never meets an old shape.
    staging = f"warden_{table}_in_{hashlib.sha256(names.encode()).hexdigest()[:8]}"
    held: dict[str, _Staging] = conn.connection.info.setdefault(_HELD, {})
    transaction = conn.get_transaction()
    with raw.cursor() as cur:
        known = held.get(staging)
        if known is None:
            _watch(conn.engine)
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                f"SELECT 0::bigint AS ord, {names} FROM {table} WITH NO DATA"
            )
            cur.execute(
                "SELECT atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (f"pg_temp.{staging}",),
            )
            known = held[staging] = _Staging([_AS_TEXT.get(oid, oid) for (oid,) in cur])
            # Not known to be empty (a savepoint rolled back after an earlier batch of this
            # transaction filled it): emptied, once.
            cur.execute(f"TRUNCATE {staging}")
        elif transaction is None or known.filled_in is None or known.filled_in() is transaction:
            cur.execute(f"TRUNCATE {staging}")  # an earlier batch of this transaction
        with cur.copy(f"COPY {staging} (ord, {names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(known.types)
            for i, row in enumerate(rows):
                copy.write_row((i, *row))
        known.filled_in = None if transaction is None else weakref.ref(transaction)
        cur.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} "
            "ORDER BY ord ON CONFLICT DO NOTHING"
        )
        return int(cur.rowcount)


_watched: weakref.WeakSet[Engine] = weakref.WeakSet()
_watching = threading.Lock()


def _watch(engine: Engine) -> None:
    """Forget the staging tables a connection holds whenever it rolls back (a transaction or a
    savepoint): the rollback may have dropped one that was made in it."""
    with _watching:
        if engine in _watched:
            return
        event.listen(engine, "rollback", _forget)
        event.listen(engine, "rollback_savepoint", _forget)
        _watched.add(engine)


def _forget(conn: Connection, *_: Any) -> None:
    if not conn.invalidated:  # an invalidated connection's info goes with it
        conn.connection.info.pop(_HELD, None)

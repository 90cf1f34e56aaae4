"""Observations and rejects: idempotent inserts and the series the evaluator reads."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, null, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from warden.core.model import Observation, Point, Rejection, StoredObservation, measured_by
from warden.store.pgcopy import insert_by_copy
from warden.store.schema import UTCDateTime, failed_runs, observations, rejects

OPTIONAL_POINT_FIELDS = ("stderr", "n", "feed")  # in Point's order
# Read whatever `extra` says: evidence conflicts weigh every difference by the stderrs.
ALWAYS = frozenset({"stderr"})
# (benchmark, metric) -> subject -> its points: each variant's newest first, variant by variant.
Series = dict[tuple[str, str], dict[str, list[Point]]]
VARIANT_WIDTH = 200


def _insert_ignoring(conn: Connection, table: Any) -> Any:
    """INSERT that skips rows violating a unique constraint (re-ingest adds nothing)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def insert_observations(
    conn: Connection, feed: str, items: Sequence[Observation], now: datetime
) -> int:
    """Insert `items`; returns how many were new."""
    if not items:
        return 0
    if conn.dialect.name == "sqlite":
        return _insert_sqlite(conn, feed, items, now)
    if len(items) >= COPY_FROM:
        return _insert_postgresql_copy(conn, feed, items, now)
    rows = [
        {
            "feed": feed,
            "key": o.key,
            "subject": o.subject,
            "benchmark": o.benchmark,
            "metric": o.metric,
            "value": o.value,
            "stderr": o.stderr,
            "n": o.n,
            "observed_at": o.observed_at,
            "ingested_at": now,
            "source": o.source,
            "content_hash": o.content_hash,
            "attributes": o.attributes,
            "benchmark_known": o.benchmark_known,
            "model_known": o.model_known,
            "vendor_reported": measured_by(o.attributes) == "vendor",
            "variant": variant_of(o.attributes),
            "measured_by": measured_by(o.attributes),
        }
        for o in items
    ]
    # PostgreSQL: RETURNING lists only the rows actually inserted.
    stmt = _insert_ignoring(conn, observations).returning(observations.c.id)
    return len(conn.execute(stmt, rows).all())


# From this many rows on, PostgreSQL inserts go through COPY (below); fewer take the plain
# INSERT ... ON CONFLICT, whose round trips cost less than setting COPY up.
COPY_FROM = 100


def _insert_postgresql_copy(
    conn: Connection, feed: str, items: Sequence[Observation], now: datetime
) -> int:
    """A large batch on PostgreSQL, through COPY (warden/store/pgcopy.py)."""
    dumps = conn.dialect._json_serializer or json.dumps
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: aware UTC times only")

    def rows() -> Iterator[tuple[Any, ...]]:
        # Aware datetimes go as they are: COPY's binary timestamptz is the instant, whatever
        # the zone it was given in.
        for o in items:
            at, attributes = o.observed_at, o.attributes
            if at.tzinfo is None:
                raise ValueError(f"naive datetime {at!r}: aware UTC times only")
            by = measured_by(attributes)
            yield (
                feed, o.key, o.subject, o.benchmark, o.metric, o.value, o.stderr, o.n, at, now,
                o.source, o.content_hash, dumps(attributes), o.benchmark_known, o.model_known,
                by == "vendor", variant_of(attributes), by,
            )  # fmt: skip

    return insert_by_copy(conn, observations, _SQLITE_COLUMNS, rows())


# The columns `_insert_sqlite` fills, in its tuples' order (and the COPY's).
_SQLITE_COLUMNS = (
    "feed", "key", "subject", "benchmark", "metric", "value", "stderr", "n", "observed_at",
    "ingested_at", "source", "content_hash", "attributes", "benchmark_known", "model_known",
    "vendor_reported", "variant", "measured_by",
)  # fmt: skip
_sqlite_insert: list[str] = []  # the compiled statement, made once


def _insert_sqlite(conn: Connection, feed: str, items: Sequence[Observation], now: datetime) -> int:
    """The SQLite insert without SQLAlchemy's per-row parameter processing: plain tuples holding
    exactly what the column types would bind (UTCDateTime's text, JSON's `json.dumps`, floats,
    0/1 booleans), executed as the same `INSERT ... ON CONFLICT DO NOTHING` with the DBAPI's
    executemany in the caller's transaction. `exec_driver_sql` keeps SQLAlchemy's error
    wrapping (an `IntegrityError` is still a `DBAPIError`)."""
    if not _sqlite_insert:
        stmt = sqlite.insert(observations).on_conflict_do_nothing()
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(_SQLITE_COLUMNS))
        assert tuple(compiled.positiontup or ()) == _SQLITE_COLUMNS, compiled.positiontup
        _sqlite_insert.append(compiled.string)
    dumps = conn.dialect._json_serializer or json.dumps  # as the JSON type serialises
    ingested_at = _sqlite_time(now)
    times: dict[datetime, str] = {}  # many observations share a time (a release date)
    rows = []
    for o in items:
        at = o.observed_at
        observed_at = times.get(at)
        if observed_at is None:
            observed_at = times[at] = _sqlite_time(at)
        stderr, attributes = o.stderr, o.attributes
        rows.append(
            (
                feed,
                o.key,
                o.subject,
                o.benchmark,
                o.metric,
                float(o.value),
                None if stderr is None else float(stderr),
                o.n,
                observed_at,
                ingested_at,
                o.source,
                o.content_hash,
                dumps(attributes),
                _sqlite_bool(o.benchmark_known),
                _sqlite_bool(o.model_known),
                1 if measured_by(attributes) == "vendor" else 0,
                variant_of(attributes),
                measured_by(attributes),
            )
        )
    # sqlite3 sums the rows changed across an executemany; skipped conflicts count 0.
    return int(conn.exec_driver_sql(_sqlite_insert[0], rows).rowcount)


def variant_of(attributes: Mapping[str, Any]) -> str:
    """The series' variant column of an observation: its `variant` attribute (text), else ""."""
    variant = attributes.get("variant")
    return variant[:VARIANT_WIDTH] if isinstance(variant, str) else ""


def _sqlite_time(value: datetime) -> str:
    """UTCDateTime's SQLite text for `value` (`%Y-%m-%d %H:%M:%S.%f` in UTC), without strftime
    in the common case."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: warden stores aware UTC times only")
        value = value.astimezone(UTC)
    if value.year < 1000:  # isoformat pads the year to four digits, strftime does not
        return value.strftime(UTCDateTime.SQLITE_FORMAT)
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


def _sqlite_bool(value: bool | None) -> int | None:
    """The Boolean type's SQLite value: 0 or 1, None stays NULL."""
    if value is None:
        return None
    if value is not True and value is not False:
        raise TypeError(f"Not a boolean value: {value!r}")
    return int(value)


def insert_reject(conn: Connection, feed: str, r: Rejection, now: datetime) -> bool:
    """Record bad input; the same bytes from the same place (and the same record of them) are
    recorded once. True if new."""
    identity = reject_identity(r)
    # RETURNING says whether a row was added (PostgreSQL's rowcount is -1 here, not 0).
    result = conn.execute(
        _insert_ignoring(conn, rejects).returning(rejects.c.id),
        {
            "feed": feed,
            "source": _text(r.source),
            "content_hash": r.content_hash,
            "reason": r.reason,
            "message": _text(r.message),
            "record": r.record and _text(r.record),
            "field": r.field and _text(r.field),
            "created_at": now,
            "identity": identity,
        },
    )
    return result.first() is not None


def insert_failed_run(
    conn: Connection, feed: str, r: Rejection, status: str, now: datetime
) -> bool:
    """Record an evaluation run that failed (`status` error or cancelled), once per log (the
    identity a reject of it would have). True if new."""
    result = conn.execute(
        _insert_ignoring(conn, failed_runs).returning(failed_runs.c.id),
        {
            "feed": feed,
            "source": _text(r.source),
            "content_hash": r.content_hash,
            "status": status,
            "message": _text(r.message),
            "created_at": now,
            "identity": reject_identity(r),
        },
    )
    return result.first() is not None


def reject_identity(r: Rejection) -> str:
    """The same bad bytes from the same place (and the same record of them) are one reject."""
    parts = [r.source, r.content_hash, r.reason]
    if r.record is not None or r.field is not None:  # one of several bad records of a payload
        parts += [r.record or "", r.field or ""]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _text(value: str) -> str:
    """PostgreSQL refuses NUL in text; whatever a connector reports must still be recorded."""
    return value.replace("\x00", "\\x00")


def series(
    conn: Connection,
    pairs: Iterable[tuple[str, str]],
    depth: int,
    extra: Collection[str] = ("observed_at",),
    independent: bool = False,
    until: datetime | None = None,
) -> Series:
    """For each (benchmark, metric) pair, each subject's `depth` newest distinct observations
    per variant and measurer (`measured_by`): a subject's list holds its variants one after the
    other (by variant name), each newest first whoever measured it; evaluation picks the
    evidence its threshold reads (warden.evaluation.evidence) and the most capable variant. A
    newer observation of a variant replaces an older one of that variant (and measurer) only.
    The same measurement stored by two feeds (same content key) counts once.

    Reads only the columns evaluation needs, all of them in `ix_observations_series`, so the
    query never touches the table; `evidence` fetches whole rows for the few that matter.
    `extra` names the optional Point fields to fill (`observed_at`, `n`, `feed`; `stderr` is
    always read); the others are left empty (None), which keeps the common read narrow and
    cheap to convert.
    `independent` leaves out what the model's developer reported about its own model; `until`,
    what is dated after it (a time in the future must not stay "newest" for ever)."""
    wanted = sorted(set(pairs))
    out: Series = defaultdict(lambda: defaultdict(list))
    if not wanted:
        return out
    o = observations
    cols = [
        o.c.benchmark,
        o.c.metric,
        o.c.id,
        o.c.subject,
        o.c.value,
        o.c.observed_at if "observed_at" in extra else null().label("observed_at"),
        o.c.key,
        *(
            o.c[name] if name in extra or name in ALWAYS else null().label(name)
            for name in OPTIONAL_POINT_FIELDS
        ),
        o.c.variant,
        o.c.measured_by,
    ]
    make = Point._make
    for chunk in _chunks(wanted, 200):
        where: list[ColumnElement[bool]] = [tuple_(o.c.benchmark, o.c.metric).in_(chunk)]
        if independent:
            where.append(o.c.vendor_reported.is_(False))
        if until is not None:
            where.append(o.c.observed_at <= until)
        current: tuple[str, str, str, str] | None = None
        # The current variant's points per measurer (rows arrive variant by variant, each
        # newest first whoever measured it).
        kept: dict[str, list[Point]] = {}
        for row in conn.execute(_newest(cols, where, depth)):
            point = make(row[2:])
            one = (row[0], row[1], point.subject, point.variant)
            if one != current:
                current, kept = one, {}
            mine = kept.setdefault(point.measured_by, [])
            if not mine or (len(mine) < depth and all(p.key != point.key for p in mine)):
                mine.append(point)
                out[(row[0], row[1])][point.subject].append(point)
    return out


def _newest(cols: list[Any], where: list[Any], depth: int) -> Select[Any]:
    """The rows of `cols` in series order, newest first (of two measurements at the same time,
    the one ingested last). For `depth` 1 a plain ordered scan of the covering index, of which
    the caller keeps the first row per series: it is cheaper than ranking every row."""
    o = observations
    if depth == 1:
        return (
            select(*cols)
            .where(*where)
            .order_by(
                o.c.benchmark,
                o.c.metric,
                o.c.subject,
                o.c.variant,
                o.c.observed_at.desc(),
                o.c.id.desc(),
            )
        )
    # Copies of one measurement share a time, so they share a rank; the caller drops them.
    rank = (
        func.dense_rank()
        .over(
            partition_by=(o.c.benchmark, o.c.metric, o.c.subject, o.c.variant, o.c.measured_by),
            order_by=o.c.observed_at.desc(),
        )
        .label("rank")
    )
    inner = select(*cols, o.c.observed_at.label("at"), rank).where(*where).subquery()
    return (
        select(*[inner.c[c.name] for c in cols])
        .where(inner.c.rank <= depth)
        .order_by(
            inner.c.benchmark,
            inner.c.metric,
            inner.c.subject,
            inner.c.variant,
            inner.c.at.desc(),
            inner.c.id.desc(),
        )
    )


def unmapped(conn: Connection) -> list[tuple[str, str, str, int, datetime, datetime]]:
    """Ids the registry did not know: (kind, raw id, feed, observations, first, last ingest)."""
    o = observations
    out = []
    for kind, known, column in (
        ("benchmark", o.c.benchmark_known, o.c.benchmark),
        ("model", o.c.model_known, o.c.subject),
    ):
        q = (
            select(
                column, o.c.feed, func.count(), func.min(o.c.ingested_at), func.max(o.c.ingested_at)
            )
            .where(known.is_(False))
            .group_by(column, o.c.feed)
            .order_by(column, o.c.feed)
        )
        out += [(kind, r[0], r[1], int(r[2]), r[3], r[4]) for r in conn.execute(q)]
    return out


def newest_id(conn: Connection) -> int:
    """The id of the newest stored observation (0 when there is none)."""
    return int(conn.execute(select(func.coalesce(func.max(observations.c.id), 0))).scalar_one())


def pairs_since(
    conn: Connection, after_id: int, feeds: Collection[str] | None = None
) -> set[tuple[str, str]]:
    """The (benchmark, metric) pairs with observations stored after `after_id` (from `feeds`,
    when given)."""
    o = observations
    q = select(o.c.benchmark, o.c.metric).where(o.c.id > after_id).distinct()
    if feeds is not None:
        q = q.where(o.c.feed.in_(list(feeds)))
    return {(b, m) for b, m in conn.execute(q)}


def pairs_with_evidence(conn: Connection) -> set[tuple[str, str]]:
    """The (benchmark, metric) pairs that have at least one observation."""
    o = observations
    return {(b, m) for b, m in conn.execute(select(o.c.benchmark, o.c.metric).distinct())}


def evidence(conn: Connection, ids: Iterable[int]) -> dict[int, StoredObservation]:
    """Whole stored observations by id, with their attributes (the variant and the run that
    decided a verdict: `variant`, `run_id`, `record`)."""
    o = observations
    cols = [
        o.c.id,
        o.c.feed,
        o.c.subject,
        o.c.benchmark,
        o.c.metric,
        o.c.value,
        o.c.stderr,
        o.c.n,
        o.c.observed_at,
        o.c.source,
        o.c.content_hash,
    ]
    wanted = sorted(set(ids))
    out = {}
    for i in range(0, len(wanted), 500):
        q = select(*cols, o.c.ingested_at, o.c.key, o.c.attributes).where(
            o.c.id.in_(wanted[i : i + 500])
        )
        for row in conn.execute(q):
            (id_, feed, subject, benchmark, metric, value, stderr, n, at, source, digest,
             ingested, key, attributes) = row  # fmt: skip
            out[id_] = StoredObservation(
                id_, feed, subject, benchmark, metric, value, stderr, n, at, source, digest,
                key, attributes or {}, ingested,
            )  # fmt: skip
    return out


def history(
    conn: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[StoredObservation]]:
    """Every stored observation of the (benchmark, metric) `pairs`, oldest first, with its
    attributes: what frontier series and backtests read."""
    o = observations
    wanted = sorted(set(pairs))
    out: dict[tuple[str, str], list[StoredObservation]] = defaultdict(list)
    for chunk in _chunks(wanted, 200):
        q = (
            select(o)
            .where(tuple_(o.c.benchmark, o.c.metric).in_(chunk))
            .order_by(o.c.observed_at, o.c.id)
        )
        for row in conn.execute(q).mappings():
            out[(row["benchmark"], row["metric"])].append(
                StoredObservation(
                    id=row["id"],
                    feed=row["feed"],
                    subject=row["subject"],
                    benchmark=row["benchmark"],
                    metric=row["metric"],
                    value=row["value"],
                    stderr=row["stderr"],
                    n=row["n"],
                    observed_at=row["observed_at"],
                    source=row["source"],
                    content_hash=row["content_hash"],
                    key=row["key"],
                    attributes=row["attributes"] or {},
                )
            )
    return out


def _chunks(items: list[tuple[str, str]], size: int) -> Iterable[list[tuple[str, str]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

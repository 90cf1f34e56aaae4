"""Ingest: a connector's payloads into the store, idempotent; a bad payload changes nothing.

A bad payload becomes a reject row (with its reason, record and field) and changes nothing else.
One summary line is logged per feed run.

`parse` may return a list or yield (a generator). A list, or a stream that ends within `batch`
observations, is staged with other payloads and stored with them, about `batch` observations to
a transaction. A longer stream is read `batch` observations at a time, each chunk normalised,
checked and spooled to a temporary file (warden.ingest.spool), so memory holds a few chunks
whatever the file's size; once the stream has ended without error, its refused records are
recorded (one transaction) and its observations stored (another, chunk by chunk). A stream that
raises at any point, even after many observations, is rejected whole and stores nothing, as a
list that raises does; the write lock is held for the inserts only, not while parsing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.exc import DBAPIError

from warden.catalog.registry import Registry
from warden.core.clock import Clock
from warden.core.errors import NotReady, ParseError
from warden.core.model import Fetched, Ignored, Observation, Payload, Pending, Rejection
from warden.ingest.connector import Connector, Cursor
from warden.ingest.settings import DEFAULT_BOUNDS, TimeBounds
from warden.ingest.sniff import hint
from warden.ingest.spool import Spool, Streamed, checked, spooled
from warden.store import Store, StoreUnavailable
from warden.store import feeds as feed_rows
from warden.store import observations as obs_rows

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    feed: str
    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # not finished (Pending): read again next run
    error: str | None = None
    error_reason: str | None = None  # one of FAILURE_REASONS when the run failed
    touched: set[tuple[str, str]] = field(default_factory=set)
    rejections: list[Rejection] = field(default_factory=list)
    new_rejects: int = 0  # of `rejected`, those not recorded before (the rest were known)
    # Evaluation runs that ended without results (an Inspect log in error or cancelled):
    # recorded as failed runs, not rejects.
    failed_runs: int = 0
    run_failures: list[Rejection] = field(default_factory=list)
    # Files of the source the connector passes over by name or suffix, and the first of them.
    ignored: int = 0
    ignored_files: list[Ignored] = field(default_factory=list)

    @property
    def counts(self) -> feed_rows.RunCounts:
        return feed_rows.RunCounts(self.ingested, self.duplicates, self.rejected, self.skipped)


BATCH_OBSERVATIONS = 1000
IGNORED_LISTED = 100  # files passed over that a result keeps (all are counted)
SNIFFED = 5  # of those, the first ones are sniffed for the connector that reads them
SNIFF_BYTES = 64 * 2**10
# Parse errors that say an evaluation run failed, not that its file is bad.
RUN_FAILURES = {"run_error": "error", "run_cancelled": "cancelled"}
# Reasons of a whole payload refused for its shape: worth a guess at the connector that reads it.
WRONG_SHAPE = frozenset({"malformed", "missing_field", "invalid_value"})

# Why a feed run failed, for `warden_feed_failures_total{feed,reason}`: the HTTP layer's reasons
# (warden.ingest.http.REASONS) but too_large and bad_content (connectors.source turns those into
# rejects of the payload: the run goes on), and those of local sources.
FAILURE_REASONS = (
    "timeout",
    "connection",
    "http_status",
    "redirect",
    "invalid_url",
    "not_found",
    "unreadable",
    "internal_error",
)


def failure_reason(exc: OSError) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason in FAILURE_REASONS:
        return reason
    return "not_found" if isinstance(exc, FileNotFoundError) else "unreadable"


def run_feed(
    store: Store,
    feed: str,
    connector: Connector,
    cursor: Cursor,
    clock: Clock,
    registry: Registry | None = None,
    batch: int = BATCH_OBSERVATIONS,
    persist: bool = False,
    resume: bool | None = None,
    bounds: TimeBounds = DEFAULT_BOUNDS,
) -> IngestResult:
    """One run of a feed: fetch, parse and store everything new. Never raises for bad input or
    a failing source: the run is recorded as failed with its error. With a `registry`, ids are
    normalised to canonical ones (unknown ones are kept raw and flagged).

    Payloads are parsed one by one (a bad one is rejected alone) and stored together, about
    `batch` observations to a transaction; a longer stream from one payload is spooled `batch`
    at a time and stored once it has ended (see the module's docstring). With `persist`, the
    cursor is saved with the feed and an empty one resumes from the saved one (the daemon's
    feeds survive restarts); with `resume=False` too, it starts empty whatever was saved (a
    backfill) and is saved at the end. Observations dated outside `bounds` (the future, or
    before models) are rejected."""
    result = IngestResult(feed)
    with store.write() as conn:
        run_id = feed_rows.start_run(conn, feed, connector.name, clock())
        if (persist if resume is None else resume) and not cursor.versions:
            # the first run since start: resume from the last one's cursor
            cursor.versions.update(feed_rows.load_cursor(conn, feed))
    staged: list[tuple[Payload, list[Observation]]] = []
    try:
        for item in connector.fetch(cursor):
            observations = stage(
                store, feed, connector, item, result, clock, cursor, registry, bounds, batch
            )
            if observations is None or not isinstance(item, Payload):
                continue
            if isinstance(observations, Streamed):
                save_streamed(store, feed, observations, result, clock, cursor)
                continue
            staged.append((item, observations))
            if sum(len(o) for _, o in staged) >= batch:
                save(store, feed, staged, result, clock, cursor)
                staged = []
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        result.error_reason = failure_reason(exc)
        log.error("feed %s: source failed (%s): %s", feed, result.error_reason, result.error)
    except StoreUnavailable:
        # Nothing to record the failure in: the run stops, its cursor where the store left it
        # (what was stored), and the next run after the outage goes on from there.
        raise
    except Exception as exc:  # job boundary: record, count, carry on
        result.error = f"{type(exc).__name__}: {exc}"
        result.error_reason = "internal_error"
        log.exception("feed %s: run failed", feed)
    save(store, feed, staged, result, clock, cursor)
    with store.write() as conn:
        feed_rows.finish_run(
            conn,
            run_id,
            feed,
            clock(),
            result.counts,
            result.error,
            cursor.versions if persist else None,
            result.error_reason,
        )
    log.info(
        "feed %s: %s; %d new observations, %d already known, %d rejected (%d new), "
        "%d files skipped, %d not finished, %d failed runs",
        feed,
        "failed: " + result.error if result.error else "ok",
        result.ingested,
        result.duplicates,
        result.rejected,
        result.new_rejects,
        result.ignored,
        result.skipped,
        result.failed_runs,
        extra={"feed": feed, "ingested": result.ingested, "rejected": result.rejected},
    )
    return result


def handle(
    store: Store,
    feed: str,
    connector: Connector,
    item: Fetched,
    result: IngestResult,
    clock: Clock,
    registry: Registry | None = None,
    bounds: TimeBounds = DEFAULT_BOUNDS,
) -> None:
    """Store one item on its own (a push)."""
    observations = stage(store, feed, connector, item, result, clock, None, registry, bounds)
    if isinstance(observations, Streamed):
        save_streamed(store, feed, observations, result, clock, None)
    elif observations is not None and isinstance(item, Payload):
        save(store, feed, [(item, observations)], result, clock, None)


def stage(
    store: Store,
    feed: str,
    connector: Connector,
    item: Fetched,
    result: IngestResult,
    clock: Clock,
    cursor: Cursor | None,
    registry: Registry | None = None,
    bounds: TimeBounds = DEFAULT_BOUNDS,
    batch: int = BATCH_OBSERVATIONS,
) -> list[Observation] | Streamed | None:
    """Parse one fetched item. Returns its observations (normalised through `registry` when
    given), to be saved; rejections and failed runs are recorded at once. A stream of more than
    `batch` observations comes back spooled (`Streamed`, its refused records with it), to be
    saved by `save_streamed`. A whole payload refused for its shape says which connector it
    looks like (warden/ingest/sniff.py)."""
    if isinstance(item, Ignored):
        result.ignored += 1
        if len(result.ignored_files) < SNIFFED:
            item = replace(item, why=item.why + _sniffed(item.source, connector.name))
        if len(result.ignored_files) < IGNORED_LISTED:
            result.ignored_files.append(item)
        log.debug("feed %s: %s: passed over: %s", feed, item.source, item.why)
        return None
    if isinstance(item, Pending):
        result.skipped += 1
        log.info("feed %s: %s: skipped for now: %s", feed, item.source, item.why)
        return None
    if isinstance(item, Rejection):
        if item.reason in RUN_FAILURES:
            failed_run(store, feed, item, result, clock, cursor)
        else:
            reject(store, feed, item, result, clock, cursor)
        return None
    try:
        parsed = connector.parse(item)
        # A stream: a list if it is short, else spooled.
        read: Sequence[Observation | Rejection] | Streamed = (
            parsed
            if isinstance(parsed, Sequence)
            else spooled(item, iter(parsed), batch, clock(), registry, bounds)
        )
    except NotReady as exc:
        result.skipped += 1
        log.info("feed %s: %s: skipped for now: %s", feed, item.source, exc.why)
    except ParseError as exc:
        message = exc.detail
        if exc.record is None and exc.reason in WRONG_SHAPE:
            message += hint(item.member or item.source, item.content, connector.name)
        rejection = Rejection(
            item.source,
            exc.reason,
            message,
            item.content_hash,
            item.record(exc.record),
            exc.field,
            item.version,
        )
        if exc.reason in RUN_FAILURES:
            failed_run(store, feed, rejection, result, clock, cursor)
        else:
            reject(store, feed, rejection, result, clock, cursor)
    except Exception as exc:  # a connector bug must not stop the feed
        log.exception("feed %s: %s: the connector failed on this payload", feed, item.source)
        message = f"connector error: {type(exc).__name__}: {exc}"
        # No version: the payload is tried again next run (the bug may be fixed by then).
        rejection = Rejection(
            item.source, "internal_error", message, item.content_hash, item.record(None)
        )
        reject(store, feed, rejection, result, clock, cursor)
    else:
        if isinstance(read, Streamed):
            return read
        return _split(store, feed, item, read, result, clock, registry, bounds)
    return None


def _split(
    store: Store,
    feed: str,
    payload: Payload,
    parsed: Iterable[Observation | Rejection],
    result: IngestResult,
    clock: Clock,
    registry: Registry | None,
    bounds: TimeBounds = DEFAULT_BOUNDS,
) -> list[Observation]:
    """The observations of a parsed payload, normalised through `registry`; the records the
    connector or the registry refused, or dated outside `bounds`, are rejected (all of them in
    one transaction, each counted and logged as `reject` does; without a version: the payload's
    own version moves the cursor once its observations are stored)."""
    out, refused = checked(payload, parsed, clock(), registry, bounds)
    reject_all(store, feed, refused, result, clock)
    return out


def save(
    store: Store,
    feed: str,
    staged: list[tuple[Payload, list[Observation]]],
    result: IngestResult,
    clock: Clock,
    cursor: Cursor | None,
) -> None:
    """Store staged payloads in one transaction. If the database refuses it, store them one by
    one so only the payload at fault is rejected."""
    if not staged:
        return
    rows = [o for _, observations in staged for o in observations]
    try:
        with store.write() as conn:
            new = obs_rows.insert_observations(conn, feed, rows, clock())
    except DBAPIError as exc:
        if len(staged) > 1:
            for one in staged:
                save(store, feed, [one], result, clock, cursor)
            return
        payload = staged[0][0]
        log.exception("feed %s: %s: the store refused its observations", feed, payload.source)
        message = f"the store refused it: {type(exc.orig).__name__}: {exc.orig}"
        rejection = Rejection(payload.source, "unstorable", message, payload.content_hash)
        reject(store, feed, rejection, result, clock, cursor)
        return
    result.ingested += new
    result.duplicates += len(rows) - new
    if new:
        result.touched.update((o.benchmark, o.metric) for o in rows)
    if cursor is not None:
        for payload, _ in staged:
            if payload.version is not None:
                cursor.versions[payload.source] = payload.version


def save_streamed(
    store: Store,
    feed: str,
    streamed: Streamed,
    result: IngestResult,
    clock: Clock,
    cursor: Cursor | None,
) -> None:
    """Store a spooled payload: its refused records (one transaction, as `_split` records a
    list's), then its observations, chunk by chunk in one transaction. If the database refuses
    them, the payload is rejected (`unstorable`) and none of its observations is stored. The
    spool is closed."""
    with streamed:
        payload = streamed.payload
        reject_all(store, feed, streamed.rejections, result, clock)
        new = total = 0
        touched: set[tuple[str, str]] = set()
        try:
            with store.write() as conn:
                now = clock()
                for rows in streamed.observations.chunks():
                    new += obs_rows.insert_observations(conn, feed, rows, now)
                    total += len(rows)
                    touched.update((o.benchmark, o.metric) for o in rows)
        except DBAPIError as exc:
            log.exception("feed %s: %s: the store refused its observations", feed, payload.source)
            message = f"the store refused it: {type(exc.orig).__name__}: {exc.orig}"
            rejection = Rejection(payload.source, "unstorable", message, payload.content_hash)
            reject(store, feed, rejection, result, clock, cursor)
            return
    result.ingested += new
    result.duplicates += total - new
    if new:
        result.touched.update(touched)
    if cursor is not None and payload.version is not None:
        cursor.versions[payload.source] = payload.version


def reject(
    store: Store,
    feed: str,
    item: Rejection,
    result: IngestResult,
    clock: Clock,
    cursor: Cursor | None = None,
) -> None:
    """Record one rejection (its own transaction), count it and log it."""
    reject_all(store, feed, [item], result, clock, cursor)


def reject_all(
    store: Store,
    feed: str,
    items: Sequence[Rejection] | Spool[Rejection],
    result: IngestResult,
    clock: Clock,
    cursor: Cursor | None = None,
) -> None:
    """Record `items` in one transaction, then count and log each in order. A rejection already
    recorded (the same bytes, place, record and field: also earlier in `items`) is counted and
    logged again, marked "(already recorded)", and adds no row."""
    if not len(items):
        return
    with store.write() as conn:
        now = clock()
        new = [obs_rows.insert_reject(conn, feed, item, now) for item in items]
    for item, added in zip(items, new, strict=True):
        result.rejected += 1
        result.new_rejects += added
        result.rejections.append(item)
        if cursor is not None and item.version is not None:
            cursor.versions[item.source] = item.version
        _log_rejection(feed, item, added)


def failed_run(
    store: Store,
    feed: str,
    item: Rejection,
    result: IngestResult,
    clock: Clock,
    cursor: Cursor | None = None,
) -> None:
    """Record an evaluation run that ended in error or was cancelled (once per log), count it
    and log it. Not a reject: the log is what its run left, not bad input to fix."""
    with store.write() as conn:
        new = obs_rows.insert_failed_run(conn, feed, item, RUN_FAILURES[item.reason], clock())
    result.failed_runs += 1
    result.run_failures.append(item)
    if cursor is not None and item.version is not None:
        cursor.versions[item.source] = item.version
    log.info(
        "feed %s: %s: the evaluation run %s: %s%s",
        feed,
        item.source,
        "failed" if item.reason == "run_error" else "was cancelled",
        item.message,
        "" if new else " (already recorded)",
        extra={"feed": feed, "source": item.source},
    )


def _sniffed(source: str, chosen: str) -> str:
    """The hint naming the connector that reads the local file `source`, from its first
    bytes; "" when there is none, or it cannot be read."""
    try:
        with open(source, "rb") as fp:
            head = fp.read(SNIFF_BYTES)
    except OSError:
        return ""
    return hint(source, head, chosen)


def _log_rejection(feed: str, item: Rejection, new: bool) -> None:
    where = ", ".join(
        p
        for p in (item.record and f"record {item.record}", item.field and f"field {item.field}")
        if p
    )
    log.warning(
        "feed %s: rejected %s%s: %s: %s%s",
        feed,
        item.source,
        f" ({where})" if where else "",
        item.reason,
        item.message,
        "" if new else " (already recorded)",
        extra={"feed": feed, "reason": item.reason, "source": item.source},
    )

"""Ingest: a connector's payloads into the store, idempotent and transactional per payload.

A bad payload becomes a reject row (with its reason, record and field) and changes nothing else.
One summary line is logged per feed run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from warden.clock import Clock
from warden.connector import Connector, Cursor
from warden.errors import NotReady, ParseError
from warden.model import Payload, Pending, Rejection
from warden.store import Store
from warden.store import feeds as feed_rows
from warden.store import observations as obs_rows

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    feed: str
    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    error: str | None = None
    touched: set[tuple[str, str]] = field(default_factory=set)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def counts(self) -> feed_rows.RunCounts:
        return feed_rows.RunCounts(self.ingested, self.duplicates, self.rejected, self.skipped)


def run_feed(
    store: Store, feed: str, connector: Connector, cursor: Cursor, clock: Clock
) -> IngestResult:
    """One run of a feed: fetch, parse and store everything new. Never raises for bad input or
    a failing source: the run is recorded as failed with its error."""
    result = IngestResult(feed)
    with store.write() as conn:
        run_id = feed_rows.start_run(conn, feed, connector.name, clock())
    try:
        for item in connector.fetch(cursor):
            handle(store, feed, connector, item, result, clock, cursor)
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        log.error("feed %s: source failed: %s", feed, result.error)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        log.exception("feed %s: run failed", feed)
    with store.write() as conn:
        feed_rows.finish_run(conn, run_id, feed, clock(), result.counts, result.error)
    log.info(
        "feed %s: %s; %d new observations, %d already known, %d rejected, %d not finished",
        feed,
        "failed: " + result.error if result.error else "ok",
        result.ingested,
        result.duplicates,
        result.rejected,
        result.skipped,
        extra={"feed": feed, "ingested": result.ingested, "rejected": result.rejected},
    )
    return result


def handle(
    store: Store,
    feed: str,
    connector: Connector,
    item: Payload | Rejection | Pending,
    result: IngestResult,
    clock: Clock,
    cursor: Cursor | None = None,
) -> None:
    """Store one fetched item: its observations, or its rejection."""
    if isinstance(item, Pending):
        result.skipped += 1
        log.info("feed %s: %s: skipped for now: %s", feed, item.source, item.why)
        return
    if isinstance(item, Rejection):
        reject(store, feed, item, result, clock)
    else:
        try:
            observations = connector.parse(item)
        except NotReady as exc:
            result.skipped += 1
            log.info("feed %s: %s: skipped for now: %s", feed, item.source, exc.why)
            return
        except ParseError as exc:
            rejection = Rejection(
                item.source,
                exc.reason,
                exc.detail,
                item.content_hash,
                exc.record,
                exc.field,
                item.version,
            )
            reject(store, feed, rejection, result, clock)
        else:
            with store.write() as conn:
                new = obs_rows.insert_observations(conn, feed, observations, clock())
            result.ingested += new
            result.duplicates += len(observations) - new
            if new:
                result.touched.update((o.benchmark, o.metric) for o in observations)
    version = item.version if isinstance(item, Payload | Rejection) else None
    if cursor is not None and version is not None:
        cursor.versions[item.source] = version


def reject(store: Store, feed: str, item: Rejection, result: IngestResult, clock: Clock) -> None:
    with store.write() as conn:
        new = obs_rows.insert_reject(conn, feed, item, clock())
    result.rejected += 1
    result.rejections.append(item)
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

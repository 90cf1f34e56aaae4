"""Prometheus metrics, computed from the store at scrape time (so they are right after a restart).

Labels come only from bounded, configured sets: feed and sink ids from the config, threshold ids
from the catalog, model ids from the registry (warden/metrics/thresholds.py caps the rest),
benchmark ids from the catalog, states and reasons from fixed enumerations.

Counters are exported at 0 for every member of their bounded sets (deliveries per configured
sink and outcome, feed failures per configured feed and reason, evaluation failures per threshold
of the catalog), so that `increase()` sees the first event: on a series that appears with its
first count, it has no earlier sample to compare with, and alerts on it miss that event.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection

from warden import __version__
from warden.catalog.thresholds import Catalog
from warden.core.clock import Clock, system_clock
from warden.ingest.feedrun import FAILURE_REASONS
from warden.metrics import thresholds as thresholdmetrics
from warden.metrics.settings import MetricsSettings
from warden.metrics.thresholds import Evaluations, Forecasts
from warden.store import Store, StoreUnavailable, stats
from warden.store import merkle as tree

log = logging.getLogger(__name__)

DELIVERY_OUTCOMES = ("delivered", "retry", "failed")  # warden.delivery.dispatch


class StoreCollector(Collector):
    def __init__(
        self,
        store: Store,
        thresholds: Callable[[], tuple[Catalog, Evaluations, Forecasts]],
        feeds: list[str],
        errors: Counter,
        settings: MetricsSettings,
        sinks: list[str] | None = None,
        pushed: Sequence[str] = (),
        clock: Clock = system_clock,
        feed_intervals: Mapping[str, float] | None = None,
        leading: Callable[[], bool] | None = None,
    ) -> None:
        self.sinks = sinks or []
        # Whether this replica leads: only the leader exports the store-wide figures, so that
        # dashboards summing over replicas count them once (docs/reference/metrics.md).
        self.leading = leading or (lambda: True)
        self.clock = clock
        self.feed_intervals = dict(feed_intervals or {})
        self.store = store
        self.thresholds = thresholds  # the current catalog and its last evaluations
        self.feeds = feeds  # the configured feeds (they run, and their runs can fail)
        self.pushed = list(pushed)  # feed ids observations are pushed under (no runs)
        self.errors = errors
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "warden_build_info",
            "Warden build information; always 1.",
            labels=["version", "python"],
        )
        info.add_metric([__version__, platform.python_version()], 1)
        yield info
        up = GaugeMetricFamily(
            "warden_store_up",
            "1 if the store answered this scrape, 0 if it did not (an outage: the daemon keeps "
            "running, its jobs wait, /readyz answers 503).",
        )
        try:
            with self.store.read() as conn:
                families = list(self._from_store(conn)) if self.leading() else []
        except StoreUnavailable:  # the daemon's jobs log the outage once a minute
            self.errors.inc()
            up.add_metric([], 0)
            yield up
            return
        except Exception:
            log.exception("metrics: cannot read the store")
            self.errors.inc()
            families = []
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_store(self, conn: Connection) -> Iterator[Metric]:
        catalog, evaluations, forecasts = self.thresholds()
        yield from thresholdmetrics.collect(conn, catalog, evaluations, self.settings, forecasts)

        yield from _tree(conn)

        triggers = CounterMetricFamily(
            "warden_triggers",
            "Trigger-log entries, by threshold and the state entered.",
            labels=["threshold", "state"],
        )
        for threshold, to_state, count in stats.trigger_counts(conn):
            triggers.add_metric([threshold, to_state], count)
        yield triggers

        expected = GaugeMetricFamily(
            "warden_feed_expected_interval_seconds",
            "The longest the feed's schedule leaves between two runs (its `every`, or the widest "
            "gap of its cron schedule): stale-feed alerts judge each feed by it.",
            labels=["feed"],
        )
        for feed, seconds in sorted(self.feed_intervals.items()):
            expected.add_metric([feed], seconds)
        yield expected

        success = GaugeMetricFamily(
            "warden_feed_last_success_timestamp_seconds",
            "When each feed last completed a run without error (Unix time).",
            labels=["feed"],
        )
        attempt = GaugeMetricFamily(
            "warden_feed_last_attempt_timestamp_seconds",
            "When each feed last started a run (Unix time).",
            labels=["feed"],
        )
        for feed, attempted, succeeded in stats.feed_times(conn):
            if attempted is not None:
                attempt.add_metric([feed], attempted.timestamp())
            if succeeded is not None:
                success.add_metric([feed], succeeded.timestamp())
        yield success
        yield attempt

        up = GaugeMetricFamily(
            "warden_feed_up", "1 if the feed's last run succeeded, 0 if it failed.", labels=["feed"]
        )
        duration = GaugeMetricFamily(
            "warden_feed_last_run_duration_seconds",
            "How long each feed's last finished run took.",
            labels=["feed"],
        )
        for feed, status, started, finished in stats.last_runs(conn):
            up.add_metric([feed], 1.0 if status == "ok" else 0.0)
            if finished is not None:
                duration.add_metric([feed], max(0.0, (finished - started).total_seconds()))
        yield up
        yield duration

        failures = CounterMetricFamily(
            "warden_feed_failures",
            "Feed runs that failed, by feed and reason (timeout, connection, http_status, "
            "too_large, redirect, bad_content, invalid_url, not_found, unreadable, "
            "internal_error).",
            labels=["feed", "reason"],
        )
        failed = {(feed, reason): count for feed, reason, count in stats.failure_counts(conn)}
        for feed, reason in sorted(failed.keys() | _product(self.feeds, FAILURE_REASONS)):
            failures.add_metric([feed, reason], failed.get((feed, reason), 0))
        yield failures

        ingested = CounterMetricFamily(
            "warden_observations_ingested", "Observations stored, by feed.", labels=["feed"]
        )
        counts = stats.ingested_counts(conn)
        for feed in sorted(set(counts) | set(self.feeds) | set(self.pushed)):
            ingested.add_metric([feed], counts.get(feed, 0))
        yield ingested

        unmapped = CounterMetricFamily(
            "warden_unmapped_observations",
            "Observations kept with a benchmark or model id the registry does not know, by feed "
            "and kind (benchmark, model); `warden registry unmapped` lists the ids.",
            labels=["feed", "kind"],
        )
        for feed, kind, count in stats.unmapped_counts(conn):
            unmapped.add_metric([feed, kind], count)
        yield unmapped

        rejected = CounterMetricFamily(
            "warden_observations_rejected",
            "Distinct bad inputs rejected, by feed and reason.",
            labels=["feed", "reason"],
        )
        for feed, reason, count in stats.rejected_counts(conn):
            rejected.add_metric([feed, reason], count)
        yield rejected

        runs = CounterMetricFamily(
            "warden_failed_runs",
            "Evaluation runs whose logs ended in error or were cancelled (status), by feed: "
            "recorded once per log, not rejects.",
            labels=["feed", "status"],
        )
        for feed, status, count in stats.failed_run_counts(conn):
            runs.add_metric([feed, status], count)
        yield runs

        delivered = CounterMetricFamily(
            "warden_deliveries",
            "Delivery attempts, by sink and outcome.",
            labels=["sink", "outcome"],
        )
        done = {(sink, outcome): count for sink, outcome, count in stats.delivery_counts(conn)}
        for sink, outcome in sorted(done.keys() | _product(self.sinks, DELIVERY_OUTCOMES)):
            delivered.add_metric([sink, outcome], done.get((sink, outcome), 0))
        yield delivered

        up = GaugeMetricFamily(
            "warden_sink_up",
            "0 if the sink's last delivery attempt failed (being retried, or failed for good), "
            "else 1.",
            labels=["sink"],
        )
        outcomes = stats.last_delivery_outcomes(conn)
        for sink in self.sinks:
            up.add_metric([sink], 0.0 if outcomes.get(sink) in ("retry", "failed") else 1.0)
        yield up

        outbox = GaugeMetricFamily(
            "warden_outbox_messages",
            "Alert deliveries in the outbox, by status (pending, delivered, failed).",
            labels=["status"],
        )
        counts = stats.outbox_counts(conn)
        for status in ("pending", "delivered", "failed", "superseded"):
            outbox.add_metric([status], counts.get(status, 0))
        yield outbox

        pending = stats.pending_by_sink(conn)
        waiting = GaugeMetricFamily(
            "warden_notifications_pending",
            "Notifications not yet delivered (being tried or retried), by sink.",
            labels=["sink"],
        )
        oldest = GaugeMetricFamily(
            "warden_notification_oldest_pending_age_seconds",
            "How long the oldest notification not yet delivered has waited, by sink (0: none).",
            labels=["sink"],
        )
        now = self.clock()
        for sink in sorted(set(self.sinks) | set(pending)):
            count, since = pending.get(sink, (0, None))
            waiting.add_metric([sink], count)
            age = 0.0 if since is None else max(0.0, (now - since).total_seconds())
            oldest.add_metric([sink], age)
        yield waiting
        yield oldest


def _product(first: Iterable[str], second: Iterable[str]) -> set[tuple[str, str]]:
    return {(a, b) for a in first for b in second}


class Metrics:
    """A registry per daemon: the store collector plus process-local figures."""

    def __init__(
        self,
        store: Store,
        thresholds: Callable[[], tuple[Catalog, Evaluations, Forecasts]],
        feeds: list[str],
        settings: MetricsSettings | None = None,
        sinks: list[str] | None = None,
        pushed: Sequence[str] = (),
        clock: Clock = system_clock,
        feed_intervals: Mapping[str, float] | None = None,
        leading: Callable[[], bool] | None = None,
    ) -> None:
        """`feeds`: the configured feeds; `pushed`: the feed ids observations are pushed under
        (their ingested counts are exported too); `sinks`: the configured sinks; `leading`:
        whether this replica leads (store-wide figures are the leader's alone)."""
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.scrape_errors = Counter(
            "warden_metrics_scrape_errors",
            "Scrapes that could not read the store.",
            registry=self.registry,
        )
        self.evaluation_seconds = Histogram(
            "warden_evaluation_duration_seconds",
            "Duration of evaluation cycles.",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.evaluation_failures = Counter(
            "warden_evaluation_failures",
            "Threshold evaluations that raised an error.",
            ["threshold"],
            registry=self.registry,
        )
        self._evaluated: set[str] = set()  # the thresholds with an evaluation-failure series
        self.catalog_changed(thresholds()[0])
        self.catalog_reload_ok = Gauge(
            "warden_catalog_last_reload_successful",
            "1 if the last catalog (re)load succeeded, 0 if it failed and the last good catalog "
            "is still in force.",
            registry=self.registry,
        )
        self.catalog_reload_ok.set(1)
        self.chain_ok = Gauge(
            "warden_trigger_log_verified",
            "1 if the last verification of the trigger log's hash chain found it intact, 0 if it "
            "found a bad entry (`warden log verify` names it).",
            registry=self.registry,
        )
        self.chain_checked = Gauge(
            "warden_trigger_log_last_verification_timestamp_seconds",
            "When the daemon last verified the trigger log's hash chain (Unix time).",
            registry=self.registry,
        )
        self.checkpoint_interval = Gauge(
            "warden_trigger_log_checkpoint_interval_seconds",
            "How often the daemon issues a checkpoint of the trigger log (`checkpoint_every`): "
            "the checkpoint alert judges the last one's age by it.",
            registry=self.registry,
        )
        self.check_warnings = Gauge(
            "warden_check_warnings",
            "What `warden check` warns of, found at start: feed sources missing or unreadable, "
            "placeholder secrets, thresholds on a benchmark or metric nothing knows, routes that "
            "take nothing (each logged as `check: ...`).",
            ["check"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "warden_leader",
            "1 on the replica that leads (runs the feeds, sweep, forecasts, follow-up and "
            "checkpoints, and exports the store-wide figures), 0 on a follower.",
            registry=self.registry,
        )
        self.failovers = Counter(
            "warden_failovers",
            "Times this replica took over the leadership from another (an epoch after the "
            "first); summed over replicas, the group's failovers since they started.",
            registry=self.registry,
        )
        self.registry.register(
            StoreCollector(
                store,
                thresholds,
                feeds,
                self.scrape_errors,
                settings or MetricsSettings(),
                sinks,
                pushed,
                clock,
                feed_intervals,
                leading,
            )
        )

    def catalog_changed(self, catalog: Catalog) -> None:
        """Export `warden_evaluation_failures_total` at 0 for each threshold of `catalog` (so
        `increase()` sees its first failure), and no longer for thresholds it dropped."""
        ids = {t.id for t in catalog.thresholds}
        for gone in self._evaluated - ids:
            self.evaluation_failures.remove(gone)
        for new in ids - self._evaluated:
            self.evaluation_failures.labels(new)
        self._evaluated = ids


def _tree(conn: Connection) -> Iterator[Metric]:
    """The trigger log's Merkle tree and its newest checkpoint."""
    size = GaugeMetricFamily(
        "warden_trigger_log_tree_size",
        "Entries in the trigger log's Merkle tree (the size the next checkpoint will have).",
    )
    size.add_metric([], tree.tree_size(conn))
    yield size
    last = tree.latest_checkpoint(conn)
    when = GaugeMetricFamily(
        "warden_trigger_log_last_checkpoint_timestamp_seconds",
        "When the newest checkpoint of the trigger log was issued (Unix time; 0: never).",
    )
    when.add_metric([], 0.0 if last is None else last.created_at.timestamp())
    yield when
    covered = GaugeMetricFamily(
        "warden_trigger_log_checkpoint_size",
        "Entries the newest checkpoint of the trigger log covers.",
    )
    covered.add_metric([], 0 if last is None else last.tree_size)
    yield covered

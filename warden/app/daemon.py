"""The composition root: builds the store, catalog, connectors, sinks, dispatcher, schedules and
the HTTP app from the settings, and runs them in one process."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from warden.alerting import actions as alerting
from warden.alerting.cycle import CycleResult, run_cycle
from warden.alerting.routing import Router, config_label_problems
from warden.app.checks import Report, check_world
from warden.app.listen import bind
from warden.app.outage import Outage
from warden.app.settings import FeedSettings, Settings, SinkSettings
from warden.catalog.definitions import stored as stored_definitions
from warden.catalog.feedhealth import threshold_id, with_feed_health
from warden.catalog.reload import CatalogWatch
from warden.catalog.thresholds import Catalog, Threshold, load_catalog
from warden.core import plugins
from warden.core.clock import Clock, system_clock
from warden.core.errors import DeliveryError, PluginError, Problem, ProblemsError
from warden.core.model import Evaluation, Payload
from warden.delivery.dispatch import Dispatcher
from warden.delivery.sinks import Sink
from warden.evaluation.sweep import Sweep
from warden.forecasting.frontier import ThresholdForecast
from warden.forecasting.projection import Projector, reads
from warden.ingest.connector import Connector, Cursor
from warden.ingest.feedrun import IngestResult, handle, run_feed
from warden.metrics.collector import Metrics
from warden.store import Store
from warden.store import alerts as alert_rows
from warden.store import definitions as definition_rows
from warden.store.leader import default_replica_id
from warden.triggerlog.entries import Break, catalog_entry, verify

log = logging.getLogger(__name__)

PUSH_FEED = "api"  # the feed id of observations pushed over HTTP
CATALOG_CHECK_SECONDS = 2.0  # how often the daemon looks for SIGHUP or changed catalog files
FOLLOW_UP_SECONDS = 15.0  # how often ended silences are logged and repeats are considered


@dataclass
class Feed:
    id: str
    every: float
    connector: Connector
    cursor: Cursor = field(default_factory=Cursor)
    cron: str | None = None


def catalog_ids(catalog: Catalog) -> set[str]:
    return {t.id for t in catalog.thresholds}


def build_connector(name: str, options: dict[str, object], where: str) -> Connector:
    cls = plugins.load(plugins.CONNECTORS, name)
    connector: Connector = cls(options, where)
    return connector


def build_feed(cfg: FeedSettings) -> Feed:
    connector = build_connector(cfg.connector, cfg.options, f"feeds.{cfg.id}")
    return Feed(cfg.id, cfg.every, connector, cron=cfg.cron)


def build_sink(cfg: SinkSettings) -> Sink:
    cls = plugins.load(plugins.SINKS, cfg.type)
    sink: Sink = cls(cfg.id, cfg.options)
    return sink


@dataclass
class Parts:
    catalog: Catalog | None = None
    feeds: dict[str, Feed] = field(default_factory=dict)
    sinks: dict[str, Sink] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def assemble(settings: Settings) -> Parts:
    """Build the catalog, feeds and sinks, collecting every problem rather than stopping at
    the first (`warden check` prints them all)."""
    parts = Parts()
    try:
        catalog = load_catalog(settings.catalog_paths(), settings.registry_paths())
        parts.catalog = with_feed_health(catalog, settings.feeds)
    except ProblemsError as exc:
        parts.problems.extend(exc.problems)
    for f in settings.feeds:
        if f.id == PUSH_FEED:
            parts.problems.append(Problem(f"feeds.{f.id}", "feed id reserved for the push API"))
        elif feed := _built(parts.problems, f"feeds.{f.id}", partial(build_feed, f)):
            parts.feeds[f.id] = feed
    for s in settings.sinks:
        if sink := _built(parts.problems, f"sinks.{s.id}", partial(build_sink, s)):
            parts.sinks[s.id] = sink
    if parts.catalog is not None:  # a matcher on a label no alert has matches nothing
        thresholds = parts.catalog.thresholds
        for where, why in config_label_problems(settings.routes, settings.inhibit, thresholds):
            parts.problems.append(Problem(where, why))
    return parts


T = TypeVar("T")


def _built(problems: list[Problem], where: str, build: Callable[[], T]) -> T | None:
    try:
        return build()
    except ProblemsError as exc:
        problems.extend(exc.problems)
    except PluginError as exc:
        problems.append(Problem(where, str(exc)))
    return None


class Warden:
    """The running parts, wired together. CLI commands and the daemon both use it."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock = system_clock,
        *,
        migrate: bool = True,
        create: bool = True,
    ) -> None:
        """Without `create`, a missing SQLite store is refused (StoreMissing) rather than made:
        only `run`, `ingest`, `backfill` and `db upgrade` create one."""
        parts = assemble(settings)
        if parts.problems or parts.catalog is None:
            raise ProblemsError(parts.problems)
        self.settings = settings
        self.clock = clock
        self.catalog = parts.catalog
        self.feeds = parts.feeds
        self.sinks = parts.sinks
        self.store = Store(settings.database_url, create=create)
        self.outage = Outage()  # jobs wait through a store outage (warden/app/outage.py)
        # Who this daemon is among the replicas and in the outbox's leases (a restarted one
        # takes back its own leases at once); whether it leads (warden/app/ha.py).
        self.replica = settings.ha.replica or default_replica_id(settings.http.port)
        self.leading: Callable[[], bool] = lambda: True
        if migrate:
            self.store.upgrade()
            # Warden watches the catalog's thresholds from now on: evidence already in the
            # store is history to them, what arrives from now on is news (alerting.cycle).
            with self.store.write() as conn:
                alert_rows.lock(conn)  # replicas starting together record it once
                alert_rows.watch_starts(conn, catalog_ids(self.catalog), clock())
        # The last evaluation of each threshold x subject (for the margins in /metrics).
        self.last: dict[tuple[str, str], Evaluation] = {}
        # The projected frontier of every frontier threshold (for the metrics), refreshed by
        # `forecast` every `forecast_every`.
        self.forecasts: dict[str, ThresholdForecast] = {}
        self.projector = Projector()
        self.metrics = Metrics(
            self.store,
            lambda: (self.catalog, self.last, self.forecasts),
            list(self.feeds),
            settings.metrics,
            list(self.sinks),
            pushed=[PUSH_FEED],
            clock=clock,
            feed_intervals=_feed_intervals(settings),
            leading=lambda: self.leading(),
        )
        policies = {
            s.id: settings.dispatch.policy(s.retry_for, s.backoff_max) for s in settings.sinks
        }
        self.dispatcher = Dispatcher(
            self.store, self.sinks, settings.dispatch, clock, policies=policies, owner=self.replica
        )
        self.metrics.checkpoint_interval.set(settings.checkpoint_every)
        self._sweep = Sweep()
        self._refreshed: dict[str, datetime] = {}  # sinks re-sent their active alerts, when
        self.log_break: Break | None = None  # the last verification of the trigger log
        self.router = Router(settings.routes, list(self.sinks), settings.inhibit)

    def catalog_pairs(self) -> set[tuple[str, str]]:
        return {p for t in self.catalog.thresholds for p in t.pairs}

    def note_catalog(self) -> int | None:
        """Append a catalog entry to the trigger log if the catalog differs from the one it last
        recorded (ids added, changed, removed); returns its seq."""
        with self.store.write() as conn:
            alert_rows.lock(conn)
            # Each version's full definition, which the entry's `versions` name (replay).
            definition_rows.save(conn, stored_definitions(self.catalog.thresholds), self.clock())
            entry = catalog_entry(
                alert_rows.chain_head(conn),
                self.clock(),
                alert_rows.last_catalog_versions(conn),
                self.catalog.thresholds,
                [str(f) for f in self.catalog.files],
            )
            if entry is None:
                return None
            alert_rows.append_triggers(conn, [entry])
        body = entry.body
        log.info(
            "catalog: trigger %d records %d added, %d changed, %d removed thresholds",
            entry.seq,
            len(body["added"]),
            len(body["changed"]),
            len(body["removed"]),
        )
        return entry.seq

    def reload_catalog(self) -> bool:
        """Load the catalog again. If it is invalid, keep the last good one and log every
        problem; the outcome is in warden_catalog_last_reload_successful."""
        try:
            catalog = load_catalog(self.settings.catalog_paths(), self.settings.registry_paths())
        except ProblemsError as exc:
            log.error("catalog reload failed; keeping the last good catalog: %s", exc)
            self.metrics.catalog_reload_ok.set(0)
            return False
        self.catalog = with_feed_health(catalog, self.settings.feeds)
        self.metrics.catalog_changed(self.catalog)
        self.last = {k: v for k, v in self.last.items() if k[0] in catalog_ids(self.catalog)}
        self.metrics.catalog_reload_ok.set(1)
        self.note_catalog()
        self.evaluate()
        return True

    def run_feed(self, feed_id: str) -> IngestResult:
        # The schedule never overlaps a feed's runs (max_instances=1), so its cursor has one user.
        feed = self.feeds[feed_id]
        result = run_feed(
            self.store,
            feed.id,
            feed.connector,
            feed.cursor,
            self.clock,
            self.catalog.registry,
            persist=True,
            bounds=self.settings.ingest.bounds(),
        )
        health = [t for t in self.catalog.thresholds if t.id == threshold_id(feed_id)]
        touched = self.catalog.touching(result.touched)
        if touched or health:
            self.evaluate([*touched, *health])
        self.forecast_touched(result.touched)
        return result

    def ingest_payload(self, feed: str, connector: Connector, payload: Payload) -> IngestResult:
        """One payload (a push), through the same path as a feed run."""
        result = IngestResult(feed)
        handle(
            self.store,
            feed,
            connector,
            payload,
            result,
            self.clock,
            self.catalog.registry,
            self.settings.ingest.bounds(),
        )
        self.evaluate_touched(result.touched)
        self.forecast_touched(result.touched)
        return result

    def evaluate_touched(self, pairs: Iterable[tuple[str, str]]) -> CycleResult | None:
        thresholds = self.catalog.touching(pairs)
        return self.evaluate(thresholds) if thresholds else None

    def evaluate(self, thresholds: Iterable[Threshold] | None = None) -> CycleResult:
        feed_stale = {f.id: f.stale_after for f in self.settings.feeds if f.stale_after}
        result = run_cycle(
            self.store,
            self.catalog,
            self.router,
            self.clock,
            thresholds,
            feed_stale,
            self.projector,
            self.settings.ingest.max_clock_skew,
        )
        self.metrics.evaluation_seconds.observe(result.duration_seconds)
        for ev in result.evaluations:
            self.last[(ev.threshold, ev.subject)] = ev
        for tid in result.failed:
            self.metrics.evaluation_failures.labels(tid).inc()
        if result.notified:
            self.dispatcher.wake()
        return result

    def follow_up(self) -> None:
        """Log the silences that ended, and repeat or escalate unacknowledged firing alerts."""
        now = self.clock()
        for silence_id in alerting.log_ended(self.store, now):
            log.info("silence %d ended", silence_id)
        if alerting.renotify(self.store, self.catalog, self.router, now).repeats:
            self.dispatcher.wake()
        for sink_id, sink in self.sinks.items():
            refresh = getattr(sink, "refresh", None)
            every = float(getattr(sink, "refresh_every", 0) or 0)
            last = self._refreshed.get(sink_id)
            if refresh is None or (last is not None and (now - last).total_seconds() < every):
                continue
            try:
                refresh(
                    alerting.active_notifications(
                        self.store, self.catalog, self.router, sink_id, now
                    )
                )
                self._refreshed[sink_id] = now
            except DeliveryError as exc:  # logged; the next follow-up tries again
                log.warning("sink %s: refreshing active alerts failed: %s", sink_id, exc.why)

    def forecast(self) -> None:
        """Project every frontier threshold's trend (fits of unchanged series are cached)."""
        catalog = self.catalog
        with self.store.read() as conn:
            self.forecasts = self.projector.project(conn, catalog, catalog.thresholds, self.clock())

    def forecast_touched(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Refresh the forecasts after an ingest into a series a forecast frontier reads, so the
        projected crossings follow new data at once, not forecast_every later."""
        if not reads(self.catalog, pairs):
            return
        try:
            self.forecast()
        except Exception:  # the ingest is done; the forecast job retries on its schedule
            log.exception("forecast after ingest failed")

    def ready(self) -> tuple[bool, str]:
        """Whether the daemon can be trusted to record and alert: the store answers at the
        latest schema, and the trigger log verified when it was last checked."""
        ready, why = self.store.ready()
        if ready and self.log_break is not None:
            b = self.log_break
            return False, f"the trigger log does not verify: entry {b.seq}: {b.why}"
        if ready and self.store.dialect == "postgresql":  # one of a group: say which role
            why = f"{why} ({'leader' if self.leading() else 'follower'})"
        return ready, why

    def check(self) -> Report:
        """The checks of `warden check` over the running parts (warden/app/checks.py): each
        finding logged, their count per check in warden_check_warnings."""
        try:
            report = check_world(self.settings, Parts(self.catalog, self.feeds, self.sinks))
        except Exception:  # a start-up aid: its failure must not stop the daemon
            log.exception("check: the checks of `warden check` failed; starting without them")
            return Report()
        for finding in report.findings:
            log.warning("check: %s", finding, extra={"check": finding.check})
        for check, count in report.counts().items():
            self.metrics.check_warnings.labels(check).set(count)
        return report

    def verify_log(self) -> Break | None:
        """Verify the trigger log's hash chain; the outcome is in warden_trigger_log_verified."""
        with self.store.read() as conn:
            broken = verify(alert_rows.entries(conn))
        self.metrics.chain_ok.set(0 if broken else 1)
        self.metrics.chain_checked.set(self.clock().timestamp())
        self.log_break = broken
        if broken is not None:
            log.error("trigger log: entry %d does not verify: %s", broken.seq, broken.why)
        return broken

    def checkpoint(self) -> None:
        """Issue a checkpoint of the trigger log, signed with `checkpoint_key`, and write it to
        `checkpoint_file` (the job of `checkpoint_every`)."""
        from warden.triggerlog import checkpoint as cp

        s = self.settings
        key = (
            None if s.checkpoint_key is None else cp.signing_key(s.checkpoint_key, "checkpoint_key")
        )
        with self.store.write() as conn:
            issued = cp.issue(conn, s.log_origin, key, self.clock())
        if s.checkpoint_file is not None:
            cp.write_file(s.checkpoint_file, issued)

    def sweep(self) -> CycleResult:
        """The periodic evaluation: every threshold the first time, then those that time alone
        can change, that read new observations or that failed (warden/evaluation/sweep.py)."""
        stale_feeds = [f.id for f in self.settings.feeds if f.stale_after]
        catalog = self.catalog
        with self.store.read() as conn:
            chosen, watermark = self._sweep.due(conn, catalog, stale_feeds)
        result = self.evaluate(chosen)
        self._sweep.done(watermark, result.failed)
        return result

    def reset_sweep(self) -> None:
        """Evaluate every threshold at the next sweep (a new leader trusts no watermark)."""
        self._sweep = Sweep()

    def close(self) -> None:
        self.store.dispose()


def _feed_intervals(settings: Settings) -> dict[str, float]:
    from warden.app.scheduler import expected_interval_seconds

    return {f.id: expected_interval_seconds(f.every, f.cron) for f in settings.feeds}


def serve(
    warden: Warden,
    create_app: Callable[[Warden], Any],
    http_protocol: type[asyncio.Protocol] | None = None,
) -> int:
    """Run the daemon until SIGTERM or SIGINT; returns the exit code. `create_app` builds the
    ASGI application (the HTTP API) that serves beside the schedules; `http_protocol`, the
    HTTP protocol uvicorn serves it with (its own h11 one by default)."""
    import uvicorn

    from warden.app.ha import Group
    from warden.app.scheduler import Schedules

    settings = warden.settings
    warden.note_catalog()
    watch = CatalogWatch(
        lambda: [*settings.catalog_paths(), *settings.registry_paths()], warden.reload_catalog
    )
    # Every replica watches its catalog and verifies the trigger log (read-only: its /readyz and
    # warden_trigger_log_verified); only the leader runs the other jobs (warden/app/ha.py): a
    # worker per feed, so one slow or failing feed never delays another, and three for the
    # other jobs (the sweep, forecasts, follow-up, checkpoints), which are short.
    always = Schedules(workers=2, guard=warden.outage.guard)
    always.every("catalog-watch", CATALOG_CHECK_SECONDS, watch.check, start_now=False)
    always.every("verify-log", settings.verify_every, warden.verify_log)
    schedules = Schedules(workers=len(warden.feeds) + 3)
    group = Group(warden, schedules)
    schedules.guard(lambda job, f: warden.outage.guard(job, group.leader_only(job, f)))
    for feed in warden.feeds.values():
        run = partial(warden.run_feed, feed.id)
        if feed.cron is not None:
            schedules.cron(f"feed:{feed.id}", feed.cron, run)
        else:
            schedules.every(f"feed:{feed.id}", feed.every, run)
    schedules.every("evaluate", settings.evaluate_every, warden.sweep, start_now=False)
    schedules.every("checkpoint", settings.checkpoint_every, warden.checkpoint)
    schedules.every("forecast", settings.forecast_every, warden.forecast)
    schedules.every("follow-up", FOLLOW_UP_SECONDS, warden.follow_up, start_now=False)
    app = create_app(warden)
    sock = bind(settings.http.host, settings.http.port)
    config = uvicorn.Config(
        app,
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        access_log=False,
        lifespan="off",
        http=http_protocol or "auto",
    )
    server = uvicorn.Server(config)
    warden.dispatcher.start()
    always.start()
    group.start()
    log.info(
        "warden started: http://%s:%d, store %s, %d thresholds from %d catalog files, "
        "%d feeds, %d sinks",
        settings.http.host,
        settings.http.port,
        warden.store.describe(),
        len(warden.catalog.thresholds),
        len(warden.catalog.files),
        len(warden.feeds),
        len(warden.sinks),
    )
    warden.check()  # what `warden check` warns of, logged and in warden_check_warnings
    # uvicorn handles SIGTERM/SIGINT while it serves, then re-raises the signal to the handler
    # that was installed before it. Ours notes it, so the drain below runs and we exit 0.
    stop_signals: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stop_signals.append(signum))
    signal.signal(signal.SIGHUP, lambda _signum, _frame: watch.ask())
    try:
        server.run(sockets=[sock])
    finally:
        log.info("warden stopping: waiting for running jobs and deliveries")
        always.shutdown()
        group.stop()
        warden.dispatcher.stop()
        warden.close()
    log.info("warden stopped")
    return 0

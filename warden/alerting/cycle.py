"""One evaluation cycle: read evidence and alert states, evaluate, advance the state machine, and
append each transition to the trigger log with its outbox rows, all in one transaction; the
routes, silences and inhibition rules are matched before it, with no transaction open."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection

from warden.alerting import notify
from warden.alerting.notify import Unmatched, firing_labels, groups
from warden.alerting.routing import Matches, Router
from warden.alerting.state import advance
from warden.catalog.conditions import Reassessment, SilentFeed
from warden.catalog.registry import ModelSpec
from warden.catalog.signs import Sign
from warden.catalog.thresholds import Catalog, Threshold
from warden.core import gcpause
from warden.core.clock import Clock
from warden.core.model import (
    NOTIFY_STATES,
    QUIET_STATES,
    Assessment,
    Evaluation,
    State,
    Transition,
    Verdict,
)
from warden.evaluation.evaluate import FeedRuns, depth, evaluate_threshold, explain, silent_feeds
from warden.evaluation.flags import flagged
from warden.forecasting.frontier import ThresholdForecast
from warden.forecasting.projection import Projector
from warden.ingest.settings import MAX_CLOCK_SKEW_SECONDS
from warden.store import Store, actions, stats
from warden.store import alerts as alert_rows
from warden.store import assessments as assessment_rows
from warden.store import observations as obs_rows
from warden.store import outbox as outbox_rows
from warden.triggerlog.entries import chain

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    evaluations: list[Evaluation] = field(default_factory=list)
    transitions: list[tuple[int, Transition]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    # Triggers to be notified that no configured route took: recorded, never delivered.
    unrouted: list[int] = field(default_factory=list)

    @property
    def notified(self) -> int:
        return sum(1 for _, t in self.transitions if t.to_state in NOTIFY_STATES)


def idempotency_key(trigger_hash: str, sink: str) -> str:
    """Stable per trigger and sink: a receiver seeing it twice has seen the same alert."""
    return hashlib.sha256(f"{trigger_hash}:{sink}".encode()).hexdigest()[:40]


# Attempts a cycle makes to apply its transitions with every match learnt before its write
# transaction; the last one matches what is still new under the lock rather than go on retrying
# (only alerts, silences or firing alerts that changed while the earlier ones were matched).
MAX_ATTEMPTS = 4


def run_cycle(
    store: Store,
    catalog: Catalog,
    sinks: Sequence[str] | Router,
    clock: Clock,
    thresholds: Iterable[Threshold] | None = None,
    feed_stale: Mapping[str, float] | None = None,
    projector: Projector | None = None,
    max_clock_skew: float = MAX_CLOCK_SKEW_SECONDS,
) -> CycleResult:
    """Evaluate `thresholds` (default: the whole catalog) and persist what changed.
    `sinks`: a Router (routes, silences, inhibition), or sink ids that every notification goes
    to. `feed_stale`: feed id -> its `stale_after`: a feed that has gone that long without a
    successful run is silent, and its evidence does not count. Observations dated more than
    `max_clock_skew` seconds after now are not read: a bad time cannot hide later evidence.

    Evaluation and the state machine run in one write transaction, under the alert lock, so
    two cycles (a push and the sweep) never both apply a transition. Matching (routes, silences,
    inhibition) does not: an attempt that meets an alert its matches have not learnt rolls
    back, the alerts are matched with no transaction open (other writers carry on meanwhile),
    and the cycle evaluates again under the lock, now only looking matches up. What changed
    in between (a push, a silence) is read by that next attempt, as if it came first."""
    router = sinks if isinstance(sinks, Router) else Router([], list(sinks), ())
    chosen = list(catalog.thresholds if thresholds is None else thresholds)
    result = CycleResult()
    started = time.perf_counter()
    if not chosen:
        return result
    matches = Matches(router)
    errors: list[tuple[str, Exception]] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        matches.strict = attempt < MAX_ATTEMPTS
        result, errors = CycleResult(), []
        try:
            with store.write() as conn, gcpause.paused():
                alert_rows.lock(conn)
                _apply(
                    conn,
                    catalog,
                    matches,
                    chosen,
                    clock(),
                    result,
                    errors,
                    Inputs(feed_stale or {}, projector or PROJECTOR, max_clock_skew),
                )
        except Unmatched as unmatched:  # rolled back; matched with no transaction open
            silences, firing = unmatched.silences, unmatched.firing
            if silences is None:
                with store.read() as conn:
                    silences = actions.active_silences(conn, clock())
                    firing = firing + firing_labels(conn, catalog, set())
            matches.learn(unmatched.alerts, silences, firing)
            continue
        if attempt == MAX_ATTEMPTS:
            log.warning(
                "cycle: alerts or silences changed during %d attempts to match outside the "
                "write transaction; the last matched what was new under it",
                MAX_ATTEMPTS - 1,
            )
        break
    result.duration_seconds = time.perf_counter() - started
    for tid, exc in errors:
        log.error("threshold %s: evaluation failed", tid, exc_info=exc)
    by_id = {t.id: t for t in chosen}
    for seq, t in result.transitions:
        log.info(
            "trigger %d: %s %s: %s -> %s (%s)",
            seq,
            t.threshold,
            t.subject,
            t.from_state.value,
            t.to_state.value,
            explain(by_id[t.threshold], t.evaluation),
            extra={"trigger": seq, "threshold": t.threshold, "to_state": t.to_state.value},
        )
    if result.unrouted and router.routes:
        # One line per cycle, not one per trigger; none without sinks (nothing to route to).
        shown = ", ".join(f"#{s}" for s in result.unrouted[:5])
        more = f" and {len(result.unrouted) - 5} more" if len(result.unrouted) > 5 else ""
        log.warning(
            "%d triggers no route takes (recorded in the trigger log, not notified): %s%s",
            len(result.unrouted),
            shown,
            more,
            extra={"unrouted": len(result.unrouted)},
        )
    return result


class Inputs(NamedTuple):
    """What a cycle reads besides the store and the catalog."""

    feed_stale: Mapping[str, float]
    projector: Projector
    max_clock_skew: float


def _apply(
    conn: Connection,
    catalog: Catalog,
    matches: Matches,
    chosen: Sequence[Threshold],
    now: datetime,
    result: CycleResult,
    errors: list[tuple[str, Exception]],
    inputs: Inputs,
) -> None:
    """One attempt, in the write transaction under the alert lock: evaluate, advance the state
    machine, and append the transitions to the trigger log with their outbox rows."""
    states = alert_rows.load_states(conn, [t.id for t in chosen])
    pending = alert_rows.pending_since(conn, [t.id for t in chosen if t.for_seconds])
    kept = [t.id for t in chosen if t.keep_firing_for]
    last_breach = alert_rows.breached_at(conn, kept)
    breached: list[tuple[str, str]] = []
    extra = {"stderr"} if any(t.confidence for t in chosen) else set()
    silent = any(isinstance(t.when, SilentFeed) for t in chosen)
    runs = (
        {f: FeedRuns(*times) for f, *times in stats.feed_history(conn)}
        if silent or inputs.feed_stale
        else {}
    )
    quiet = silent_feeds(inputs.feed_stale, runs, now)
    extra |= {"observed_at"} if any(t.stale_after for t in chosen) else set()
    extra |= {"n"} if any(t.min_samples for t in chosen) else set()
    extra |= {"n", "observed_at"} if any(isinstance(t.when, Sign) for t in chosen) else set()
    extra |= {"feed"} if quiet else set()
    read = depth(chosen)
    pairs = {p for t in chosen if not t.exclude_vendor_reported for p in t.pairs}
    until = now + timedelta(seconds=inputs.max_clock_skew)
    evidence = obs_rows.series(conn, pairs, read, extra, until=until)
    pairs = {p for t in chosen if t.exclude_vendor_reported for p in t.pairs}
    independent = obs_rows.series(conn, pairs, read, extra, independent=True, until=until)
    due = any(isinstance(t.when, Reassessment) for t in chosen)
    assessed = assessment_rows.latest(conn) if due else {}
    projected = [t for t in chosen if t.projected is not None]
    forecasts = inputs.projector.project(conn, catalog, projected, now)
    known: dict[str, list[str]] = {}
    for tid, subject in states:
        known.setdefault(tid, []).append(subject)
    changed: list[tuple[Transition, Threshold]] = []
    context = Context(catalog.registry.models, quiet, assessed, runs, forecasts)
    evaluated = [
        (
            threshold,
            _evaluate_one(
                threshold,
                independent if threshold.exclude_vendor_reported else evidence,
                known,
                now,
                result,
                errors,
                context,
            ),
        )
        for threshold in chosen
    ]
    for threshold, evaluations in zip(chosen, flagged(evaluated), strict=True):
        for ev in evaluations:
            key = (threshold.id, ev.subject)
            since, last = pending.get(key), last_breach.get(key)
            transition = advance(
                states.get(key),
                ev,
                threshold,
                None if since is None else (now - since).total_seconds(),
                None if last is None else (now - last).total_seconds(),
            )
            if threshold.keep_firing_for and ev.verdict is Verdict.BREACHED:
                breached.append(key)
            if transition is not None:
                changed.append((transition, threshold))
        result.evaluations.extend(evaluations)
    # Before anything is written: an attempt that meets an alert not matched yet ends here.
    decisions = notify.decisions(conn, catalog, matches, changed, now)
    rows = [_state_row(th, t.subject, t.to_state, now) for t, th in changed]
    details = obs_rows.evidence(conn, (p.id for t, _ in changed for p in t.evaluation.evidence))
    starts = alert_rows.watch_starts(conn, [t.id for t in chosen], now)
    history = notify.history(conn, changed, details, starts)
    extras = notify.records(conn, changed, decisions, history)
    items = [(now, t, th) for t, th in changed]
    entries = chain(alert_rows.chain_head(conn), items, details, extras)
    alert_rows.save_states(conn, rows)
    actions.clear(
        conn, [(t.threshold, t.subject) for t, _ in changed if t.to_state in QUIET_STATES]
    )
    alert_rows.mark_breached(conn, breached, now)
    alert_rows.append_triggers(conn, entries)
    router = matches.router
    dues: dict[tuple[str, str], datetime] = {}  # one look-up per sink and group a cycle
    outbox_rows.enqueue(
        conn,
        [
            (e.seq, sink, idempotency_key(e.hash, sink), group, due)
            for e, decision, (t, th), old in zip(entries, decisions, changed, history, strict=True)
            for sink, group, due in groups(conn, router, decision, th, t, old, now, dues)
        ],
        now,
    )
    result.transitions = [(e.seq, t) for e, (t, _) in zip(entries, changed, strict=True)]
    result.unrouted = [
        e.seq
        for e, (t, _), d in zip(entries, changed, decisions, strict=True)
        if t.to_state in NOTIFY_STATES and not d.routes
    ]


# Fits are cached across cycles: an unchanged frontier is not refitted.
PROJECTOR = Projector()


def _state_row(
    threshold: Threshold, subject: str, state: State, now: datetime
) -> dict[str, object]:
    return {
        "threshold": threshold.id,
        "subject": subject,
        "state": state.value,
        "since": now,
        "threshold_version": threshold.version,
        "updated_at": now,
    }


class Context(NamedTuple):
    """What evaluation reads besides the evidence."""

    models: Mapping[str, ModelSpec]
    silent_feeds: frozenset[str]
    assessments: Mapping[str, Assessment]
    feed_runs: Mapping[str, FeedRuns]
    forecasts: Mapping[str, ThresholdForecast]


def _evaluate_one(
    threshold: Threshold,
    evidence: obs_rows.Series,
    known: dict[str, list[str]],
    now: datetime,
    result: CycleResult,
    errors: list[tuple[str, Exception]],
    context: Context,
) -> list[Evaluation]:
    subjects = known.get(threshold.id, [])
    try:
        return evaluate_threshold(
            threshold,
            evidence,
            now,
            subjects,
            context.models,
            context.silent_feeds,
            context.assessments,
            context.feed_runs,
            context.forecasts,
        )
    except Exception as exc:  # noqa: BLE001 - logged with its traceback once the cycle commits
        errors.append((threshold.id, exc))
        result.failed.append(threshold.id)
        reason = f"evaluation failed: {type(exc).__name__}: {exc}"
        if not subjects and threshold.is_frontier:
            subjects = [threshold.scope.value]
        # A per-model threshold with no alert states yet has no subject to mark: the failure is
        # logged and counted in warden_evaluation_failures_total.
        return [Evaluation(threshold.id, s, Verdict.ERROR, reason=reason) for s in subjects]

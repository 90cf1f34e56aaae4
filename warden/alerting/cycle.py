"""One evaluation cycle: read evidence and alert states, evaluate, advance the state machine, and
append each transition to the trigger log with its outbox rows, all in one transaction."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection

from warden.alerting.routing import Decision, Router, labels
from warden.alerting.state import advance
from warden.catalog.conditions import Reassessment, SilentFeed
from warden.catalog.registry import ModelSpec
from warden.catalog.thresholds import Catalog, Threshold
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
from warden.forecasting.frontier import ThresholdForecast
from warden.forecasting.projection import Projector
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


def run_cycle(
    store: Store,
    catalog: Catalog,
    sinks: Sequence[str] | Router,
    clock: Clock,
    thresholds: Iterable[Threshold] | None = None,
    feed_stale: Mapping[str, float] | None = None,
    projector: Projector | None = None,
) -> CycleResult:
    """Evaluate `thresholds` (default: the whole catalog) and persist what changed.
    `sinks`: a Router (routes, silences, inhibition), or sink ids that every notification goes
    to. `feed_stale`: feed id -> its `stale_after`: a feed that has gone that long without a
    successful run is silent, and its evidence does not count."""
    router = sinks if isinstance(sinks, Router) else Router([], list(sinks), ())
    chosen = list(catalog.thresholds if thresholds is None else thresholds)
    result = CycleResult()
    started = time.perf_counter()
    if not chosen:
        return result
    with store.write() as conn:
        alert_rows.lock(conn)
        now = clock()
        states = alert_rows.load_states(conn, [t.id for t in chosen])
        pending = alert_rows.pending_since(conn, [t.id for t in chosen if t.for_seconds])
        kept = [t.id for t in chosen if t.keep_firing_for]
        last_breach = alert_rows.breached_at(conn, kept)
        breached: list[tuple[str, str]] = []
        extra = {"stderr"} if any(t.confidence for t in chosen) else set()
        silent = any(isinstance(t.when, SilentFeed) for t in chosen)
        runs = (
            {f: FeedRuns(*times) for f, *times in stats.feed_history(conn)}
            if silent or feed_stale
            else {}
        )
        quiet = silent_feeds(feed_stale or {}, runs, now)
        extra |= {"observed_at"} if any(t.stale_after for t in chosen) else set()
        extra |= {"n"} if any(t.min_samples for t in chosen) else set()
        extra |= {"feed"} if quiet else set()
        read = depth(chosen)
        pairs = {p for t in chosen if not t.exclude_vendor_reported for p in t.pairs}
        evidence = obs_rows.series(conn, pairs, read, extra)
        pairs = {p for t in chosen if t.exclude_vendor_reported for p in t.pairs}
        independent = obs_rows.series(conn, pairs, read, extra, independent=True)
        due = any(isinstance(t.when, Reassessment) for t in chosen)
        assessed = assessment_rows.latest(conn) if due else {}
        projected = [t for t in chosen if t.projected is not None]
        forecasts = (projector or PROJECTOR).project(conn, catalog, projected, now)
        known: dict[str, list[str]] = {}
        for tid, subject in states:
            known.setdefault(tid, []).append(subject)
        changed: list[tuple[Transition, Threshold]] = []
        for threshold in chosen:
            evaluations = _evaluate_one(
                threshold,
                independent if threshold.exclude_vendor_reported else evidence,
                known,
                now,
                result,
                Context(catalog.registry.models, quiet, assessed, runs, forecasts),
            )
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
        rows = [_state_row(th, t.subject, t.to_state, now) for t, th in changed]
        details = obs_rows.evidence(conn, (p.id for t, _ in changed for p in t.evaluation.evidence))
        decisions, extras = _deliveries(conn, catalog, router, changed, now)
        items = [(now, t, th) for t, th in changed]
        entries = chain(alert_rows.chain_head(conn), items, details, extras)
        alert_rows.save_states(conn, rows)
        actions.clear(
            conn, [(t.threshold, t.subject) for t, _ in changed if t.to_state in QUIET_STATES]
        )
        alert_rows.mark_breached(conn, breached, now)
        alert_rows.append_triggers(conn, entries)
        outbox_rows.enqueue(
            conn,
            [
                (e.seq, sink, idempotency_key(e.hash, sink))
                for e, decision in zip(entries, decisions, strict=True)
                for sink in decision.sinks
            ],
            now,
        )
        result.transitions = [(e.seq, t) for e, (t, _) in zip(entries, changed, strict=True)]
        result.unrouted = [
            e.seq
            for e, (t, _), d in zip(entries, changed, decisions, strict=True)
            if t.to_state in NOTIFY_STATES and not d.routes
        ]
    result.duration_seconds = time.perf_counter() - started
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
        if seq in result.unrouted:
            log.warning(
                "trigger %d: no route takes %s %s (%s): recorded, not notified",
                seq,
                t.threshold,
                t.subject,
                t.to_state.value,
                extra={"trigger": seq, "threshold": t.threshold, "to_state": t.to_state.value},
            )
    return result


# Fits are cached across cycles: an unchanged frontier is not refitted.
PROJECTOR = Projector()


def _deliveries(
    conn: Connection,
    catalog: Catalog,
    router: Router,
    changed: Sequence[tuple[Transition, Threshold]],
    now: datetime,
) -> tuple[list[Decision], list[dict[str, object]]]:
    """Where each transition is notified (routes, silences, inhibition) and what the trigger
    log records about it: the decision, and the acknowledgement when there is one."""
    if not changed:
        return [], []
    notified = [t.to_state in NOTIFY_STATES for t, _ in changed]
    silences = actions.active_silences(conn, now) if any(notified) else []
    acked = actions.acks(conn, ((t.threshold, t.subject) for t, _ in changed))
    moved = {(t.threshold, t.subject) for t, _ in changed}
    resolving = [(t.threshold, t.subject) for t, _ in changed if t.to_state is State.RESOLVED]
    told = outbox_rows.announced(conn, resolving) if resolving else {}
    firing = [
        labels(catalog.by_id(f.threshold), f.subject, "firing")
        for f in actions.firing(conn)
        if (f.threshold, f.subject) not in moved and catalog.has(f.threshold)
    ] + [labels(th, t.subject, "firing") for t, th in changed if t.to_state is State.FIRING]
    decisions, extras = [], []
    for (t, th), notify in zip(changed, notified, strict=True):
        if notify:
            alert = labels(th, t.subject, t.to_state.value)
            if t.evaluation.projection is not None:
                alert["alert"] = "projected_crossing"
            decision = router.decide(alert, silences, firing, now)
            if t.to_state is State.RESOLVED:
                decision = decision.announced_to(told[(t.threshold, t.subject)])
        else:
            decision = Decision((), ())
        extra: dict[str, object] = {"delivery": decision.record()} if notify else {}
        ack = acked.get((t.threshold, t.subject))
        if ack is not None:
            extra["acknowledged"] = {"by": ack.by, "at": ack.at.isoformat(), "note": ack.note}
        decisions.append(decision)
        extras.append(extra)
    return decisions, extras


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
    except Exception as exc:
        log.exception("threshold %s: evaluation failed", threshold.id)
        result.failed.append(threshold.id)
        reason = f"evaluation failed: {type(exc).__name__}: {exc}"
        if not subjects and threshold.is_frontier:
            subjects = [threshold.scope.value]
        # A per-model threshold with no alert states yet has no subject to mark: the failure is
        # logged and counted in warden_evaluation_failures_total.
        return [Evaluation(threshold.id, s, Verdict.ERROR, reason=reason) for s in subjects]

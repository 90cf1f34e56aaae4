"""One evaluation cycle: read evidence and alert states, evaluate, advance the state machine, and
append each transition to the trigger log with its outbox rows, all in one transaction."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
    StoredObservation,
    Transition,
    Verdict,
)
from warden.evaluation.evaluate import FeedRuns, depth, evaluate_threshold, explain, silent_feeds
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
    `max_clock_skew` seconds after now are not read: a bad time cannot hide later evidence."""
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
        until = now + timedelta(seconds=max_clock_skew)
        evidence = obs_rows.series(conn, pairs, read, extra, until=until)
        pairs = {p for t in chosen if t.exclude_vendor_reported for p in t.pairs}
        independent = obs_rows.series(conn, pairs, read, extra, independent=True, until=until)
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
        starts = alert_rows.watch_starts(conn, [t.id for t in chosen], now)
        history = _history(conn, changed, details, starts)
        decisions, extras = _deliveries(conn, catalog, router, changed, history, now)
        items = [(now, t, th) for t, th in changed]
        entries = chain(alert_rows.chain_head(conn), items, details, extras)
        alert_rows.save_states(conn, rows)
        actions.clear(
            conn, [(t.threshold, t.subject) for t, _ in changed if t.to_state in QUIET_STATES]
        )
        alert_rows.mark_breached(conn, breached, now)
        alert_rows.append_triggers(conn, entries)
        dues: dict[tuple[str, str], datetime] = {}  # one look-up per sink and group a cycle
        outbox_rows.enqueue(
            conn,
            [
                (e.seq, sink, idempotency_key(e.hash, sink), group, due)
                for e, decision, (t, th), old in zip(
                    entries, decisions, changed, history, strict=True
                )
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


# Fits are cached across cycles: an unchanged frontier is not refitted.
PROJECTOR = Projector()


def _history(
    conn: Connection,
    changed: Sequence[tuple[Transition, Threshold]],
    details: Mapping[int, StoredObservation],
    starts: Mapping[str, datetime],
) -> list[bool]:
    """Whether each transition was caused by history: every observation of its evidence is
    one warden found rather than saw arrive. An observation is history when it was in the store
    before warden first evaluated the threshold (the first start on a store, a threshold added
    to the catalog), when its feed's first run read it, or when a feed found it later but it
    happened before that first run (a backfill, an old row). A pushed observation arriving
    after the threshold's first evaluation is news, whatever its date; so is a transition
    without evidence (stale data, an error)."""
    if not changed:
        return []
    runs = alert_rows.first_runs(conn)

    def old(o: StoredObservation, since: datetime) -> bool:
        if o.ingested_at is not None and o.ingested_at < since:
            return True
        first = runs.get(o.feed)
        if first is None:
            return False
        started, ended = first
        return (o.ingested_at is not None and o.ingested_at <= ended) or o.observed_at < started

    out = []
    for t, th in changed:
        seen = [details[p.id] for p in t.evaluation.evidence if p.id in details]
        out.append(bool(seen) and all(old(o, starts[th.id]) for o in seen))
    return out


def groups(
    conn: Connection,
    router: Router,
    decision: Decision,
    threshold: Threshold,
    transition: Transition,
    history: bool,
    now: datetime,
    dues: dict[tuple[str, str], datetime] | None = None,
) -> list[tuple[str, str, datetime]]:
    """(sink, group key, due at) of each notification of a transition, as its routes group
    them: the alerts a route sends a sink with the same `group_by` labels are one group, history
    apart from news (`history: summary`); `group_wait` (`history_wait` for a summary) and
    `group_interval` set when it is due, and a group still waiting takes the new alert along
    (as Alertmanager's group_wait runs from the group's first alert). A route with
    `history: none` sends history nowhere."""
    alert = labels(threshold, transition.subject, transition.to_state.value)
    out = []
    for sink in decision.sinks:
        i = next((i for i in decision.routes if sink in router.routes[i].sinks), None)
        route = router.routes[i] if i is not None else None
        if route is None:  # an escalation's sink, or no route: a group of its own route
            out.append((sink, f"{'history|' if history else ''}-", now))
            continue
        if history and route.history == "none":
            continue
        summary = history and route.history == "summary"
        by = ",".join(f"{k}={alert.get(k, '')}" for k in route.group_by)
        group = f"{'history|' if summary else ''}{i}|{by}"
        wait = route.history_wait if summary else route.group_wait
        cached = None if dues is None else dues.get((sink, group))
        if cached is not None:
            out.append((sink, group, cached))
            continue
        due = outbox_rows.waiting(conn, sink, group) or now + timedelta(seconds=wait)
        if route.group_interval:
            last = outbox_rows.last_sent(conn, sink, group)
            if last is not None:
                due = max(due, last + timedelta(seconds=route.group_interval))
        if dues is not None:
            dues[(sink, group)] = due
        out.append((sink, group, due))
    return out


def _deliveries(
    conn: Connection,
    catalog: Catalog,
    router: Router,
    changed: Sequence[tuple[Transition, Threshold]],
    history: Sequence[bool],
    now: datetime,
) -> tuple[list[Decision], list[dict[str, object]]]:
    """Where each transition is notified (routes, silences, inhibition) and what the trigger
    log records about it: the decision, whether history caused it, and the acknowledgement
    when there is one."""
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
    for (t, th), notify, old in zip(changed, notified, history, strict=True):
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
        if old:
            extra["history"] = True
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

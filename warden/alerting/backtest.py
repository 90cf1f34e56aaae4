"""Backtest: replay the stored observations in time order through a catalog, as if warden had
been running, and report per threshold when it would have warned and fired.

- Replay time: an observation's `observed_at`, or its model's release date when it has no
  measurement time of its own (`timestamp_kind` `fetched` or `release_date`, as in the
  frontier); observations with neither are left out and counted. The replay pretends
  such a result was known on the release day, which is earlier than it really was: lead times on
  those series are upper bounds.
- Steps: one per UTC day with observations, at the day's last replay time. Each step stores that
  day's observations in a temporary SQLite store and runs the real evaluation cycle
  (`run_cycle`) with the clock at the step, so `for`, `stale_after`, `confidence`,
  `clear_at` and the rest behave as in the daemon. With `since`, warden starts on that day with
  everything observed before it (the first step; each observation keeps its own time); with
  `until`, later observations are ignored.
- Warnings by margin: transitions into `warning` (not the fall-back from `firing`). Warnings by
  projection: steps where the threshold's frontier (its scope's best value; any model for a
  per-model threshold) is projected to reach the trigger value within `within_days` with at
  least `probability` (the forecasting fit on the frontier as known at the step, over the
  threshold's fit window, from its `min_points` spanning its `min_span` at least, on data no
  older than its `max_age`: warden/forecasting/window.py), the start of each such run of steps
  counting once. A sparse early era or stale data give no projection, so no warning.
  Single conditions only; combinations get margins only.
- Fired: transitions into `firing`. Lead time, per subject: from a warning to the first firing
  within its horizon (`horizon_days` for margins, `within_days` for projections) of the same
  subject (a per-model threshold's margin warning about model A is not borne out by model B
  firing); a projection, about the frontier, is borne out by any model's firing. A false
  warning: one that no such firing followed within its horizon, once the horizon has passed
  within the replay (else it is `open`). A miss: a firing with no warning of its subject (or
  projection) within the horizon before it.
- Summary per threshold and kind of warning: warnings that came true (with their lead times),
  false ones, open ones, misses, precision (true / (true + false)) and recall (firings
  warned / firings).
- Re-assessment and feed-silence thresholds are not replayed (they depend on recorded
  assessments and feed runs, not observations).
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from warden.alerting.cycle import run_cycle
from warden.catalog.conditions import Combination, Condition
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.clock import Clock
from warden.core.model import Observation, State, StoredObservation
from warden.forecasting.fit import Fit, Projection
from warden.forecasting.frontier import forecast_threshold
from warden.store import Store
from warden.store import observations as obs_rows
from warden.store.observations import history

WarningKind = Literal["margin", "projection"]
Outcome = Literal["crossed", "false", "open"]


@dataclass(frozen=True)
class Options:
    since: datetime | None = None
    until: datetime | None = None
    within_days: float = 365.0  # projection: crossing projected within this many days ...
    probability: float = 0.5  # ... with at least this probability
    horizon_days: float = 365.0  # a margin warning not followed by a firing this soon is false
    seed: int = 0
    samples: int = 200  # bootstrap resamples per fit (a backtest fits at many steps)


@dataclass(frozen=True)
class Warned:
    kind: WarningKind
    at: datetime
    subject: str
    detail: str
    outcome: Outcome
    fired_at: datetime | None  # the firing that followed within the horizon

    @property
    def lead_days(self) -> float | None:
        return None if self.fired_at is None else _days(self.fired_at - self.at)


@dataclass(frozen=True)
class Summary:
    """How one kind of warning did over the replay."""

    kind: WarningKind | Literal["any"]
    true: int
    false: int
    open: int
    missed: int  # firings this kind of warning did not see coming
    fired: int
    lead_days: tuple[float, ...]  # of the warnings that came true

    @property
    def precision(self) -> float | None:
        judged = self.true + self.false
        return None if judged == 0 else self.true / judged

    @property
    def recall(self) -> float | None:
        return None if self.fired == 0 else (self.fired - self.missed) / self.fired

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "true": self.true,
            "false": self.false,
            "open": self.open,
            "missed": self.missed,
            "fired": self.fired,
            "lead_days": list(self.lead_days),
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True)
class Replayed:
    """What one threshold would have done over the replay."""

    threshold: str
    scope: str
    level: float | None
    warn_at: float | None
    warnings: tuple[Warned, ...]
    fired: tuple[tuple[datetime, str], ...]  # (when, subject) of each transition to firing
    notes: tuple[str, ...] = ()

    @property
    def fired_at(self) -> datetime | None:
        return self.fired[0][0] if self.fired else None

    def first(self, kind: WarningKind) -> Warned | None:
        return next((w for w in self.warnings if w.kind == kind), None)

    def lead(self, kind: WarningKind) -> Warned | None:
        """The earliest warning of `kind` that a firing followed within its horizon."""
        return next((w for w in self.warnings if w.kind == kind and w.fired_at), None)

    @property
    def false_warnings(self) -> list[Warned]:
        return [w for w in self.warnings if w.outcome == "false"]

    def summary(self, kind: WarningKind | Literal["any"] = "any") -> Summary:
        """Warnings of `kind` (or of either kind) against the firings."""
        ws = [w for w in self.warnings if kind in ("any", w.kind)]
        missed = sum(1 for at, subject in self.fired if not any(_saw(w, at, subject) for w in ws))
        return Summary(
            kind,
            sum(1 for w in ws if w.outcome == "crossed"),
            sum(1 for w in ws if w.outcome == "false"),
            sum(1 for w in ws if w.outcome == "open"),
            missed,
            len(self.fired),
            tuple(w.lead_days for w in ws if w.lead_days is not None),
        )

    def as_dict(self) -> dict[str, Any]:
        def lead(kind: WarningKind) -> float | None:
            w = self.lead(kind)
            return None if w is None else w.lead_days

        return {
            "threshold": self.threshold,
            "scope": self.scope,
            "level": self.level,
            "warn_at": self.warn_at,
            "warned_at": _iso(w.at if (w := self.first("margin")) else None),
            "projected_at": _iso(w.at if (w := self.first("projection")) else None),
            "fired_at": _iso(self.fired_at),
            "fired_subject": self.fired[0][1] if self.fired else None,
            "lead_days_margin": lead("margin"),
            "lead_days_projection": lead("projection"),
            "false_warnings": len(self.false_warnings),
            "summary": {k: self.summary(k).as_dict() for k in ("margin", "projection", "any")},
            "warnings": [
                {
                    "kind": w.kind,
                    "at": _iso(w.at),
                    "subject": w.subject,
                    "detail": w.detail,
                    "outcome": w.outcome,
                    "fired_at": _iso(w.fired_at),
                    "lead_days": w.lead_days,
                }
                for w in self.warnings
            ],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Backtest:
    start: datetime | None
    end: datetime | None
    steps: int
    observations: int
    options: Options
    thresholds: tuple[Replayed, ...]
    left_out: tuple[tuple[str, int], ...] = ()
    skipped: tuple[str, ...] = ()  # thresholds not replayed

    def as_dict(self) -> dict[str, Any]:
        o = self.options
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "steps": self.steps,
            "observations": self.observations,
            "options": {
                "within_days": o.within_days,
                "probability": o.probability,
                "horizon_days": o.horizon_days,
                "seed": o.seed,
                "samples": o.samples,
            },
            "left_out": dict(self.left_out),
            "skipped": list(self.skipped),
            "thresholds": [t.as_dict() for t in self.thresholds],
        }


def run(store: Store, catalog: Catalog, options: Options | None = None) -> Backtest:
    """Replay every stored observation the catalog's thresholds read."""
    with store.read() as conn:
        records = history(conn, {p for t in catalog.thresholds for p in t.pairs})
    return replay([r for rs in records.values() for r in rs], catalog, options or Options())


def replay_time(r: StoredObservation) -> datetime | None:
    return r.time("release_date") if r.undated else r.observed_at


def replay(records: Iterable[StoredObservation], catalog: Catalog, options: Options) -> Backtest:
    """Replay `records` through `catalog` on a temporary SQLite store."""
    left: Counter[str] = Counter()
    timed: list[
        tuple[datetime, datetime, StoredObservation]
    ] = []  # (step time, replay time, record)
    for r in records:
        at = replay_time(r)
        if at is None:
            left["no measurement time and no release date"] += 1
        elif options.until is not None and at > options.until:
            left["after the end of the replay"] += 1
        else:
            timed.append((max(at, options.since) if options.since else at, at, r))
    timed.sort(key=lambda p: (p[0], p[2].id))
    pairs = {(r.benchmark, r.metric) for _, _, r in timed}
    chosen = [t for t in catalog.thresholds if isinstance(t.when, Condition | Combination)]
    skipped = tuple(t.id for t in catalog.thresholds if t not in chosen)
    chosen = [t for t in chosen if set(t.pairs) & pairs]
    days: dict[Any, list[tuple[datetime, datetime, StoredObservation]]] = defaultdict(list)
    for item in timed:
        days[item[0].date()].append(item)
    steps = [
        (max(step for step, _, _ in group), [(at, r) for _, at, r in group])
        for _, group in sorted(days.items())
    ]
    events = _run_steps(catalog, chosen, steps)
    projections = _projections(catalog, chosen, steps, options)
    end = options.until or (steps[-1][0] if steps else None)
    out = tuple(
        _report(t, events.get(t.id, []), projections.get(t.id, []), end, options) for t in chosen
    )
    return Backtest(
        steps[0][0] if steps else None,
        end,
        len(steps),
        len(timed),
        options,
        out,
        tuple(sorted(left.items())),
        skipped,
    )


Event = tuple[datetime, str, State, State]  # (when, subject, from, to)


def _run_steps(
    catalog: Catalog,
    chosen: Sequence[Threshold],
    steps: Sequence[tuple[datetime, list[tuple[datetime, StoredObservation]]]],
) -> dict[str, list[Event]]:
    events: dict[str, list[Event]] = defaultdict(list)
    if not chosen:
        return events
    with tempfile.TemporaryDirectory(prefix="warden-backtest-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'warden.db'}")
        try:
            store.upgrade()
            for now, group in steps:
                by_feed: dict[str, list[Observation]] = defaultdict(list)
                for at, r in group:
                    by_feed[r.feed].append(_observation(r, at))
                with store.write() as conn:
                    for feed, items in by_feed.items():
                        obs_rows.insert_observations(conn, feed, items, now)
                result = run_cycle(store, catalog, [], _fixed(now), chosen)
                for _, t in result.transitions:
                    events[t.threshold].append((now, t.subject, t.from_state, t.to_state))
        finally:
            store.dispose()
    return events


def _fixed(at: datetime) -> Clock:
    return lambda: at


def _observation(r: StoredObservation, at: datetime) -> Observation:
    return Observation(
        r.subject,
        r.benchmark,
        r.metric,
        r.value,
        at,
        r.key,
        "backtest",
        "",
        r.stderr,
        r.n,
        dict(r.attributes),
    )


def _projections(
    catalog: Catalog,
    chosen: Sequence[Threshold],
    steps: Sequence[tuple[datetime, list[tuple[datetime, StoredObservation]]]],
    options: Options,
) -> dict[str, list[tuple[datetime, Projection]]]:
    """Each single-condition threshold's projection at every step (from its first data on)."""
    out: dict[str, list[tuple[datetime, Projection]]] = defaultdict(list)
    known: dict[tuple[str, str], list[StoredObservation]] = defaultdict(list)
    fits: dict[tuple[Any, ...], Fit] = {}
    single = [t for t in chosen if isinstance(t.when, Condition)]
    for now, group in steps:
        for at, r in group:
            known[(r.benchmark, r.metric)].append(replace(r, observed_at=at))
        for t in single:
            if not known.get(t.pairs[0]):
                continue
            (made,) = forecast_threshold(
                known,
                t,
                catalog.registry,
                now,
                options.within_days,
                seed=options.seed,
                samples=options.samples,
                fits=fits,
                other=None,  # the window shown beside is for people, not for the replay
            )
            out[t.id].append((now, made.trigger))
    return out


def _saw(w: Warned, fired_at: datetime, subject: str) -> bool:
    """Whether warning `w` came before the firing of `subject` at `fired_at`, within its
    horizon (the one it was judged by: `w.fired_at` is that firing, or `w` was about the
    subject and the firing came while it was open)."""
    if w.fired_at is None or w.at > fired_at:
        return False
    return w.fired_at == fired_at and (w.subject == subject or w.kind == "projection")


def _report(
    t: Threshold,
    events: Sequence[Event],
    projections: Sequence[tuple[datetime, Projection]],
    end: datetime | None,
    options: Options,
) -> Replayed:
    fired = tuple((at, subject) for at, subject, _, to in events if to is State.FIRING)
    raw: list[tuple[WarningKind, datetime, str, str]] = [
        ("margin", at, subject, f"{before.value} -> warning")
        for at, subject, before, to in events
        if to is State.WARNING and before is not State.FIRING
    ]
    active = False
    for at, p in projections:
        hit = p.status == "projected" and (p.probability or 0) >= options.probability
        if hit and not active:
            median = p.quantiles.get(0.5)
            detail = (
                f"P(cross within {options.within_days:g} d) = {p.probability:.2f}; "
                f"median crossing {median.date() if median else 'beyond horizon'}"
            )
            raw.append(("projection", at, "frontier", detail))
        active = hit
    warnings = []
    for kind, at, subject, detail in sorted(raw, key=lambda w: (w[1], w[0])):
        horizon = timedelta(days=options.horizon_days if kind == "margin" else options.within_days)
        # Per subject: a per-model threshold's warning about one model is borne out only by
        # that model's firing; the frontier's (and a projection's) by any.
        anyone = kind == "projection" or t.is_frontier
        after = next(
            (f for f, s in fired if at <= f <= at + horizon and (anyone or s == subject)), None
        )
        outcome: Outcome = (
            "crossed" if after else "false" if end is not None and at + horizon <= end else "open"
        )
        warnings.append(Warned(kind, at, subject, detail, outcome, after))
    notes = []
    if isinstance(t.when, Combination):
        notes.append("a combination: warnings by margin only")
    elif projections and projections[-1][1].status in ("no_forecast", "stale"):
        last = projections[-1][1]
        what = "no forecast" if last.status == "no_forecast" else "stale data"
        notes.append(f"{what} at the end: {last.reason}")
    unwarned = sorted({s for at, s in fired if not any(_saw(w, at, s) for w in warnings)})
    if unwarned:
        who = "" if t.is_frontier else f" ({', '.join(unwarned)})"
        notes.append(f"fired with no warning before it{who}")

    level = t.when.value if isinstance(t.when, Condition) else None
    return Replayed(t.id, t.scope.value, level, t.warn_at, tuple(warnings), fired, tuple(notes))


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()

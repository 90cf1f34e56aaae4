"""Frontier series: the best value of a benchmark metric over time, per scope.

A frontier point is a record: an observation better than every one before it (higher, or lower
for a `lower` metric), at the time it was made. Scopes: all models, open-weights models, one
organisation's (both filters may combine). Membership comes from the registry for a model it
knows (as evaluation decides it), else from the observation's own `organisation` /
`open_weights` attributes.

Time: the observation's `observed_at` (basis `observed_at`), or the model's release date (basis
`release_date`), chosen per series by warden/forecasting/dating.py: release dates from the
registry, the observation's attributes or Epoch's model tables; `auto` picks `release_date` when
most observations have one or have no measurement time of their own (METR's files, dated when
fetched). On the release-date basis each model is one point at its release date, valued by its
newest estimate (a newer version of a versioned source supersedes an older one, whatever the
fetch times, and whatever the variant); a model run at several variants (effort levels,
scaffolds: the observation's `variant`) is valued by its most capable variant's newest estimate
(maximum elicitation: the highest, or the lowest for a `lower` metric), the others counted as
left out; an observation without a release date is placed at its measurement time if it
has one (counted in `placed`), else left out. On the observation-time basis every observation
is a point. Observations left out are counted with the reason.

A threshold's forecast fits its frontier over the window its plan names
(warden/forecasting/window.py) and, beside it, over the other window; the trigger and warning
projections use the first, and say how old the newest data are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from warden.catalog.conditions import Condition, Part
from warden.catalog.registry import Registry
from warden.catalog.thresholds import Scope, Threshold
from warden.core.model import COMPUTE, Basis, StoredObservation
from warden.forecasting import dating
from warden.forecasting.dating import Released, measured_at, released_on
from warden.forecasting.fit import SAMPLES, Direction, Fit, Projection, fit
from warden.forecasting.window import Plan, Window, change, label, plan
from warden.store.observations import history

BasisChoice = Literal["auto", "observed_at", "release_date"]


@dataclass(frozen=True)
class FrontierScope:
    """Which models count: all, open weights only, one organisation's (or both)."""

    open_weights: bool = False
    organisation: str | None = None

    @property
    def name(self) -> str:
        parts = ["open_weights"] if self.open_weights else []
        parts += [f"organisation:{self.organisation}"] if self.organisation else []
        return ",".join(parts) or "all"

    @classmethod
    def parse(cls, text: str) -> FrontierScope:
        """`all`, `open_weights`, `organisation:NAME`, or the last two joined by a comma."""
        scope = cls()
        for part in (p.strip() for p in text.split(",")):
            if part == "open_weights":
                scope = FrontierScope(True, scope.organisation)
            elif part.startswith("organisation:") and part[13:].strip():
                scope = FrontierScope(scope.open_weights, part[13:].strip())
            elif part != "all":
                raise ValueError(f"scope {text!r}: all, open_weights or organisation:NAME")
        return scope

    @classmethod
    def of(cls, threshold: Threshold) -> FrontierScope:
        """The frontier a threshold's crossing depends on (a per-model threshold: any model)."""
        return cls(threshold.scope is Scope.OPEN_WEIGHTS_FRONTIER, threshold.organisation)

    def admits(self, subject: str, attributes: Mapping[str, Any], registry: Registry) -> bool:
        if not self.open_weights and self.organisation is None:
            return True
        model = registry.models.get(subject)
        org = model.organisation if model else attributes.get("organisation")
        weights = model.open_weights if model else attributes.get("open_weights")
        return (self.organisation is None or org == self.organisation) and (
            not self.open_weights or weights is True
        )


@dataclass(frozen=True)
class FrontierPoint:
    at: datetime  # on the series' basis
    value: float
    subject: str
    observation: int  # the stored observation's id
    observed_at: datetime
    variant: str = ""  # the setting the model ran at, "" when the source names none


@dataclass(frozen=True)
class Frontier:
    benchmark: str
    metric: str
    scope: FrontierScope
    basis: Basis
    direction: Direction
    scale: str | None
    points: tuple[FrontierPoint, ...]  # the records, oldest first
    considered: int  # observations in scope
    left_out: tuple[tuple[str, int], ...] = ()  # (why, how many)
    measure: str = "value"  # or the bound of a threshold's confidence interval
    newest: datetime | None = None  # the newest observation placed, record or not
    placed: tuple[tuple[str, int], ...] = ()  # (how, how many): "release date", ...

    @property
    def best(self) -> FrontierPoint | None:
        return self.points[-1] if self.points else None

    @property
    def basis_text(self) -> str:
        """The basis as output names it, with the observations placed otherwise."""
        if self.basis == "observed_at":
            return "by observation time"
        other = dict(self.placed).get(MEASURED, 0)
        return "by release date" + (
            f" ({other} by measurement time: no release date)" if other else ""
        )

    def pairs(self) -> list[tuple[datetime, float]]:
        """(time, value) of each record: what warden.forecasting.fit fits."""
        return [(p.at, p.value) for p in self.points]

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "metric": self.metric,
            "scope": self.scope.name,
            "basis": self.basis,
            "direction": self.direction,
            "scale": self.scale,
            "measure": self.measure,
            "considered": self.considered,
            "newest": None if self.newest is None else self.newest.isoformat(),
            "placed": dict(self.placed),
            "left_out": dict(self.left_out),
            "points": [
                {
                    "at": p.at.isoformat(),
                    "value": p.value,
                    "subject": p.subject,
                    "observation": p.observation,
                    **({"variant": p.variant} if p.variant else {}),
                }
                for p in self.points
            ],
        }


def series(
    conn: Connection,
    benchmark: str,
    metric: str,
    scope: FrontierScope,
    registry: Registry,
    basis: BasisChoice = "auto",
    until: datetime | None = None,
) -> Frontier:
    """The frontier of `benchmark`/`metric` in `scope`, from the store (up to `until`)."""
    found = history(conn, [(benchmark, metric), COMPUTE])
    records = found.get((benchmark, metric), [])
    table = dating.release_table(found.get(COMPUTE, []))
    return build(records, benchmark, metric, scope, registry, basis, until, released=table)


def build(
    records: Sequence[StoredObservation],
    benchmark: str,
    metric: str,
    scope: FrontierScope,
    registry: Registry,
    basis: BasisChoice = "auto",
    until: datetime | None = None,
    direction: Direction | None = None,
    released: Released | None = None,
) -> Frontier:
    """The frontier of `records` (observations of one benchmark metric) in `scope`. Pure.
    `direction` overrides the registry's (default: higher); `released` is Epoch's model tables
    by name (dating.release_table)."""
    spec = registry.metric(benchmark, metric)[1]
    direction = direction or (spec.direction if spec else "higher")
    scale = spec.scale if spec else _common_scale(records)
    sign = 1.0 if direction == "higher" else -1.0
    table = released or {}
    chosen = [r for r in records if scope.admits(r.subject, r.attributes, registry)]
    used: Basis = dating.pick_basis(chosen, registry, table) if basis == "auto" else basis
    left: Counter[str] = Counter()
    placed: Counter[str] = Counter()
    timed: list[tuple[datetime, StoredObservation]] = []
    candidates = chosen
    if used == "release_date":
        candidates, dropped = estimates(chosen, direction)
        left.update(dropped)
    for r in candidates:
        at = released_on(r, registry, table) if used == "release_date" else measured_at(r)
        how = RELEASED
        if at is None and used == "release_date" and (at := measured_at(r)) is not None:
            how = MEASURED
        if at is None:
            left["no release date" if used == "release_date" else "no measurement time"] += 1
        elif until is None or at <= until:
            placed[how if used == "release_date" else MEASURED] += 1
            timed.append((at, r))
    timed.sort(key=lambda p: (p[0], -sign * p[1].value, p[1].id))
    points: list[FrontierPoint] = []
    for at, r in timed:
        if points and sign * r.value <= sign * points[-1].value:
            continue
        point = FrontierPoint(at, r.value, r.subject, r.id, r.observed_at, r.variant)
        if points and points[-1].at == at:
            points[-1] = point
        else:
            points.append(point)
    return Frontier(
        benchmark,
        metric,
        scope,
        used,
        direction,
        scale,
        tuple(points),
        len(chosen),
        tuple((why, k) for why, k in sorted(left.items()) if k),
        newest=max((at for at, _ in timed), default=None),
        placed=tuple(sorted(placed.items())),
    )


RELEASED = "release date"
MEASURED = "measurement time"
WEAKER = "less capable variants of a model"


def estimates(
    records: Sequence[StoredObservation], direction: Direction
) -> tuple[list[StoredObservation], dict[str, int]]:
    """Each model's estimate on the release-date basis, and how many were passed over, by why:
    a newer version of a versioned source supersedes an older one across variants; of the
    rest, each variant's newest (dating.newest_estimates), of which the most capable in
    `direction` (the first variant by name of equals)."""
    by_subject: dict[str, list[StoredObservation]] = {}
    for r in records:
        by_subject.setdefault(r.subject, []).append(r)
    out: list[StoredObservation] = []
    left: Counter[str] = Counter()
    sign = 1.0 if direction == "higher" else -1.0
    for rs in by_subject.values():
        variants = sorted({r.variant for r in rs})
        if len(variants) == 1:
            kept, dropped = dating.newest_estimates(rs)
            out += kept
            left.update(dropped)
            continue
        current = _current(rs)
        left[dating.SUPERSEDED] += len(rs) - len(current)
        newest: list[StoredObservation] = []
        for v in variants:
            kept, dropped = dating.newest_estimates([r for r in current if r.variant == v])
            newest += kept
            left.update(dropped)
        out.append(max(newest, key=lambda r: sign * r.value))
        left[WEAKER] += len(newest) - 1
    return out, dict(left)


def _current(records: Sequence[StoredObservation]) -> list[StoredObservation]:
    """`records` without those a newer version of their versioned source supersedes."""
    best: dict[str, tuple[tuple[int, ...], str]] = {}
    for r in records:
        if (line := dating.lineage(r)) is not None:
            best[line[0]] = max(best.get(line[0], line[1]), line[1])
    return [r for r in records if (line := dating.lineage(r)) is None or best[line[0]] == line[1]]


def for_threshold(
    records: Sequence[StoredObservation],
    threshold: Threshold,
    condition: Condition,
    registry: Registry,
    basis: BasisChoice = "auto",
    until: datetime | None = None,
    released: Released | None = None,
) -> Frontier:
    """The frontier as `threshold` judges `condition`: in its scope, in the direction of its
    `op`, valued by the bound of its `confidence` interval where it has one, and without the
    results it does not count (vendor-reported ones with `exclude_vendor_reported`, those under
    `min_samples`, those without stderr under `missing_uncertainty: ignore`). Pure."""
    t, higher = threshold, condition.higher_is_more
    dropped: Counter[str] = Counter()
    kept = []
    for r in records:
        if t.exclude_vendor_reported and r.attributes.get("vendor_reported") is True:
            dropped["vendor-reported (exclude_vendor_reported)"] += 1
        elif t.min_samples is not None and (r.n is None or r.n < t.min_samples):
            dropped[f"fewer than min_samples ({t.min_samples}) samples"] += 1
        elif t.z is not None and r.stderr is None and t.missing_uncertainty == "ignore":
            dropped["no stderr (missing_uncertainty: ignore)"] += 1
        else:
            kept.append(replace(r, value=t.compared(r.value, r.stderr, higher)))
    f = build(
        kept,
        condition.benchmark,
        condition.metric,
        FrontierScope.of(t),
        registry,
        basis,
        until,
        "higher" if higher else "lower",
        released,
    )
    measure = "value" if t.z is None else f"{'lower' if higher else 'upper'} {t.confidence:g} bound"
    left = sorted((Counter(dict(f.left_out)) + dropped).items())
    return replace(f, left_out=tuple(left), measure=measure)


@dataclass(frozen=True)
class ThresholdForecast:
    """One condition of a threshold: its frontier, the trend through it over the plan's
    window (and over the other window, beside it), and when the trend reaches the trigger value
    and the early-warning value."""

    threshold: str
    condition: Condition
    frontier: Frontier
    fit: Fit
    trigger: Projection
    warning: Projection | None
    plan: Plan | None = None
    other: Fit | None = None  # the fit over the other window
    other_trigger: Projection | None = None
    window: str = ""  # how output names the fit's window: "over 2019-2025", "since 2024"
    other_window: str = ""
    change: str | None = None  # "accelerating: doubling 181 d over 2019-2025, 99 d since 2024"
    beside: Window | None = None  # the other window, as the catalog writes it

    @property
    def stale(self) -> bool:
        """The newest data are older than the plan's max_age (and the trigger is not crossed)."""
        return self.trigger.stale

    def as_dict(self) -> dict[str, Any]:
        c = self.condition
        return {
            "threshold": self.threshold,
            "benchmark": c.benchmark,
            "metric": c.metric,
            "op": c.op,
            "value": c.value,
            "frontier": self.frontier.as_dict(),
            "plan": None if self.plan is None else self.plan.as_dict(),
            "window": self.window,
            "fit": self.fit.as_dict(),
            "trigger": self.trigger.as_dict(),
            "warning": None if self.warning is None else self.warning.as_dict(),
            "other": None
            if self.other is None
            else {
                "window": self.other_window,
                "since": None if self.beside is None else self.beside.spec,
                "fit": self.other.as_dict(),
                "trigger": None if self.other_trigger is None else self.other_trigger.as_dict(),
            },
            "change": self.change,
            "stale": self.stale,
        }


def forecast_threshold(
    records: Mapping[tuple[str, str], Sequence[StoredObservation]],
    threshold: Threshold,
    registry: Registry,
    now: datetime,
    within_days: float,
    *,
    seed: int = 0,
    samples: int = SAMPLES,
    fits: dict[tuple[Any, ...], Fit] | None = None,
    window: Window | None = None,
    **changes: Any,
) -> list[ThresholdForecast]:
    """Each benchmark condition of `threshold` projected from `records` (by pair) as of `now`,
    over the window of its plan (`window` overrides it; `changes` other fields of the plan).
    Pure. `fits` caches fits across calls (the same series gives the same fit). Epoch's model
    tables, when `records` hold them, date models the registry does not."""
    cache = {} if fits is None else fits
    table = dating.release_table(records.get(COMPUTE, ()))
    out = []
    for c in threshold.conditions:
        warn_at = c.warn_at if isinstance(c, Part) else threshold.warn_at
        f = for_threshold(
            records.get((c.benchmark, c.metric), ()),
            threshold,
            c,
            registry,
            until=now,
            released=table,
        )
        p = plan(threshold, f.scale, window, **changes)
        newest = f.newest or (f.best.at if f.best else None)
        trend = _fitted(f, p, p.main, newest, seed, samples, cache)
        beside = p.beside(newest, f.points[0].at if f.points else None)
        other = None if beside is None else _fitted(f, p, beside, newest, seed, samples, cache)
        name = label(p.main, trend)
        other_name = "" if other is None or beside is None else label(beside, other)

        def projected(
            trend: Fit, level: float, p: Plan = p, at: datetime | None = newest
        ) -> Projection:
            return trend.project(level, now, within_days, newest=at, max_age_days=p.max_age_days)

        out.append(
            ThresholdForecast(
                threshold.id,
                c,
                f,
                trend,
                projected(trend, c.value),
                None if warn_at is None else projected(trend, warn_at),
                p,
                other,
                None if other is None or not other.ok else projected(other, c.value),
                name,
                other_name,
                None if other is None else change(trend, name, other, other_name),
                beside,
            )
        )
    return out


def _fitted(
    f: Frontier,
    p: Plan,
    w: Window,
    newest: datetime | None,
    seed: int,
    samples: int,
    cache: dict[tuple[Any, ...], Fit],
) -> Fit:
    since = w.start(newest)
    key = (f.scale, f.direction, tuple(f.pairs()), seed, samples, since, p.method, p.min_points,
           p.min_span_days)  # fmt: skip
    if key not in cache:
        cache[key] = fit(
            f.pairs(),
            f.scale,
            f.direction,
            since=since,
            seed=seed,
            samples=samples,
            method=p.method,
            min_points=p.min_points,
            min_span_days=p.min_span_days,
        )
    return cache[key]


def _common_scale(records: Sequence[StoredObservation]) -> str | None:
    scales = {r.attributes.get("scale") for r in records}
    (only,) = scales if len(scales) == 1 else (None,)
    return only if isinstance(only, str) else None

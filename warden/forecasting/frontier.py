"""Frontier series: the best value of a benchmark metric over time, per scope.

A frontier point is a record: an observation better than every one before it (higher, or lower
for a `lower` metric), at the time it was made. Scopes: all models, open-weights models, one
organisation's (both filters may combine). Membership comes from the registry for a model it
knows (as evaluation decides it), else from the observation's own `organisation` /
`open_weights` attributes.

Time: the observation's `observed_at` (basis `observed_at`), or the model's release date (basis
`release_date`) where the source gives no measurement time: observations whose
`timestamp_kind` is `fetched` (METR's files: observed_at is when the file was read) or
`release_date` (Epoch's rows without a run time). `auto` picks `release_date` when most of a
series' observations are of those kinds. On the release-date basis each model is one point at
its release date, valued by its newest estimate (the newest observation, as evaluation reads
it); on the observation-time basis every observation is a point. Observations that have no time
on the chosen basis are left out and counted with the reason.
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
from warden.core.model import Basis, StoredObservation
from warden.forecasting.fit import SAMPLES, Direction, Fit, Projection, fit
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

    @property
    def best(self) -> FrontierPoint | None:
        return self.points[-1] if self.points else None

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
            "left_out": dict(self.left_out),
            "points": [
                {
                    "at": p.at.isoformat(),
                    "value": p.value,
                    "subject": p.subject,
                    "observation": p.observation,
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
    records = history(conn, [(benchmark, metric)]).get((benchmark, metric), [])
    return build(records, benchmark, metric, scope, registry, basis, until)


def build(
    records: Sequence[StoredObservation],
    benchmark: str,
    metric: str,
    scope: FrontierScope,
    registry: Registry,
    basis: BasisChoice = "auto",
    until: datetime | None = None,
    direction: Direction | None = None,
) -> Frontier:
    """The frontier of `records` (observations of one benchmark metric) in `scope`. Pure.
    `direction` overrides the registry's (default: higher)."""
    spec = registry.metric(benchmark, metric)[1]
    direction = direction or (spec.direction if spec else "higher")
    scale = spec.scale if spec else _common_scale(records)
    sign = 1.0 if direction == "higher" else -1.0
    chosen = [r for r in records if scope.admits(r.subject, r.attributes, registry)]
    used: Basis = pick_basis(chosen) if basis == "auto" else basis
    left: Counter[str] = Counter()
    timed: list[tuple[datetime, StoredObservation]] = []
    if used == "release_date":
        newest: dict[str, StoredObservation] = {}
        for r in chosen:
            if r.subject not in newest or (r.observed_at, r.id) >= (
                newest[r.subject].observed_at,
                newest[r.subject].id,
            ):
                newest[r.subject] = r
        left["older estimates of a model"] = len(chosen) - len(newest)
        candidates = list(newest.values())
    else:
        candidates = chosen
    for r in candidates:
        at = r.time(used)
        if at is None:
            left["no release date" if used == "release_date" else "no measurement time"] += 1
        elif until is None or at <= until:
            timed.append((at, r))
    timed.sort(key=lambda p: (p[0], -sign * p[1].value, p[1].id))
    points: list[FrontierPoint] = []
    for at, r in timed:
        if points and sign * r.value <= sign * points[-1].value:
            continue
        point = FrontierPoint(at, r.value, r.subject, r.id, r.observed_at)
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
    )


def for_threshold(
    records: Sequence[StoredObservation],
    threshold: Threshold,
    condition: Condition,
    registry: Registry,
    basis: BasisChoice = "auto",
    until: datetime | None = None,
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
    )
    measure = "value" if t.z is None else f"{'lower' if higher else 'upper'} {t.confidence:g} bound"
    left = sorted((Counter(dict(f.left_out)) + dropped).items())
    return replace(f, left_out=tuple(left), measure=measure)


@dataclass(frozen=True)
class ThresholdForecast:
    """One condition of a threshold: its frontier, the trend through it, and when the trend
    reaches the trigger value and the early-warning value."""

    threshold: str
    condition: Condition
    frontier: Frontier
    fit: Fit
    trigger: Projection
    warning: Projection | None

    def as_dict(self) -> dict[str, Any]:
        c = self.condition
        return {
            "threshold": self.threshold,
            "benchmark": c.benchmark,
            "metric": c.metric,
            "op": c.op,
            "value": c.value,
            "frontier": self.frontier.as_dict(),
            "fit": self.fit.as_dict(),
            "trigger": self.trigger.as_dict(),
            "warning": None if self.warning is None else self.warning.as_dict(),
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
) -> list[ThresholdForecast]:
    """Each benchmark condition of `threshold` projected from `records` (by pair) as of `now`.
    Pure. `fits` caches fits across calls (the same series gives the same fit)."""
    cache = {} if fits is None else fits
    out = []
    for c in threshold.conditions:
        warn_at = c.warn_at if isinstance(c, Part) else threshold.warn_at
        f = for_threshold(
            records.get((c.benchmark, c.metric), ()), threshold, c, registry, until=now
        )
        key = (f.scale, f.direction, tuple(f.pairs()), seed, samples)
        if key not in cache:
            cache[key] = fit(f.pairs(), f.scale, f.direction, seed=seed, samples=samples)
        trend = cache[key]
        warning = None if warn_at is None else trend.project(warn_at, now, within_days)
        out.append(
            ThresholdForecast(
                threshold.id, c, f, trend, trend.project(c.value, now, within_days), warning
            )
        )
    return out


def pick_basis(records: Sequence[StoredObservation]) -> Basis:
    """`release_date` when most observations have no measurement time of their own."""
    undated = sum(1 for r in records if r.undated)
    return "release_date" if records and undated * 2 >= len(records) else "observed_at"


def _common_scale(records: Sequence[StoredObservation]) -> str | None:
    scales = {r.attributes.get("scale") for r in records}
    (only,) = scales if len(scales) == 1 else (None,)
    return only if isinstance(only, str) else None

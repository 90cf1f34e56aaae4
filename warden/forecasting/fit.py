"""Trend fits of a frontier series and the projected date it reaches a level. Pure: no clock,
no I/O; the caller passes `now` and the points.

- The fit is chosen by the metric's scale (registry): log-linear for unbounded growth (`minutes`,
  `hours`, `seconds`, `flop`: the log of the value grows linearly in time, so a doubling time
  exists), logit-linear for bounded fractions (`fraction`, `percent`: the log-odds grow
  linearly, saturating at the edge of the scale), linear for additive scales (`points`, `elo`).
- Robust by default: the Theil-Sen line (the median of the slopes between every two points; a
  single outlier moves it little); `method="ols"` gives ordinary least squares instead (what
  most published trend figures use). Goodness of fit: R² and a robust residual scale
  (1.4826 x MAD), both in the transformed space. The lines and their bootstrap:
  warden/forecasting/lines.py.
- A window: `since`/`until` choose the points; a window with fewer than `min_points` points or
  whose points span less than `min_span_days` gives no fit (and says so) rather than a line
  through a sparse early era.
- Uncertainty: a bootstrap over points (resampled with replacement, refitted), seeded so the same
  points and seed give identical output. Crossing dates are reported as the 10th, 50th and 90th
  percentiles of the bootstrap's crossing dates, with the probability of crossing within N days.
- Bad input is explained, never raised: too few points or distinct times, no spread in value, a
  value the transform cannot take (0 on a log scale; 0 or 1 on a logit one: left out and named),
  a level the fit can never reach (1.0 of a fraction), a trend that does not grow. Crossing dates
  more than HORIZON_YEARS ahead count as never.
- Crossing dates are where the trend line reaches the level, never clamped to `now`: a trend
  line already past a level the data have not reached gives that past date (and says so).
- Stale data: when the newest data are older than `max_age_days`, the projection's status is
  `stale`: the dates are still given (in the past if the line crossed there) but no
  probability, since a trend run past its data cannot say what happened since.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from warden.forecasting.lines import MIN_SAMPLES as MIN_SAMPLES
from warden.forecasting.lines import bootstrap, bootstrap_ols, least_squares, quantile, theil_sen
from warden.forecasting.space import Kind, inverse, kind_of, transform, why_undefined

Direction = Literal["higher", "lower"]
Method = Literal["theil_sen", "ols"]
Status = Literal["crossed", "projected", "not_projected", "stale", "no_forecast"]
METHODS: tuple[Method, ...] = ("theil_sen", "ols")

MIN_POINTS = 4  # points the fit needs, at MIN_TIMES distinct times at least
MIN_TIMES = 3
SAMPLES = 1000  # bootstrap resamples
HORIZON_YEARS = 50  # a crossing further ahead than this counts as never
QUANTILES = (0.1, 0.5, 0.9)
YEAR_DAYS = 365.25
LN2 = math.log(2)
STALE_DAYS = 180  # without a max_age: newest point older than this is noted
WIDE = 4.0  # interval (p90 - p10) over time to the median crossing: "wide uncertainty"


@dataclass(frozen=True)
class Fit:
    """A trend through a series, or the reason there is none (`reason` set, numbers None)."""

    kind: Kind | None
    scale: str | None
    direction: Direction
    n: int  # points the fit used
    start: datetime | None  # the fit window: first and last point used
    end: datetime | None
    reason: str = ""
    notes: tuple[str, ...] = ()
    slope_per_year: float | None = None  # in the fit's space (log units, log-odds, values)
    slope_interval: tuple[float, float] | None = None  # 10th-90th percentile
    r_squared: float | None = None
    residual_sigma: float | None = None  # robust, in the fit's space
    seed: int = 0
    samples: int = 0  # bootstrap resamples that gave a line
    intercept: float = 0.0  # at `start`, in the fit's space
    observed: tuple[tuple[datetime, float], ...] = ()  # every finite point, in time order
    boot: tuple[tuple[float, float], ...] = field(default=(), repr=False)  # (intercept, per day)
    method: Method = "theil_sen"
    since: datetime | None = None  # the window asked for (points before it are not used)
    until: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.reason

    @property
    def doubling_days(self) -> float | None:
        """Days for the value to double (log fits growing), else None."""
        s = self.slope_per_year
        return YEAR_DAYS * LN2 / s if self.kind == "log" and s is not None and s > 0 else None

    @property
    def doubling_interval(self) -> tuple[float | None, float | None] | None:
        """(short, long) doubling times from the 90th and 10th percentile slopes; None for an
        end where the trend does not grow."""
        if self.kind != "log" or self.slope_interval is None:
            return None
        low, high = self.slope_interval
        return (
            YEAR_DAYS * LN2 / high if high > 0 else None,
            YEAR_DAYS * LN2 / low if low > 0 else None,
        )

    @property
    def doubling_seconds(self) -> float | None:
        """For `warden_frontier_doubling_time_seconds`."""
        d = self.doubling_days
        return None if d is None else d * 86400

    def value_at(self, at: datetime) -> float | None:
        """The fitted value at `at`, in the metric's own scale."""
        if not self.ok or self.start is None or self.slope_per_year is None:
            return None
        assert self.kind is not None and self.scale is not None
        y = self.intercept + self.slope_per_year / YEAR_DAYS * _days(at, self.start)
        return inverse(y, self.kind, self.scale)

    def band(self, at: datetime, low: float = 0.1, high: float = 0.9) -> tuple[float, float] | None:
        """The bootstrap's `low` and `high` quantiles of the fitted value at `at`."""
        if not self.ok or not self.boot or self.start is None:
            return None
        assert self.kind is not None and self.scale is not None
        t = _days(at, self.start)
        ys = sorted(a + b * t for a, b in self.boot)
        return (
            inverse(quantile(ys, low), self.kind, self.scale),
            inverse(quantile(ys, high), self.kind, self.scale),
        )

    def project(
        self,
        level: float,
        now: datetime,
        within_days: float,
        *,
        newest: datetime | None = None,
        max_age_days: float | None = None,
    ) -> Projection:
        """When the series reaches `level` (on the side of `direction`), seen from `now`.
        `newest`: when the newest data are from (default: the last point); older than
        `max_age_days`, the projection is `stale`."""
        return _project(self, level, now, within_days, newest, max_age_days)

    def as_dict(self) -> dict[str, Any]:
        interval = self.doubling_interval
        return {
            "kind": self.kind,
            "scale": self.scale,
            "direction": self.direction,
            "method": self.method,
            "points": self.n,
            "window": {
                "since": _iso(self.since),
                "start": _iso(self.start),
                "end": _iso(self.end),
            },
            "slope_per_year": self.slope_per_year,
            "slope_per_year_p10_p90": list(self.slope_interval) if self.slope_interval else None,
            "doubling_days": self.doubling_days,
            "doubling_days_p10_p90": list(interval) if interval else None,
            "r_squared": self.r_squared,
            "residual_sigma": self.residual_sigma,
            "bootstrap": {"seed": self.seed, "samples": self.samples},
            "reason": self.reason or None,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Projection:
    """When a series is projected to reach `level`: the 10th/50th/90th percentile dates (None:
    not within HORIZON_YEARS, or never) and the probability it does within `within_days`.
    `probability` is None when there is no forecast (never read that as 0)."""

    level: float
    direction: Direction
    now: datetime
    within_days: float
    status: Status
    probability: float | None
    quantiles: dict[float, datetime | None]
    estimate: datetime | None  # where the fitted line itself reaches the level
    crossed_at: datetime | None  # status crossed: the first point that met the level
    reason: str
    fit: Fit
    age_days: float | None = None  # how old the newest data are, seen from `now`
    max_age_days: float | None = None

    @property
    def stale(self) -> bool:
        return self.status == "stale"

    @property
    def in_the_past(self) -> bool:
        """The trend line reached the level before `now` (the data may not have)."""
        return self.status != "crossed" and self.estimate is not None and self.estimate < self.now

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "direction": self.direction,
            "now": _iso(self.now),
            "status": self.status,
            "within_days": self.within_days,
            "probability": self.probability,
            "quantiles": {f"{q:g}": _iso(at) for q, at in self.quantiles.items()},
            "estimate": _iso(self.estimate),
            "crossed_at": _iso(self.crossed_at),
            "age_days": self.age_days,
            "max_age_days": self.max_age_days,
            "reason": self.reason or None,
        }


def fit(
    points: Iterable[tuple[datetime, float]],
    scale: str | None,
    direction: Direction = "higher",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    seed: int = 0,
    samples: int = SAMPLES,
    method: Method = "theil_sen",
    min_points: int = MIN_POINTS,
    min_span_days: float = 0.0,
) -> Fit:
    """The trend through `points` (any order) between `since` and `until`, by `scale`'s fit:
    Theil-Sen or least squares (`method`), from `min_points` points spanning `min_span_days`
    at least."""
    kind = kind_of(scale)
    inside = [(at, float(v)) for at, v in points if since is None or at >= since]
    observed = tuple(
        sorted(p for p in inside if math.isfinite(p[1]) and (until is None or p[0] <= until))
    )
    empty = Fit(
        kind,
        scale,
        direction,
        0,
        None,
        None,
        observed=observed,
        seed=seed,
        method=method,
        since=since,
        until=until,
    )
    if kind is None or scale is None:
        return _no(empty, f"no fit for the scale {scale!r} (the registry gives none it knows)")
    used = [(at, y) for at, v in observed if (y := transform(v, kind, scale)) is not None]
    notes = []
    if len(used) < len(observed):
        k = len(observed) - len(used)
        notes.append(f"{k} point{'' if k == 1 else 's'} {why_undefined(kind)} left out")
    start, end = (used[0][0], used[-1][0]) if used else (None, None)
    base = Fit(
        kind,
        scale,
        direction,
        len(used),
        start,
        end,
        notes=tuple(notes),
        observed=observed,
        seed=seed,
        method=method,
        since=since,
        until=until,
    )
    times = len({at for at, _ in used})
    needed = max(min_points, MIN_POINTS)
    if len(used) < needed or times < MIN_TIMES:
        return _no(
            base,
            f"too few points: {len(used)} at {times} distinct times (a fit needs {needed} "
            f"at {MIN_TIMES} distinct times at least)",
        )
    assert start is not None and end is not None
    span = _days(end, start)
    if span < min_span_days:
        return _no(
            base,
            f"the points span {span:.0f} days (a fit needs {min_span_days:.0f} days at least)",
        )
    ts = [_days(at, start) for at, _ in used]
    ys = [y for _, y in used]
    line = (
        theil_sen(ts, ys, random.Random(seed)) if method == "theil_sen" else least_squares(ts, ys)
    )
    assert line is not None  # at least MIN_TIMES distinct times
    a, b = line
    if max(ys) == min(ys):
        return _no(base, "the values do not change: no trend to project")
    fitted = [a + b * t for t in ts]
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    residuals = [y - f for y, f in zip(ys, fitted, strict=True)]
    r2 = 1 - sum(r * r for r in residuals) / total
    sigma = 1.4826 * statistics.median(abs(r - statistics.median(residuals)) for r in residuals)
    boot = (
        bootstrap(ts, ys, seed, samples)
        if method == "theil_sen"
        else bootstrap_ols(ts, ys, seed, samples)
    )
    if len(boot) < MIN_SAMPLES // 2:
        return _no(
            base,
            "the points are too few distinct times for a bootstrap",
        )
    slopes = sorted(s * YEAR_DAYS for _, s in boot)
    flat = sum(1 for s in slopes if _sign(direction) * s <= 0) / len(slopes)
    if flat >= 0.1:
        notes.append(f"in {flat:.0%} of bootstrap resamples the trend does not grow")
    return replace(
        base,
        notes=tuple(notes),
        slope_per_year=b * YEAR_DAYS,
        slope_interval=(quantile(slopes, 0.1), quantile(slopes, 0.9)),
        r_squared=r2,
        residual_sigma=sigma,
        samples=len(boot),
        intercept=a,
        boot=tuple(boot),
    )


def project(
    points: Iterable[tuple[datetime, float]],
    scale: str | None,
    level: float,
    direction: Direction,
    now: datetime,
    within_days: float,
    *,
    seed: int = 0,
    samples: int = SAMPLES,
    max_age_days: float | None = None,
) -> Projection:
    """When `points` are projected to reach `level`; only points up to `now` count."""
    return fit(points, scale, direction, until=now, seed=seed, samples=samples).project(
        level, now, within_days, max_age_days=max_age_days
    )


def _project(
    f: Fit,
    level: float,
    now: datetime,
    within_days: float,
    newest: datetime | None,
    max_age_days: float | None,
) -> Projection:
    sign = _sign(f.direction)
    last = newest or f.end or (f.observed[-1][0] if f.observed else None)
    age = None if last is None else max(_days(now, last), 0.0)
    stale = age is not None and max_age_days is not None and age > max_age_days

    def result(status: Status, p: float | None, reason: str, **kw: Any) -> Projection:
        quantiles = kw.get("quantiles", dict.fromkeys(QUANTILES))
        at, crossed = kw.get("estimate"), kw.get("crossed_at")
        return Projection(
            level,
            f.direction,
            now,
            within_days,
            status,
            p,
            quantiles,
            at,
            crossed,
            reason,
            f,
            age,
            max_age_days,
        )

    met = [at for at, v in f.observed if at <= now and sign * v >= sign * level]
    if met:
        return result(
            "crossed",
            1.0,
            f"reached on {met[0].date()}",
            quantiles=dict.fromkeys(QUANTILES, met[0]),
            crossed_at=met[0],
            estimate=met[0],
        )
    old = _age_note(age, max_age_days) if age is not None else None
    if not f.ok:
        return result("no_forecast", None, "; ".join([f.reason, *([old] if stale and old else [])]))
    assert f.kind is not None and f.scale is not None and f.start is not None
    target = transform(level, f.kind, f.scale)
    if target is None:
        return result(
            "no_forecast", None, f"a {f.kind} trend never reaches {level:g} on a {f.scale} scale"
        )
    now_days = _days(now, f.start)  # days from the first point used
    horizon = now_days + HORIZON_YEARS * YEAR_DAYS

    def crossing(a: float, b: float) -> float:
        if sign * b <= 0:
            return math.inf
        t = (target - a) / b
        return math.inf if t > horizon else t

    days = sorted(crossing(a, b) for a, b in f.boot)
    assert f.slope_per_year is not None
    central = crossing(f.intercept, f.slope_per_year / YEAR_DAYS)
    quantiles = {q: _date(f.start, quantile(days, q)) for q in QUANTILES}
    estimate = _date(f.start, central)
    p = sum(1 for d in days if d <= now_days + within_days) / len(days)
    notes = list(f.notes)
    if old is not None and (
        stale or (max_age_days is None and age is not None and age > STALE_DAYS)
    ):
        notes.insert(0, old)
    if estimate is not None and central < now_days:
        ago = now_days - central
        behind = "; no newer data say whether it did" if stale else "; the data have not"
        notes.append(
            f"the trend line reached {level:g} on {estimate.date()}, {ago:.0f} days ago{behind}"
        )
    if all(math.isinf(d) for d in days):
        why = "the trend does not grow" if sign * f.slope_per_year <= 0 else "too slow"
        notes.insert(0, f"not within {HORIZON_YEARS} years: {why}")
        status: Status = "stale" if stale else "not_projected"
        return result(status, None if stale else 0.0, "; ".join(notes), quantiles=quantiles)
    p10, p50, p90 = (quantile(days, q) for q in QUANTILES)
    if math.isinf(p90):
        notes.append(f"wide uncertainty: the 90th percentile is beyond {HORIZON_YEARS} years")
    elif p50 > now_days and (p90 - p10) > WIDE * (p50 - now_days):
        notes.append(f"wide uncertainty: the 10th-90th percentile interval is {p90 - p10:.0f} days")
    status = "stale" if stale else "not_projected" if math.isinf(p50) else "projected"
    return result(
        status, None if stale else p, "; ".join(notes), quantiles=quantiles, estimate=estimate
    )


def _age_note(age: float, max_age_days: float | None) -> str:
    if max_age_days is None:
        return f"the newest point is {age:.0f} days old: extrapolated past the data"
    return f"the newest point is {age:.0f} days old (max_age {max_age_days:.0f} d): stale"


def _no(f: Fit, reason: str) -> Fit:
    return replace(f, reason=reason)


def _sign(direction: Direction) -> float:
    return 1.0 if direction == "higher" else -1.0


def _days(at: datetime, origin: datetime) -> float:
    return (at - origin).total_seconds() / 86400


def _date(origin: datetime, days: float) -> datetime | None:
    return None if math.isinf(days) else origin + timedelta(days=days)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()

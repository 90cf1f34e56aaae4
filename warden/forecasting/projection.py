"""Projected crossings: the trend of each frontier a threshold watches, projected to its trigger
and warning values (warden/forecasting/frontier.py, warden/forecasting/fit.py).

Used by evaluation for thresholds with `projected: {within_days, probability}` (a `warning`
verdict, alert kind `projected_crossing`, when the trigger value is projected to be crossed in
time with enough probability) and by the metrics
`warden_threshold_projected_crossing_timestamp_seconds` and
`warden_frontier_doubling_time_seconds`. Fits are cached by their series, so an unchanged
frontier is not refitted; the bootstrap is seeded, so a projection is reproducible.

Stale evidence never warns: when the newest data of the frontier are older than the plan's
`max_age` (warden/forecasting/window.py), `warns` is false and `stale` true, and evaluation turns
the threshold's `ok` into `unknown` (alert state `nodata`), with `stale_reason` as its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from warden.catalog.conditions import Condition
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.model import COMPUTE
from warden.forecasting.fit import Fit
from warden.forecasting.frontier import ThresholdForecast, forecast_threshold
from warden.store.observations import history

DEFAULT_WITHIN_DAYS = 365.0  # for thresholds without `projected:` (the metrics)
MAX_CACHED_FITS = 1024


def projectable(t: Threshold) -> bool:
    """A single benchmark condition judged on a frontier: one trend to project."""
    return isinstance(t.when, Condition) and t.is_frontier


class Projector:
    def __init__(self) -> None:
        self._fits: dict[tuple[Any, ...], Fit] = {}

    def project(
        self, conn: Connection, catalog: Catalog, thresholds: Iterable[Threshold], now: datetime
    ) -> dict[str, ThresholdForecast]:
        chosen = [t for t in thresholds if projectable(t)]
        if not chosen:
            return {}
        # Epoch's model tables (training compute) date models the registry does not.
        records = history(conn, {COMPUTE, *(p for t in chosen for p in t.pairs)})
        if len(self._fits) > MAX_CACHED_FITS:
            self._fits.clear()
        out = {}
        for t in chosen:
            within = t.projected.within_days if t.projected else DEFAULT_WITHIN_DAYS
            forecasts = forecast_threshold(
                records, t, catalog.registry, now, within, fits=self._fits
            )
            if forecasts:
                out[t.id] = forecasts[0]
        return out


def reads(catalog: Catalog, pairs: Iterable[tuple[str, str]]) -> bool:
    """Whether a forecast frontier reads one of `pairs` (an ingest that touched them may have
    moved it: the daemon refreshes its forecasts then, not only every forecast_every)."""
    touched = set(pairs)
    return any(projectable(t) and touched.intersection(t.pairs) for t in catalog.thresholds)


def warns(t: Threshold, forecast: ThresholdForecast | None) -> bool:
    """Whether `t`'s `projected:` rule is met: the trigger value projected to be crossed within
    its days with at least its probability, on data no older than the plan's max_age."""
    if t.projected is None or forecast is None:
        return False
    p = forecast.trigger
    return (
        p.status == "projected"
        and p.probability is not None
        and p.probability >= t.projected.probability
    )


def stale(t: Threshold, forecast: ThresholdForecast | None) -> bool:
    """Whether `t`'s `projected:` rule cannot be judged: its frontier's newest data are older
    than the plan's max_age (the crossing, if any, is in the data: not stale)."""
    return t.projected is not None and forecast is not None and forecast.stale


def stale_reason(forecast: ThresholdForecast) -> str:
    p = forecast.trigger
    age = "?" if p.age_days is None else f"{p.age_days:.0f}"
    limit = "?" if p.max_age_days is None else f"{p.max_age_days:.0f}"
    line = f"; the trend line reaches {p.level:g} on {_day(p.estimate)}" if p.estimate else ""
    return (
        f"no projection: the newest data of the frontier are {age} days old (max_age {limit} d)"
        f"{line}"
    )


def explain(t: Threshold, forecast: ThresholdForecast) -> str:
    p = forecast.trigger
    q = {k: _day(v) for k, v in p.quantiles.items()}
    within = t.projected.within_days if t.projected else DEFAULT_WITHIN_DAYS
    window = f", fitted {forecast.window}" if forecast.window else ""
    past = f" (the trend line passed it on {_day(p.estimate)})" if p.in_the_past else ""
    return (
        f"projected crossing: the frontier ({forecast.frontier.measure}) is projected to reach "
        f"{p.level:g} by {q.get(0.5, '?')} (10th-90th percentile {q.get(0.1, '?')} to "
        f"{q.get(0.9, '?')}){past}; probability {p.probability or 0:.2f} within {within:g} days"
        f"{window}"
    )


def _day(at: datetime | None) -> str:
    return at.date().isoformat() if at is not None else "beyond the horizon"

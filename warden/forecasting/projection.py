"""Projected crossings: the trend of each frontier a threshold watches, projected to its trigger
and warning values (warden/frontier.py, warden/forecast.py).

Used by evaluation for thresholds with `projected: {within_days, probability}` (a `warning`
verdict, alert kind `projected_crossing`, when the trigger value is projected to be crossed in
time with enough probability) and by the metrics
`warden_threshold_projected_crossing_timestamp_seconds` and
`warden_frontier_doubling_time_seconds`. Fits are cached by their series, so an unchanged
frontier is not refitted; the bootstrap is seeded, so a projection is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from warden.catalog.conditions import Condition
from warden.catalog.thresholds import Catalog, Threshold
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
        records = history(conn, {p for t in chosen for p in t.pairs})
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


def warns(t: Threshold, forecast: ThresholdForecast | None) -> bool:
    """Whether `t`'s `projected:` rule is met: the trigger value projected to be crossed within
    its days with at least its probability."""
    if t.projected is None or forecast is None:
        return False
    p = forecast.trigger
    return (
        p.status == "projected"
        and p.probability is not None
        and p.probability >= t.projected.probability
    )


def explain(t: Threshold, forecast: ThresholdForecast) -> str:
    p = forecast.trigger
    q = {k: (v.date().isoformat() if v else "beyond the horizon") for k, v in p.quantiles.items()}
    within = t.projected.within_days if t.projected else DEFAULT_WITHIN_DAYS
    return (
        f"projected crossing: the frontier ({forecast.frontier.measure}) is projected to reach "
        f"{p.level:g} by {q.get(0.5, '?')} (10th-90th percentile {q.get(0.1, '?')} to "
        f"{q.get(0.9, '?')}); probability {p.probability:.2f} within {within:g} days"
    )

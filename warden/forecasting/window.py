"""Fit windows: which stretch of a frontier's history a trend is fitted over, and when its data
are too old to project from. Pure.

A threshold's `forecast:` (warden/catalog/thresholds.py `Forecast`) names the window its
projections use (`since`), the window shown beside it (`recent`), the fit's `method`, its
`min_points` and `min_span`, and `max_age`; what it leaves unset comes from the metric's scale:

| scale                          | since | recent | max_age |
| ---                            | ---   | ---    | ---     |
| flop (training compute)        | 2010 (the deep-learning era) | 2y | 365 d |
| minutes, hours, seconds        | all (the metric's own history) | 2y | 270 d |
| fraction, percent, points, elo | all   | 2y     | 270 d   |

A window start is `all`, a date, `Ny` (the last N calendar years of the data: from 1 January of
the newest point's year minus N-1, so `2y` on data ending in November 2025 is "since 2024") or
`Nd` (the last N days of the data). Relative windows count back from the newest data, not from
today, so stale data do not empty them and a replay sees the window it would have seen.

The command line overrides the projection window (`--since`, `--window`); the catalog's
projection window is then shown beside it (or, when that fits the same points, the recent one).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from warden.catalog.thresholds import Threshold, window_spec
from warden.forecasting.fit import MIN_POINTS, Fit, Method

DAY = 86400.0
MIN_SPAN_DAYS = 180.0  # a fit's points must span half a year at least


@dataclass(frozen=True)
class Default:
    since: str
    recent: str
    max_age_days: float


COMPUTE = Default("2010-01-01", "2y", 365.0)
HORIZON = Default("all", "2y", 270.0)
SCORE = Default("all", "2y", 270.0)
DEFAULTS: dict[str, Default] = {
    "flop": COMPUTE,
    "minutes": HORIZON,
    "hours": HORIZON,
    "seconds": HORIZON,
    "fraction": SCORE,
    "percent": SCORE,
    "points": SCORE,
    "elo": SCORE,
}


def default_for(scale: str | None) -> Default:
    return DEFAULTS.get(scale or "", SCORE)


@dataclass(frozen=True)
class Window:
    """Where a fit starts: `all`, a date, `Ny` or `Nd` (canonical text, as the catalog's)."""

    spec: str

    @classmethod
    def parse(cls, text: Any) -> Window:
        """A window from the catalog or the command line; ValueError naming the forms."""
        return cls(window_spec(text))

    @property
    def whole(self) -> bool:
        return self.spec == "all"

    def start(self, newest: datetime | None) -> datetime | None:
        """The first instant inside the window, for data whose newest point is `newest`."""
        if self.whole:
            return None
        if self.spec[-1] not in "yd":
            day = date.fromisoformat(self.spec)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        if newest is None:
            return None
        n = int(self.spec[:-1])
        if self.spec.endswith("d"):
            return newest - timedelta(days=n)
        return datetime(newest.year - n + 1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    """How one threshold's frontier is fitted: the projection window, the one beside it, and the
    rules every fit keeps; `origin` says where the projection window came from."""

    main: Window
    other: Window | None
    method: Method
    min_points: int
    min_span_days: float
    max_age_days: float
    origin: str  # "catalog's", "default for <scale>", "command line's"
    fallback: Window | None = None  # the catalog's projection window, when overridden

    def beside(self, newest: datetime | None, first: datetime | None) -> Window | None:
        """The window shown beside the projection's: the catalog's projection window when the
        command line overrode it, else `other`; never one that would fit the same points (it
        starts where the projection's does, counting from the `first` point)."""

        def begins(w: Window) -> datetime | None:
            start = w.start(newest)
            return first if start is None or (first is not None and start <= first) else start

        used = begins(self.main)
        for w in (self.fallback, self.other):
            if w is not None and begins(w) != used:
                return w
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.main.spec,
            "recent": self.other.spec if self.other else None,
            "method": self.method,
            "min_points": self.min_points,
            "min_span_days": self.min_span_days,
            "max_age_days": self.max_age_days,
            "origin": self.origin,
        }


def plan(
    threshold: Threshold, scale: str | None, override: Window | None = None, **changes: Any
) -> Plan:
    """The plan for `threshold`'s frontier on `scale`: its `forecast:`, else the scale's
    defaults; `override` replaces the projection window. `changes` replace other fields
    (`method=`, `max_age_days=`)."""
    f = threshold.forecast
    d = default_for(scale)
    main = Window(f.since) if f and f.since else Window(d.since)
    other = Window(f.recent) if f and f.recent else Window(d.recent)
    origin = "catalog's" if f and f.since else f"default for {scale or 'its scale'}"
    fallback = None
    if override is not None:
        fallback = main
        main, origin = override, "command line's"
    out = Plan(
        main,
        None if other == main else other,
        f.method if f and f.method else "theil_sen",
        f.min_points if f and f.min_points else MIN_POINTS,
        f.min_span / DAY if f and f.min_span else MIN_SPAN_DAYS,
        f.max_age / DAY if f and f.max_age else d.max_age_days,
        origin,
        fallback,
    )
    return replace(out, **changes) if changes else out


def label(window: Window, fit: Fit) -> str:
    """How output names a fit's window: `over 2019-2025` for the whole history (the years of
    the points used), `since 2024` for a window from 1 January, else `since 2024-06-01`."""
    start = fit.since
    if window.whole or start is None:
        if fit.start is None or fit.end is None:
            return "over the whole history"
        first, last = fit.start.year, fit.end.year
        return f"over {first}" if first == last else f"over {first}-{last}"
    if (start.month, start.day) == (1, 1):
        return f"since {start.year}"
    return f"since {start.date().isoformat()}"


def change(main: Fit, main_label: str, other: Fit, other_label: str) -> str | None:
    """`accelerating: doubling 181 d over 2019-2025, 99 d since 2024` (or decelerating) when
    the two fits' 10th-90th percentile slope intervals do not overlap; None when they do or
    either has no fit. The earlier window is named first."""
    if not (main.ok and other.ok and main.slope_interval and other.slope_interval):
        return None
    early, late = (main, other) if _begins(main) <= _begins(other) else (other, main)
    names = {id(main): main_label, id(other): other_label}
    (el, eh), (ll, lh) = early.slope_interval or (0, 0), late.slope_interval or (0, 0)
    sign = 1.0 if main.direction == "higher" else -1.0
    if ll > eh:
        faster = sign > 0
    elif lh < el:
        faster = sign < 0
    else:
        return None
    word = "accelerating" if faster else "decelerating"
    return f"{word}: {rate(early)} {names[id(early)]}, {rate(late, short=True)} {names[id(late)]}"


def rate(f: Fit, short: bool = False) -> str:
    """A fit's growth in a few words: `doubling 181 d` (log fits), else the slope a year."""
    if f.kind == "log" and f.doubling_days is not None:
        return f"{f.doubling_days:.0f} d" if short else f"doubling {f.doubling_days:.0f} d"
    s = f.slope_per_year or 0.0
    if f.kind == "logit":
        return f"{s:+.2f}/year" if short else f"logit slope {s:+.2f}/year"
    return f"{s:+.4g}/year" if short else f"slope {s:+.4g}/year"


def _begins(f: Fit) -> datetime:
    return f.since or f.start or datetime.min.replace(tzinfo=UTC)

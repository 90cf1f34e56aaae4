"""A forecast's plot as inline SVG, drawn by hand (no plotting library in the daemon): what
`warden forecast --plot` draws with matplotlib, in a `viewBox` that scales to the page's width.
The frontier as a step line, its points filled where the fit used them and hollow where its
window left them out; the fit over the projection window with its 10-90% band; the trigger level
(red) and the early-warning level (orange, dashed); today (dotted). A log fit gets a log axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from warden.core.display import display

if TYPE_CHECKING:
    from warden.forecasting.fit import Fit
    from warden.forecasting.frontier import ThresholdForecast

W, H = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40
STEPS = 60  # segments of the fitted line and band


def svg(f: ThresholdForecast, now: datetime, within_days: float) -> Markup:
    """The SVG element of `f` (safe to put in a page: every text is escaped)."""
    fr, fit = f.frontier, f.fit
    end = now + timedelta(days=within_days)
    xs = [p.at for p in fr.points]
    start = min([*xs, *([fit.start] if fit.start else [])], default=now - timedelta(days=365))
    log = fit.kind == "log"
    levels = [f.condition.value, *([f.warning.level] if f.warning else [])]
    curve = _curve(fit, end)
    values = [p.value for p in fr.points] + levels + [y for _, y, _, _ in curve]
    ys = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not ys:
        ys = [0.0, 1.0]
    low, high = min(ys), max(ys)
    if log:
        low, high = math.log10(low) - 0.2, math.log10(high) + 0.2
    else:
        pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    t0, t1 = start.timestamp(), max(end, now).timestamp()
    span = (t1 - t0) or 1.0

    def x(at: datetime) -> float:
        return LEFT + (at.timestamp() - t0) / span * (W - LEFT - RIGHT)

    def y(v: float) -> float:
        v = math.log10(max(v, 1e-300)) if log else v
        v = min(max(v, low), high)
        return TOP + (high - v) / ((high - low) or 1.0) * (H - TOP - BOTTOM)

    out = [
        f'<svg class="plot" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="{escape(f.threshold)}: frontier and projection" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" '
        'fill="none" stroke="#999"/>',
    ]
    out += _ticks(x, y, start, max(end, now), low, high, log, fr.scale)
    if curve:
        upper = " ".join(f"{x(t):.1f},{y(hi):.1f}" for t, _, _, hi in curve)
        lower = " ".join(f"{x(t):.1f},{y(lo):.1f}" for t, _, lo, _ in reversed(curve))
        out.append(f'<polygon points="{upper} {lower}" fill="#1f77b4" fill-opacity="0.15"/>')
        line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v, _, _ in curve)
        out.append(f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
    if fr.points:
        steps, previous = [], None
        for p in fr.points:
            if previous is not None:
                steps.append(f"{x(p.at):.1f},{y(previous):.1f}")
            steps.append(f"{x(p.at):.1f},{y(p.value):.1f}")
            previous = p.value
        steps.append(f"{x(now):.1f},{y(fr.points[-1].value):.1f}")
        out.append(
            f'<polyline points="{" ".join(steps)}" fill="none" stroke="#333" stroke-opacity="0.6"/>'
        )
        for p in fr.points:
            used = fit.since is None or p.at >= fit.since
            fill = "#222" if used else "none"
            out.append(
                f'<circle cx="{x(p.at):.1f}" cy="{y(p.value):.1f}" r="3.5" fill="{fill}" '
                f'stroke="#222"><title>{escape(p.subject)}: {escape(display(p.value, fr.scale))}'
                "</title></circle>"
            )
    out.append(_hline(y(f.condition.value), "#d62728", "", "trigger"))
    if f.warning is not None:
        out.append(_hline(y(f.warning.level), "#ff7f0e", ' stroke-dasharray="6 4"', "warning"))
    out.append(
        f'<line x1="{x(now):.1f}" x2="{x(now):.1f}" y1="{TOP}" y2="{H - BOTTOM}" stroke="#777" '
        'stroke-dasharray="2 3"/>'
    )
    out.append(
        f'<text x="{x(now) - 4:.1f}" y="{TOP + 12}" font-size="11" text-anchor="end" '
        'fill="#555">today</text>'
    )
    out.append("</svg>")
    return Markup("".join(out))


def _curve(fit: Fit, end: datetime) -> list[tuple[datetime, float, float, float]]:
    """(time, fitted value, 10th, 90th percentile) from the fit's start to `end`."""
    if not fit.ok or fit.start is None:
        return []
    out = []
    for i in range(STEPS + 1):
        at = fit.start + (end - fit.start) * i / STEPS
        v = fit.value_at(at)
        if v is None or not math.isfinite(v):
            continue
        band = fit.band(at) or (v, v)
        out.append((at, v, band[0], band[1]))
    return out


def _hline(yy: float, colour: str, dash: str, name: str) -> str:
    return (
        f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{colour}" '
        f'stroke-width="1.5"{dash}/><text x="{W - RIGHT - 4}" y="{yy - 4:.1f}" font-size="11" '
        f'text-anchor="end" fill="{colour}">{name}</text>'
    )


def _ticks(
    x: Callable[[datetime], float],
    y: Callable[[float], float],
    start: datetime,
    end: datetime,
    low: float,
    high: float,
    log: bool,
    scale: str | None,
) -> list[str]:
    out = []
    for year in range(start.year + 1, end.year + 1):
        at = start.replace(year=year, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        xx = x(at)
        out.append(
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{H - BOTTOM}" y2="{H - BOTTOM + 5}" '
            'stroke="#999"/>'
            f'<text x="{xx:.1f}" y="{H - BOTTOM + 18}" font-size="11" text-anchor="middle" '
            f'fill="#444">{year}</text>'
        )
    for v in _nice(low, high, log):
        yy = y(v)
        out.append(
            f'<line x1="{LEFT - 5}" x2="{LEFT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#999"/>'
            f'<text x="{LEFT - 8}" y="{yy + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#444">{escape(display(v, scale))}</text>'
        )
    return out


def _nice(low: float, high: float, log: bool) -> list[float]:
    """Round tick values inside [low, high] (log10 units when `log`): powers of ten on a log
    axis, else steps of 1, 2 or 5 times a power of ten, about five of them."""
    if log:
        return [10.0**k for k in range(math.ceil(low), math.floor(high) + 1)]
    raw = (high - low) / 5 or 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step)
    return [k * step for k in range(first, math.floor(high / step) + 1)]

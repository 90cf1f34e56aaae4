"""`warden forecast --plot`: one panel per forecast, drawn with matplotlib (the optional `plot`
extra, imported by the caller): the frontier's points, filled where the fit used them and hollow
where its window left them out; the fit over the projection window and the fit beside it, each
with its 10-90% band; the window's start; the trigger and warning levels; today; and, on stale
data, the age of the newest point in the title."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from warden.forecasting.fit import Fit
    from warden.forecasting.frontier import ThresholdForecast


def draw(
    plt: Any, made: list[ThresholdForecast], now: datetime, within_days: float, path: Path
) -> None:
    from warden.core.errors import UsageError

    if not made:
        raise UsageError("--plot: no threshold has a frontier to draw")
    cols = min(2, len(made))
    rows = math.ceil(len(made) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7 * cols, 4.5 * rows), squeeze=False)
    end = now + timedelta(days=within_days)
    for ax, f in zip([a for row in axes for a in row], made, strict=False):
        _panel(ax, f, now, end)
    for ax in [a for row in axes for a in row][len(made) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _panel(ax: Any, f: ThresholdForecast, now: datetime, end: datetime) -> None:
    fr, fit = f.frontier, f.fit
    xs, ys = [p.at for p in fr.points], [p.value for p in fr.points]
    ax.step([*xs, now], [*ys, ys[-1]], where="post", color="black", lw=0.8, alpha=0.6)
    since = fit.since
    used = [(x, y) for x, y in zip(xs, ys, strict=True) if since is None or x >= since]
    out = [(x, y) for x, y in zip(xs, ys, strict=True) if since is not None and x < since]
    if used:
        ax.plot(*zip(*used, strict=True), "o", color="black", ms=3.5, label="points fitted")
    if out:
        ax.plot(*zip(*out, strict=True), "o", mfc="none", color="grey", ms=3.5,
                label="left out by the window")  # fmt: skip
    _fit(ax, fit, end, "tab:blue", f"fit {f.window}")
    if f.other is not None:
        _fit(ax, f.other, end, "tab:purple", f"fit {f.other_window}", dashed=True)
    if since is not None:
        ax.axvline(since, color="tab:blue", lw=0.8, ls="-.", label=f"window {f.window}")
    ax.axhline(f.condition.value, color="tab:red", lw=1, label="trigger")
    if f.warning is not None:
        ax.axhline(f.warning.level, color="tab:orange", lw=1, ls="--", label="warning")
    ax.axvline(now, color="grey", lw=1, ls=":", label="today")
    levels = [f.condition.value, *([f.warning.level] if f.warning else [])]
    _limits(ax, [*ys, *levels], fit.kind == "log")
    basis = "release date" if fr.basis == "release_date" else "observation time"
    title = f.threshold
    if f.stale and f.trigger.age_days is not None:
        title += f"\nstale: newest data {f.trigger.age_days:.0f} days old"
    elif f.change:
        title += f"\n{f.change}"
    ax.set_title(title, fontsize=8)
    ax.set_xlabel(basis)
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_ylabel(f"{f.condition.benchmark}/{f.condition.metric} ({fr.scale})")
    ax.legend(fontsize=6, loc="best")


def _fit(ax: Any, fit: Fit, end: datetime, color: str, name: str, dashed: bool = False) -> None:
    if not fit.ok or fit.start is None:
        return
    grid = [fit.start + (end - fit.start) * i / 100 for i in range(101)]
    line = [fit.value_at(t) for t in grid]
    bands = [fit.band(t) for t in grid]
    ax.plot(grid, line, color=color, lw=1, ls="--" if dashed else "-", label=name)
    ax.fill_between(
        grid,
        [b[0] if b else math.nan for b in bands],
        [b[1] if b else math.nan for b in bands],
        color=color,
        alpha=0.15,
    )


def _limits(ax: Any, values: list[float], log: bool) -> None:
    """The data and the levels in view; a band wider than that is cut at the edge."""
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(low / 10, high * 100)
    else:
        pad = (high - low) * 0.2 or abs(high) * 0.1 or 1.0
        ax.set_ylim(low - pad, high + pad)

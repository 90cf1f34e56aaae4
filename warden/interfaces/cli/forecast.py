"""`warden forecast` and `warden backtest`: trend projections of the thresholds' frontiers, and a
replay of the stored observations through a catalog (registered on the main group by
warden/cli.py). `--plot` draws with matplotlib, the optional extra `plot`."""

from __future__ import annotations

import importlib
import json
import math
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from warden.interfaces.cli.common import Context, config_option, parse_time, pass_ctx, user_errors

if TYPE_CHECKING:
    from warden.alerting.backtest import Backtest
    from warden.catalog.thresholds import Threshold
    from warden.forecasting.fit import Fit, Projection
    from warden.forecasting.frontier import ThresholdForecast

PLOT_HINT = "pip install 'warden[plot]'"
PLOT_SUFFIXES = (".svg", ".png")


@click.command()
@click.option("--threshold", "threshold_id", metavar="ID", help="Only this threshold.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--plot",
    metavar="FILE",
    help="Also draw the frontier, the fit with its 10-90% band, the trigger and warning lines "
    "and today into FILE.svg or FILE.png (needs matplotlib: the `plot` extra).",
)
@click.option(
    "--within-days",
    type=click.FloatRange(min=0),
    default=365.0,
    show_default=True,
    help="The window of the crossing probability.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@config_option
@pass_ctx
@user_errors
def forecast(
    ctx: Context,
    threshold_id: str | None,
    as_json: bool,
    plot: str | None,
    within_days: float,
    seed: int,
) -> None:
    """Per threshold: the frontier value now, its growth rate, and the projected dates of the
    trigger and warning values (10th, 50th and 90th percentile of a seeded bootstrap), with the
    probability of crossing within --within-days; and the data each rests on.

    Fits: log-linear for time horizons and compute, logit-linear for fractions, Theil-Sen
    (robust to outliers). Sources that give only release dates (METR) are placed by release
    date, as the output says."""
    from warden.core.errors import UsageError
    from warden.forecasting.frontier import forecast_threshold
    from warden.store.observations import history

    if plot is not None and Path(plot).suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {plot!r}: the file must end in .svg or .png")
    pyplot = _pyplot() if plot is not None else None
    w = ctx.warden()
    try:
        chosen = _thresholds(w.catalog.thresholds, threshold_id)
        now = w.clock()
        with w.store.read() as conn:
            records = history(conn, {p for t in chosen for p in t.pairs})
    finally:
        w.close()
    fits: dict[tuple[Any, ...], Fit] = {}
    made = [
        f
        for t in chosen
        for f in forecast_threshold(
            records, t, w.catalog.registry, now, within_days, seed=seed, fits=fits
        )
    ]
    skipped = [t.id for t in chosen if not t.conditions]
    if threshold_id is not None and skipped:
        raise UsageError(f"threshold {threshold_id!r} has no benchmark condition to forecast")
    if as_json:
        doc = {"now": now.isoformat(), "forecasts": [f.as_dict() for f in made]}
        click.echo(json.dumps({**doc, "not_forecast": skipped}, indent=2))
    else:
        for f in made:
            if f.frontier.points:
                click.echo("\n".join(_text(f, within_days)) + "\n")
        empty = sorted({f.threshold for f in made if not f.frontier.points})
        if empty:
            click.echo(f"no evidence in scope yet ({len(empty)}): {', '.join(empty)}")
        if skipped:
            click.echo(f"{len(skipped)} thresholds have no benchmark condition to forecast")
    if pyplot is not None and plot is not None:
        _draw(pyplot, [f for f in made if f.frontier.points], now, within_days, Path(plot))
        click.echo(f"plot: {plot}", err=True)


def _thresholds(thresholds: tuple[Threshold, ...], wanted: str | None) -> list[Threshold]:
    import difflib

    from warden.core.errors import UsageError

    if wanted is None:
        return list(thresholds)
    found = [t for t in thresholds if t.id == wanted]
    if not found:
        close = difflib.get_close_matches(wanted, [t.id for t in thresholds], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"no threshold {wanted!r} in the catalog{hint}")
    return found


def _pyplot() -> Any:
    """matplotlib's pyplot on a file backend, or exit 2 naming the extra to install."""
    try:  # imported by name: matplotlib is an optional extra, without type stubs
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        click.echo(f"warden: error: --plot needs matplotlib: {PLOT_HINT}", err=True)
        sys.exit(2)
    return plt


def _day(at: datetime | None) -> str:
    return "-" if at is None else at.date().isoformat()


def _growth(fit: Fit) -> str:
    if not fit.ok or fit.slope_per_year is None or fit.slope_interval is None:
        return f"no fit: {fit.reason}"
    low, high = fit.slope_interval
    if fit.kind == "log":
        d, span = fit.doubling_days, fit.doubling_interval
        assert span is not None
        shown = "-".join("no growth" if x is None else f"{x:.0f}" for x in span)
        head = f"doubling every {d:.0f} days" if d else "not growing"
        rate = f"{head} (p10-p90 {shown} days)"
    elif fit.kind == "logit":
        rate = f"logit slope {fit.slope_per_year:+.2f}/year (p10-p90 {low:+.2f} to {high:+.2f})"
    else:
        rate = f"{fit.slope_per_year:+.4g}/year (p10-p90 {low:+.4g} to {high:+.4g})"
    r2 = "n/a" if fit.r_squared is None else f"{fit.r_squared:.2f}"
    return (
        f"{rate}; {fit.kind}-linear fit {_day(fit.start)}..{_day(fit.end)}, {fit.n} points, R² {r2}"
    )


def _crossing(p: Projection, within_days: float) -> str:
    if p.status == "crossed":
        return f"crossed on {_day(p.crossed_at)}"
    if p.status == "no_forecast":
        return f"no forecast: {p.reason}"
    q = p.quantiles
    dates = f"median {_day(q[0.5])}, p10 {_day(q[0.1])}, p90 {_day(q[0.9])}"
    prob = "n/a" if p.probability is None else f"{p.probability:.2f}"
    head = "projected" if p.status == "projected" else "not projected"
    return f"{head}: {dates}; P(within {within_days:g} d) {prob}"


def _text(f: ThresholdForecast, within_days: float) -> list[str]:
    fr, c = f.frontier, f.condition
    basis = "by release date" if fr.basis == "release_date" else "by observation time"
    measure = "" if fr.measure == "value" else f", {fr.measure}"
    best = fr.best
    assert best is not None
    lines = [
        f"{f.threshold}  ({fr.scope.name}; {c.benchmark}/{c.metric} {c.op} {c.value:g}, "
        f"{basis}{measure})",
        f"  frontier now  {best.value:.4g} {fr.scale or ''}  {best.subject}, {_day(best.at)}"
        f"  ({len(fr.points)} records from {fr.considered} observations)",
        f"  growth        {_growth(f.fit)}",
    ]
    for name, p in (("trigger", f.trigger), ("warning", f.warning)):
        if p is None:
            continue
        lines.append(f"  {f'{name} {p.level:g}':<13} {_crossing(p, within_days)}")
        if p.reason and p.status in ("projected", "not_projected"):
            lines.append(f"  {'':<13} {p.reason}")
    if fr.left_out:
        lines.append("  left out      " + "; ".join(f"{k} {why}" for why, k in fr.left_out))
    rests = ", ".join(f"{p.subject} {p.value:.3g} ({_day(p.at)})" for p in fr.points[-5:])
    more = f"{len(fr.points) - 5} earlier, " if len(fr.points) > 5 else ""
    lines.append(f"  rests on      {more}{rests}")
    return lines


def _draw(
    plt: Any, made: list[ThresholdForecast], now: datetime, within_days: float, path: Path
) -> None:
    from warden.core.errors import UsageError

    if not made:
        raise UsageError("--plot: no threshold has a frontier to draw")
    cols = min(2, len(made))
    rows = math.ceil(len(made) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7 * cols, 4 * rows), squeeze=False)
    end = now + timedelta(days=within_days)
    for ax, f in zip([a for row in axes for a in row], made, strict=False):
        fr, fit = f.frontier, f.fit
        xs, ys = [p.at for p in fr.points], [p.value for p in fr.points]
        ax.step([*xs, now], [*ys, ys[-1]], where="post", color="black", lw=1)
        ax.plot(xs, ys, "o", color="black", ms=3, label=f"frontier ({fr.measure})")
        if fit.ok and fit.start is not None:
            grid = [fit.start + (end - fit.start) * i / 100 for i in range(101)]
            line = [fit.value_at(t) for t in grid]
            bands = [fit.band(t) for t in grid]
            ax.plot(grid, line, color="tab:blue", lw=1, label=f"{fit.kind}-linear fit")
            ax.fill_between(
                grid,
                [b[0] if b else math.nan for b in bands],
                [b[1] if b else math.nan for b in bands],
                color="tab:blue",
                alpha=0.2,
                label="10-90% band",
            )
        ax.axhline(f.condition.value, color="tab:red", lw=1, label="trigger")
        if f.warning is not None:
            ax.axhline(f.warning.level, color="tab:orange", lw=1, ls="--", label="warning")
        ax.axvline(now, color="grey", lw=1, ls=":", label="today")
        if fit.kind == "log":
            ax.set_yscale("log")
        basis = "release date" if fr.basis == "release_date" else "observation time"
        ax.set_title(f.threshold, fontsize=9)
        ax.set_xlabel(basis)
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_ylabel(f"{f.condition.benchmark}/{f.condition.metric} ({fr.scale})")
        ax.legend(fontsize=7, loc="best")
    for ax in [a for row in axes for a in row][len(made) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@click.command()
@click.option("--from", "since", metavar="DATE", help="Start the replay on this date (UTC).")
@click.option("--to", "until", metavar="DATE", help="End the replay on this date (UTC).")
@click.option(
    "--catalog",
    "catalogs",
    multiple=True,
    metavar="PATH",
    help="A catalog file or folder to replay (repeatable; `bundled` is the bundled catalog). "
    "Default: the config's catalog.",
)
@click.option(
    "--within-days",
    type=click.FloatRange(min=0),
    default=365.0,
    show_default=True,
    help="Projection warning: crossing projected within this many days ...",
)
@click.option(
    "--probability",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="... with at least this probability.",
)
@click.option(
    "--horizon-days",
    type=click.FloatRange(min=0),
    default=365.0,
    show_default=True,
    help="A margin warning no firing follows within this many days is false.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@pass_ctx
@user_errors
def backtest(
    ctx: Context,
    since: str | None,
    until: str | None,
    catalogs: tuple[str, ...],
    within_days: float,
    probability: float,
    horizon_days: float,
    as_json: bool,
) -> None:
    """Replay the stored observations in time order through the catalog, as if warden had been
    running, and report per threshold when it would have warned (by margin and by projection),
    when it would have fired, the lead time between them, and the false warnings (warned, never
    fired within the horizon). Results known only by release date are replayed on that date."""
    from warden.alerting import backtest as replaying
    from warden.app.settings import BUNDLED
    from warden.catalog.thresholds import load_catalog
    from warden.core.errors import UsageError

    start, end = parse_time(since, "--from"), parse_time(until, "--to", end_of_day=True)
    if start and end and start > end:
        raise UsageError(f"--from {since} is after --to {until}")
    w = ctx.warden()
    try:
        catalog = w.catalog
        if catalogs:
            from thresholds import bundled_catalog

            paths = [bundled_catalog() if c == BUNDLED else Path(c) for c in catalogs]
            catalog = load_catalog(paths, w.settings.registry_paths())
        options = replaying.Options(start, end, within_days, probability, horizon_days)
        result = replaying.run(w.store, catalog, options)
    finally:
        w.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    _backtest_table(result)


def _backtest_table(result: Backtest) -> None:
    from warden.interfaces.cli import views

    def lead(days: float | None) -> str:
        return "" if days is None else f"{days:.0f} d"

    rows = []
    for t in result.thresholds:
        margin, projected = t.lead("margin"), t.lead("projection")
        first_margin, first_projection = t.first("margin"), t.first("projection")
        rows.append(
            [
                t.threshold,
                _day(first_margin.at) if first_margin else "",
                _day(first_projection.at) if first_projection else "",
                _day(t.fired_at) if t.fired_at else "",
                lead(margin.lead_days if margin else None),
                lead(projected.lead_days if projected else None),
                len(t.false_warnings),
            ]
        )
    heads = [
        "threshold",
        "warned",
        "projected",
        "fired",
        "lead (margin)",
        "lead (projection)",
        "false warnings",
    ]
    click.echo(views.table(heads, rows))
    for t in result.thresholds:
        for fw in t.false_warnings:
            click.echo(f"false warning: {t.threshold} {fw.kind} on {_day(fw.at)}: {fw.detail}")
        for note in t.notes:
            click.echo(f"note: {t.threshold}: {note}")
    o = result.options
    left = "; ".join(f"{k} {why}" for why, k in result.left_out)
    click.echo(
        f"\nreplayed {result.observations} observations in {result.steps} daily steps, "
        f"{_day(result.start)} to {_day(result.end)}; projection warning: P(cross within "
        f"{o.within_days:g} d) >= {o.probability:g}; margin horizon {o.horizon_days:g} d"
        + (f"; left out: {left}" if left else "")
        + (f"; {len(result.skipped)} thresholds not replayed" if result.skipped else "")
    )


def register(main: click.Group) -> None:
    for command in (forecast, backtest):
        main.add_command(command)

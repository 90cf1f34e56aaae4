"""`warden forecast` and `warden backtest`: trend projections of the thresholds' frontiers, and a
replay of the stored observations through a catalog (registered on the main group by
warden/cli.py). `--plot` draws with matplotlib, the optional extra `plot`."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from warden.interfaces.cli.common import Context, config_option, parse_time, pass_ctx, user_errors

if TYPE_CHECKING:
    from warden.alerting.backtest import Backtest, Summary
    from warden.catalog.thresholds import Threshold
    from warden.forecasting.fit import Fit, Projection
    from warden.forecasting.frontier import ThresholdForecast
    from warden.forecasting.window import Window

PLOT_HINT = "pip install 'warden[plot]'"
PLOT_SUFFIXES = (".svg", ".png")


@click.command()
@click.option("--threshold", "threshold_id", metavar="ID", help="Only this threshold.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--plot",
    metavar="FILE",
    help="Also draw the frontier (points used and left out), both fits with their 10-90% "
    "bands, the window, the trigger and warning lines and today into FILE.svg or FILE.png "
    "(needs matplotlib: the `plot` extra).",
)
@click.option(
    "--within-days",
    type=click.FloatRange(min=0),
    default=365.0,
    show_default=True,
    help="The window of the crossing probability.",
)
@click.option(
    "--since",
    metavar="DATE",
    help="Fit the projections from this date (2024-01-01, 2024) or over `all` the history, "
    "instead of the catalog's window; the catalog's is shown beside.",
)
@click.option(
    "--window",
    metavar="LENGTH",
    help="Fit the projections over the last LENGTH of the data: `2y` (the last two calendar "
    "years) or `730d`, instead of the catalog's window.",
)
@click.option(
    "--method",
    type=click.Choice(["theil_sen", "ols"]),
    help="The line: Theil-Sen (robust; the default) or ordinary least squares.",
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
    since: str | None,
    window: str | None,
    method: str | None,
    seed: int,
) -> None:
    """Per threshold: the frontier value now, how old its newest data are, its growth rate over
    the fit window and over the window beside it (saying when the two disagree: accelerating or
    decelerating), and the projected dates of the trigger and warning values (10th, 50th and
    90th percentile of a seeded bootstrap), with the probability of crossing within
    --within-days; and the data each rests on.

    Windows: a threshold's `forecast:` in the catalog, else its metric's defaults (training
    compute from 2010; time horizons and scores over their whole history; the last two years
    beside). Data older than the metric's max_age are stale: the crossing date is still given
    (in the past if the trend line passed the level there) but no probability.

    Fits: log-linear for time horizons and compute, logit-linear for fractions, Theil-Sen
    (robust to outliers) unless --method ols. Results are placed at their model's release date
    where the source, the registry or Epoch's model tables give one, as the output says."""
    from warden.core.errors import UsageError
    from warden.core.model import COMPUTE
    from warden.forecasting.frontier import forecast_threshold
    from warden.store.observations import history

    if plot is not None and Path(plot).suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {plot!r}: the file must end in .svg or .png")
    override = _window(since, window)
    changes: dict[str, Any] = {} if method is None else {"method": method}
    pyplot = _pyplot() if plot is not None else None
    w = ctx.warden()
    try:
        chosen = _thresholds(w.catalog.thresholds, threshold_id)
        now = w.clock()
        with w.store.read() as conn:
            records = history(conn, {COMPUTE, *(p for t in chosen for p in t.pairs)})
    finally:
        w.close()
    fits: dict[tuple[Any, ...], Fit] = {}
    made = [
        f
        for t in chosen
        for f in forecast_threshold(
            records,
            t,
            w.catalog.registry,
            now,
            within_days,
            seed=seed,
            fits=fits,
            window=override,
            **changes,
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
                click.echo("\n".join(map(_wrapped, _text(f, within_days))) + "\n")
        empty = sorted({f.threshold for f in made if not f.frontier.points})
        if empty:
            from warden.interfaces.cli.tables import paragraph

            click.echo(paragraph(f"no evidence in scope yet ({len(empty)}): {', '.join(empty)}"))
        if skipped:
            click.echo(f"{len(skipped)} thresholds have no benchmark condition to forecast")
    if pyplot is not None and plot is not None:
        from warden.interfaces.cli.forecastplot import draw

        draw(pyplot, [f for f in made if f.frontier.points], now, within_days, Path(plot))
        click.echo(f"plot: {plot}", err=True)


def _window(since: str | None, length: str | None) -> Window | None:
    """The projection window the command line asks for, or None (the catalog's)."""
    import re

    from warden.core.errors import UsageError
    from warden.forecasting.window import Window

    if since is not None and length is not None:
        raise UsageError("--since and --window both set the fit window: give one")
    if since is not None:
        if re.fullmatch(r"\s*\d+\s*[yd]\s*", since):
            raise UsageError(f"--since {since!r}: a date or `all`; a length is --window")
        try:
            return Window.parse(since)
        except ValueError:
            raise UsageError(
                f"--since {since!r}: a date (2024-01-01), a year (2024) or `all`"
            ) from None
    if length is not None:
        if not re.fullmatch(r"\s*\d+\s*[yd]\s*", length):
            raise UsageError(f"--window {length!r}: a length such as 2y or 730d")
        try:
            return Window.parse(length.replace(" ", ""))
        except ValueError:
            raise UsageError(f"--window {length!r}: a length such as 2y or 730d") from None
    return None


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


def _rate(fit: Fit) -> str:
    if not fit.ok or fit.slope_per_year is None or fit.slope_interval is None:
        return f"no fit: {fit.reason}"
    low, high = fit.slope_interval
    if fit.kind == "log":
        d, span = fit.doubling_days, fit.doubling_interval
        assert span is not None
        shown = "-".join("no growth" if x is None else f"{x:.0f}" for x in span)
        head = f"doubling every {d:.0f} days" if d else "not growing"
        return f"{head} (p10-p90 {shown} days)"
    if fit.kind == "logit":
        return f"logit slope {fit.slope_per_year:+.2f}/year (p10-p90 {low:+.2f} to {high:+.2f})"
    return f"{fit.slope_per_year:+.4g}/year (p10-p90 {low:+.4g} to {high:+.4g})"


def _growth(f: ThresholdForecast) -> str:
    fit, plan = f.fit, f.plan
    method = "least-squares" if fit.method == "ols" else "Theil-Sen"
    where = f" (window: {plan.main.spec}, the {plan.origin})" if plan else ""
    if not fit.ok:
        return f"{_rate(fit)}; {fit.kind or 'no'}-linear {method} fit {f.window}{where}"
    r2 = "n/a" if fit.r_squared is None else f"{fit.r_squared:.2f}"
    return (
        f"{_rate(fit)}; {fit.kind}-linear {method} fit {f.window}{where}, {fit.n} points, R² {r2}"
    )


def _beside(f: ThresholdForecast) -> str | None:
    other = f.other
    if other is None:
        return None
    head = f"{f.other_window}: {_rate(other)}"
    if not other.ok:
        return head
    r2 = "n/a" if other.r_squared is None else f"{other.r_squared:.2f}"
    p = f.other_trigger
    reach = ""
    if p is not None and p.status != "crossed" and p.quantiles.get(0.5) is not None:
        past = " (in the past)" if p.quantiles[0.5] and p.quantiles[0.5] < p.now else ""
        reach = f"; reaches {p.level:g}: median {_day(p.quantiles[0.5])}{past}"
    return f"{head}, {other.n} points, R² {r2}{reach}"


def _crossing(p: Projection, within_days: float) -> str:
    if p.status == "crossed":
        return f"crossed on {_day(p.crossed_at)}"
    if p.status == "no_forecast":
        return f"no forecast: {p.reason}"
    q = p.quantiles
    past = " (in the past)" if q[0.5] is not None and q[0.5] < p.now else ""
    dates = f"median {_day(q[0.5])}{past}, p10 {_day(q[0.1])}, p90 {_day(q[0.9])}"
    if p.status == "stale":
        return f"stale: {dates}; no probability"
    prob = "n/a" if p.probability is None else f"{p.probability:.2f}"
    head = "projected" if p.status == "projected" else "not projected"
    return f"{head}: {dates}; P(within {within_days:g} d) {prob}"


def _data(f: ThresholdForecast) -> str:
    fr, p = f.frontier, f.trigger
    newest = fr.newest or (fr.best.at if fr.best else None)
    age = p.age_days
    if newest is None or age is None:
        return "no data"
    limit = "" if p.max_age_days is None else f" (max_age {p.max_age_days:.0f} d)"
    verdict = "stale" if f.stale or age > (p.max_age_days or float("inf")) else "current"
    return f"newest {_day(newest)}, {age:.0f} days old: {verdict}{limit}"


def _wrapped(line: str) -> str:
    """A line of the report, wrapped to a terminal under its label (`  growth        `)."""
    from warden.interfaces.cli.tables import paragraph

    return paragraph(line, " " * 16 if line.startswith("  ") else "  ")


def _text(f: ThresholdForecast, within_days: float) -> list[str]:
    fr, c = f.frontier, f.condition
    measure = "" if fr.measure == "value" else f", {fr.measure}"
    best = fr.best
    assert best is not None
    lines = [
        f"{f.threshold}  ({fr.scope.name}; {c.benchmark}/{c.metric} {c.op} {c.value:g}, "
        f"{fr.basis_text}{measure})",
        f"  frontier now  {best.value:.4g} {fr.scale or ''}  {best.subject}, {_day(best.at)}"
        f"  ({len(fr.points)} records from {fr.considered} observations)",
        f"  data          {_data(f)}",
        f"  growth        {_growth(f)}",
    ]
    beside = _beside(f)
    if beside is not None:
        lines.append(f"  beside        {beside}")
    if f.change:
        lines.append(f"  trend         {f.change}")
    for name, p in (("trigger", f.trigger), ("warning", f.warning)):
        if p is None:
            continue
        lines.append(f"  {f'{name} {p.level:g}':<13} {_crossing(p, within_days)}")
        if p.reason and p.status in ("projected", "not_projected", "stale"):
            lines.append(f"  {'':<13} {p.reason}")
    if fr.left_out:
        lines.append("  left out      " + "; ".join(f"{k} {why}" for why, k in fr.left_out))
    rests = ", ".join(f"{p.subject} {p.value:.3g} ({_day(p.at)})" for p in fr.points[-5:])
    more = f"{len(fr.points) - 5} earlier, " if len(fr.points) > 5 else ""
    lines.append(f"  rests on      {more}{rests}")
    return lines


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
    from warden.interfaces.cli.progress import Progress

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
        size = f"{len(catalog.thresholds)} thresholds"
        with Progress(f"backtest: replaying the stored observations through {size}", counts=False):
            result = replaying.run(w.store, catalog, options)
    finally:
        w.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    _backtest_table(result)


def _backtest_table(result: Backtest) -> None:
    from warden.interfaces.cli import tables

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
                (every := t.summary()).missed,
                _ratio(every.precision),
                _ratio(every.recall),
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
        "missed",
        "precision",
        "recall",
    ]
    click.echo(tables.table(heads, rows))
    for t in result.thresholds:
        for fw in t.false_warnings:
            click.echo(f"false warning: {t.threshold} {fw.kind} on {_day(fw.at)}: {fw.detail}")
        for note in t.notes:
            click.echo(f"note: {t.threshold}: {note}")
    for t in result.thresholds:
        if t.warnings or t.fired:
            kinds = "; ".join(_summary(t.summary(k)) for k in ("margin", "projection"))
            click.echo(tables.paragraph(f"summary: {t.threshold}: {kinds}"))
    o = result.options
    left = "; ".join(f"{k} {why}" for why, k in result.left_out)
    click.echo(
        "\n"
        + tables.paragraph(
            f"replayed {result.observations} observations in {result.steps} daily steps, "
            f"{_day(result.start)} to {_day(result.end)}; projection warning: P(cross within "
            f"{o.within_days:g} d) >= {o.probability:g}; margin horizon {o.horizon_days:g} d"
            + (f"; left out: {left}" if left else "")
            + (f"; {len(result.skipped)} thresholds not replayed" if result.skipped else "")
        )
    )


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _summary(s: Summary) -> str:
    leads = ", ".join(f"{d:.0f}" for d in s.lead_days)
    true = f"{s.true} true" + (f" (lead {leads} d)" if leads else "")
    return (
        f"{s.kind} {true}, {s.false} false, {s.open} open, {s.missed} of {s.fired} firings "
        f"missed (precision {_ratio(s.precision)}, recall {_ratio(s.recall)})"
    )


def register(main: click.Group) -> None:
    for command in (forecast, backtest):
        main.add_command(command)

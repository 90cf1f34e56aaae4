"""The `warden` command. Imports stay inside the commands so `warden --help` starts fast."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from warden.interfaces.cli.common import Context, config_option, pass_ctx, user_errors

if TYPE_CHECKING:
    from warden.ingest.feedrun import IngestResult

EPILOG = """\b
Exit codes: 0 ok; 1 runtime failure (including `log verify` finding a bad
entry); 2 usage, config or catalog error.
\b
Config: a YAML file (--config or WARDEN_CONFIG), overridden by WARDEN_*
environment variables (WARDEN_HTTP__PORT=9500). Every key: README.md."""


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    metavar="FILE",
    envvar="WARDEN_CONFIG",
    help="YAML config file (default: $WARDEN_CONFIG, else built-in defaults).",
)
@click.version_option(package_name="warden")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Warden: an early-warning daemon for frontier-AI capability thresholds.

    Reads evaluation results and benchmark feeds, compares them with if-then
    thresholds, and alerts when one is crossed, nearly crossed, or lost track of.
    """
    ctx.ensure_object(Context).config = config
    # The commands report what happened themselves: warden's log records stay out of their
    # output (no duplicate lines, no tracebacks); `warden run` sets up real logging.
    import logging

    if not logging.getLogger().handlers:
        logging.getLogger().addHandler(logging.NullHandler())


@main.command()
@config_option
@pass_ctx
@user_errors
def run(ctx: Context) -> None:
    """Run the daemon: feeds on their schedules, evaluation, alert delivery and the HTTP API
    (/metrics, /healthz, /readyz, POST /api/v1/observations). Stops cleanly on SIGTERM.

    On SQLite one daemon serves a database file: a second `warden run` on the same file refuses
    to start and names the running one (several replicas need PostgreSQL)."""
    from warden.app import logs
    from warden.app.daemon import Warden, serve
    from warden.interfaces.api.app import create_app
    from warden.interfaces.api.limits import SlowClientH11
    from warden.store.single import hold

    settings = ctx.settings()
    logs.setup(settings.log_format)
    held = hold(settings.database_url)  # before the store is touched: no second migrator
    try:
        code = serve(Warden(settings), create_app, SlowClientH11)
    finally:
        if held is not None:
            held.release()
    sys.exit(code)


@main.command()
@click.option(
    "--online", is_flag=True, help="Fetch the feeds' URLs too (default: local sources only)."
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 2).")
@click.option(
    "--config-only",
    is_flag=True,
    help="Check the config, catalog and plugins only, not what they point at (a config made "
    "for another machine: an image, a host).",
)
@config_option
@pass_ctx
@user_errors
def check(ctx: Context, online: bool, strict: bool, config_only: bool) -> None:
    """Check the config, the catalog and the plugins, and what they point at, without changing
    anything: the database (a supported dialect that answers), the feeds' sources (exist and
    can be read; URLs with --online), the sinks' secrets, and every threshold's benchmark and
    metric (known to the registry or to the store's observations; "did you mean" for a near
    miss). Lists every problem and exits 2; warnings are printed and counted."""
    from warden.app.checks import Report, check_world
    from warden.app.daemon import assemble
    from warden.core.errors import Problem, ProblemsError

    settings = ctx.settings()
    parts = assemble(settings)
    if config_only:
        report = Report(not_checked=["what the config points at (--config-only)"])
    else:
        report = check_world(settings, parts, online=online)
    failing = report.findings if strict else report.errors
    problems = [*parts.problems, *(Problem(f.where, f.message) for f in failing)]
    if not strict:
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
    if problems or parts.catalog is None:
        raise ProblemsError(problems)
    warnings = len(report.warnings)
    click.echo(
        f"ok: {len(parts.catalog.thresholds)} thresholds in {len(parts.catalog.files)} catalog "
        f"files, {len(parts.catalog.registry.benchmarks)} benchmarks and "
        f"{len(parts.catalog.registry.models)} models in the registry, "
        f"{len(parts.feeds)} feeds, {len(parts.sinks)} sinks"
        + (f"; {warnings} warning{'s' if warnings != 1 else ''}" if warnings else "")
    )
    if report.checked:
        click.echo(f"checked: {'; '.join(report.checked)}")
    if report.not_checked:
        click.echo(f"not checked: {'; '.join(report.not_checked)}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--connector",
    default="inspect_logs",
    show_default=True,
    help="Connector that reads PATHS (see `warden check` for installed ones).",
)
@click.option(
    "--feed", default="cli", show_default=True, help="Feed id to record the observations under."
)
@config_option
@pass_ctx
@user_errors
def ingest(ctx: Context, paths: tuple[str, ...], connector: str, feed: str) -> None:
    """Ingest files or folders once, then evaluate the thresholds they touch.

    Alerts are queued and delivered by the running daemon. Prints new, already known, rejected,
    skipped (files the connector does not read, each with why) and not finished; a file another
    connector reads is named with it. Exit 1 if anything new was rejected (rejects recorded
    before, and failed evaluation runs, do not fail it).
    """
    from warden.app.daemon import PUSH_FEED, build_connector
    from warden.core.errors import ConfigError, Problem, UsageError
    from warden.ingest.connector import Cursor
    from warden.ingest.feedrun import run_feed
    from warden.interfaces.cli.progress import Progress, watch

    if feed == PUSH_FEED:
        raise UsageError(f"feed id {PUSH_FEED!r} is reserved for the push API")
    w = ctx.warden(create=True)
    w.note_catalog()
    failed = False
    with Progress("ingesting") as progress:
        for n, path in enumerate(paths, 1):
            try:
                conn = build_connector(connector, {"source": path}, f"--connector {connector}")
            except ConfigError as exc:
                if not any(p.message.endswith("Field required") for p in exc.problems):
                    raise
                hint = Problem(
                    "",
                    f"connector {connector!r} needs options besides its source: declare a feed "
                    f"with them in the config and run `warden backfill FEED`",
                )
                raise ConfigError([*exc.problems, hint]) from exc
            of = f" ({n}/{len(paths)})" if len(paths) > 1 else ""
            progress.describe(f"ingesting {path}{of}")
            result = run_feed(
                w.store, feed, watch(conn, progress), Cursor(), w.clock, w.catalog.registry
            )
            cycle = w.evaluate_touched(result.touched)
            with progress.paused():
                _ingested(path, result, len(cycle.transitions) if cycle else 0)
            failed = failed or bool(result.new_rejects or result.error)
    sys.exit(1 if failed else 0)


def _ingested(path: str, result: IngestResult, triggers: int) -> None:
    from warden.interfaces.cli.feeds import report

    report(path, result, triggers)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
@user_errors
def evaluate(ctx: Context, as_json: bool) -> None:
    """Evaluate every threshold now and print the verdicts (triggers are recorded)."""
    from warden.interfaces.cli import views

    w = ctx.warden()
    w.note_catalog()
    result = w.evaluate()
    views.evaluations(result, w.catalog, as_json)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
@user_errors
def status(ctx: Context, as_json: bool) -> None:
    """Alert states, feed health and pending deliveries, from the store."""
    from warden.interfaces.cli import views

    views.status(ctx.warden(), as_json)


@main.group(invoke_without_command=True)
@config_option
@click.option("--json", "fmt", flag_value="json", help="JSON lines.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@click.option("--threshold", help="Only this threshold id.")
@click.pass_context
@user_errors
def log(ctx: click.Context, fmt: str | None, threshold: str | None) -> None:
    """The trigger log: every alert-state transition, oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    from warden.app.daemon import catalog_ids
    from warden.interfaces.cli import views
    from warden.interfaces.cli.common import known_threshold, store_threshold_ids

    obj = ctx.find_object(Context)
    assert obj is not None
    w = obj.warden()
    if threshold is not None:
        known = catalog_ids(w.catalog) | store_threshold_ids(w.store)
        known_threshold(threshold, known, "--threshold")
    views.trigger_log(w, fmt or "table", threshold)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@config_option
@pass_ctx
@user_errors
def upgrade(ctx: Context) -> None:
    """Apply the database migrations (also done at every start)."""
    from warden.store import Store

    store = Store(ctx.settings().database_url)
    store.upgrade()
    click.echo(f"ok: {store.describe()} is at the latest schema")


@main.group()
def registry() -> None:
    """The registry of canonical benchmark and model ids."""


@registry.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@pass_ctx
@user_errors
def unmapped(ctx: Context, as_json: bool) -> None:
    """Benchmark and model ids that observations carried but the registry does not know.

    Such observations are kept under their raw ids (never dropped); add the ids, or aliases for
    them, to a registry file or a catalog's `benchmarks:` / `models:` to map future ones.
    """
    from warden.interfaces.cli import views

    views.unmapped(ctx.warden(), as_json)


@main.group()
def thresholds() -> None:
    """The threshold catalog: list it, and run threshold tests."""


@thresholds.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@config_option
@pass_ctx
@user_errors
def thresholds_test(ctx: Context, files: tuple[str, ...]) -> None:
    """Run threshold test FILES (YAML: observations in, verdicts, states and triggers expected;
    format in thresholds/README.md). Each test runs on a fresh SQLite file.

    Files without `catalog:` test the config's catalog. Exit 0 all passed, 1 a test failed,
    2 a file could not run (bad input or catalog)."""
    from pathlib import Path

    from warden.alerting import thresholdtest

    def defaults() -> tuple[list[Path], list[Path]]:
        settings = ctx.settings()
        return settings.catalog_paths(), settings.registry_paths()

    results = thresholdtest.run_files([Path(f) for f in files], defaults)
    for line in thresholdtest.render(results):
        click.echo(line)
    sys.exit(thresholdtest.exit_code(results))


@thresholds.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
@user_errors
def thresholds_list(ctx: Context, as_json: bool) -> None:
    """Every threshold of the configured catalog: id, level, domain, scope, severity, what its
    trigger level rests on (a framework's number or a proxy chosen by the catalog) and sources."""
    from warden.catalog.thresholds import load_catalog
    from warden.interfaces.cli import views

    settings = ctx.settings()
    views.thresholds(load_catalog(settings.catalog_paths(), settings.registry_paths()), as_json)


def _register() -> None:
    from warden.interfaces.cli import alerts as cli_alerts
    from warden.interfaces.cli import assess as cli_assess
    from warden.interfaces.cli import declarations as cli_declarations
    from warden.interfaces.cli import deliveries as cli_deliveries
    from warden.interfaces.cli import feeds as cli_feeds
    from warden.interfaces.cli import forecast as cli_forecast
    from warden.interfaces.cli import log as cli_log
    from warden.interfaces.cli import registry as cli_registry
    from warden.interfaces.cli import replay as cli_replay

    cli_assess.register(main)
    cli_feeds.register(main)
    cli_alerts.register(main)
    cli_log.register(main)
    cli_deliveries.register(main)
    cli_forecast.register(main)
    cli_registry.register(main)
    cli_replay.register(main)
    cli_declarations.register(main)


_register()

if __name__ == "__main__":
    main()

"""`warden deliveries` and `warden deliveries retry`: notifications waiting for their sinks, and
re-driving them after an outage (registered on the main group by warden.interfaces.cli.main)."""

from __future__ import annotations

import json
from typing import Any

import click

from warden.interfaces.cli.common import Context, config_option, pass_ctx, user_errors


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@click.pass_context
@user_errors
def deliveries(ctx: click.Context, as_json: bool) -> None:
    """Notifications not yet delivered, by sink: how many wait, and the oldest's age.

    A notification is retried until it is delivered or its sink's `retry_for` (24 hours by
    default) is spent; then it is `failed`, and `warden deliveries retry --failed` re-drives it."""
    if ctx.invoked_subcommand is not None:
        return
    from warden.interfaces.cli import tables
    from warden.store import stats

    obj = ctx.find_object(Context)
    assert obj is not None
    w = obj.warden()
    try:
        with w.store.read() as conn:
            pending = stats.pending_by_sink(conn)
            counts = stats.failed_by_sink(conn)
        now = w.clock()
    finally:
        w.close()
    sinks = sorted(set(w.sinks) | set(pending) | set(counts))
    rows: list[dict[str, Any]] = [
        {
            "sink": s,
            "configured": s in w.sinks,
            "pending": pending.get(s, (0, None))[0],
            "oldest_pending_seconds": (
                None if s not in pending else round((now - pending[s][1]).total_seconds(), 3)
            ),
            "failed": counts.get(s, 0),
        }
        for s in sinks
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    shown = [
        [
            r["sink"] + ("" if r["configured"] else " (not configured)"),
            r["pending"],
            "-" if r["oldest_pending_seconds"] is None else f"{r['oldest_pending_seconds']:.0f} s",
            r["failed"],
        ]
        for r in rows
    ]
    click.echo(tables.table(["sink", "pending", "oldest", "failed"], shown))


@deliveries.command("retry")
@click.option("--sink", "sinks", multiple=True, metavar="ID", help="Only this sink (repeatable).")
@click.option(
    "--failed",
    is_flag=True,
    help="Re-drive failed notifications too (those whose retries ran out, or that a sink refused).",
)
@config_option
@pass_ctx
@user_errors
def deliveries_retry(ctx: Context, sinks: tuple[str, ...], failed: bool) -> None:
    """Make waiting notifications due now (with --failed, failed ones too), each with a fresh
    `retry_for`. A failed notification whose alert has reached the sink in a later state since
    is marked superseded instead, so no sink receives an alert's states out of order. The
    running daemon delivers them on its next pass."""
    from warden.core.errors import UsageError
    from warden.delivery.dispatch import retry_deliveries

    w = ctx.warden()
    try:
        unknown = sorted(set(sinks) - set(w.sinks))
        if unknown:
            known = ", ".join(sorted(w.sinks)) or "none configured"
            raise UsageError(f"--sink: no sink {', '.join(map(repr, unknown))} (sinks: {known})")
        done = retry_deliveries(w.store, w.clock(), list(sinks) or None, failed)
    finally:
        w.close()
    click.echo(
        f"{done.redriven} notifications due now"
        + (f", {done.superseded} superseded by a later state of their alert" if failed else "")
    )


def register(main: click.Group) -> None:
    main.add_command(deliveries)

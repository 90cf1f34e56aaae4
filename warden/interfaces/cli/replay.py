"""`warden log replay SEQ`: re-derive a trigger from the store (warden/triggerlog/replay.py)."""

from __future__ import annotations

import json
import sys

import click

from warden.interfaces.cli.common import Context, config_option, pass_ctx, user_errors


@click.command("replay")
@click.argument("seq", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
@pass_ctx
@user_errors
def replay(ctx: Context, seq: int, as_json: bool) -> None:
    """Evaluate trigger SEQ's stored evidence with the threshold definition stored under its
    version, and say whether that reproduces it, or what differs: the evidence changed, the
    definition is missing, or the code now gives another verdict.

    Exit 0 reproduced, 1 anything else (not replayable, or a difference)."""
    from dataclasses import asdict

    from warden.alerting.state import advance
    from warden.triggerlog import replay as replaying

    w = ctx.warden()
    try:
        with w.store.read() as conn:
            inputs = replaying.gather(conn, seq)
    finally:
        w.close()
    result = replaying.replay(inputs, models=w.catalog.registry.models, advance=advance)
    if as_json:
        out = {**asdict(result), "reproduced": result.reproduced}
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        click.echo(replaying.summary(result))
    if not result.reproduced:
        sys.exit(1)


def register(main: click.Group) -> None:
    """Add `replay` to the `log` group of `main`."""
    group = main.commands["log"]
    if not isinstance(group, click.Group):
        raise TypeError("warden's `log` command is not a group")
    group.add_command(replay)

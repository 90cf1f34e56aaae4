"""`warden assess record|list`: capability assessments, which `since_assessment` conditions
measure from (registered on the main group by warden/cli.py)."""

from __future__ import annotations

import click

from warden.interfaces.cli.common import Context, config_option, parse_time, pass_ctx, user_errors


@click.group()
def assess() -> None:
    """Capability assessments, which `since_assessment` conditions measure from."""


@assess.command("record")
@click.argument("model")
@click.option("--by", required=True, help="Who assessed the model (a person or team).")
@click.option(
    "--compute",
    type=float,
    help="Training compute of the model assessed, in FLOP (e.g. 3e25). Default: the model's "
    "newest training compute observation, if any.",
)
@click.option(
    "--at",
    "at",
    help="When the assessment was made (RFC 3339, or a date taken as UTC). Default: now.",
)
@click.option("--note", default="", help="Free text: scope of the assessment, report link.")
@config_option
@pass_ctx
@user_errors
def assess_record(
    ctx: Context, model: str, by: str, compute: float | None, at: str | None, note: str
) -> None:
    """Record that MODEL had its full capability assessment.

    It restarts `since_assessment: {days: N}` for MODEL and sets the compute that
    `since_assessment: {compute_ratio: R}` compares with; it is also an entry in the trigger
    log. MODEL may be any alias the registry knows."""
    from warden.alerting import assessments as assessing

    w = ctx.warden()
    try:
        done = assessing.record(
            w.store, w.catalog.registry, w.clock, model, by, parse_time(at, "--at"), compute, note
        )
        w.note_catalog()
        w.evaluate()
    finally:
        w.close()
    a = done.assessment
    click.echo(f"trigger {done.seq}: {a.model} assessed by {a.by} at {a.at.isoformat()}")
    if not done.known_model:
        click.echo(f"note: {a.model!r} is not in the registry; recorded under this id")
    if a.compute is None:
        click.echo("note: no training compute recorded: compute_ratio cannot be judged for it")
    elif done.compute_from_observation:
        click.echo(f"compute: {a.compute:g} FLOP (its newest training compute observation)")


@assess.command("list")
@click.option("--model", help="Only this model.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@pass_ctx
@user_errors
def assess_list(ctx: Context, model: str | None, as_json: bool) -> None:
    """Every recorded assessment, oldest first."""
    import json

    from warden.interfaces.cli import tables
    from warden.store import assessments

    w = ctx.warden()
    try:
        with w.store.read() as conn:
            spec = w.catalog.registry.model(model) if model else None  # aliases work too
            found = assessments.history(conn, spec.id if spec else model)
    finally:
        w.close()
    rows = [
        {
            "model": a.model,
            "assessed_at": a.at.isoformat(),
            "by": a.by,
            "compute": a.compute,
            "note": a.note,
            "trigger": seq,
        }
        for a, seq in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    shown = [{**r, "assessed_at": tables.when(a.at)} for r, (a, _) in zip(rows, found, strict=True)]
    click.echo(
        tables.table(
            list(rows[0]) if rows else ["model"],
            [list(r.values()) for r in shown],
            wrap=["by", "note"],
        )
    )


def register(main: click.Group) -> None:
    main.add_command(assess)

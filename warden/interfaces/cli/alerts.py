"""`warden ack` and `warden silence add|list|expire` (registered on the main group by
warden/cli.py). Each action is an entry in the trigger log."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from warden.interfaces.cli.common import Context, config_option, parse_time, pass_ctx, user_errors


@click.command()
@click.argument("alert", nargs=-1, required=True)
@click.option("--by", required=True, help="Who acknowledges (a person or team).")
@click.option("--note", default="", help="Why, or what is being done.")
@config_option
@pass_ctx
@user_errors
def ack(ctx: Context, alert: tuple[str, ...], by: str, note: str) -> None:
    """Acknowledge an alert: ALERT is a trigger seq (from `warden log`) or THRESHOLD SUBJECT.

    Stops the alert's repeats and escalation until it resolves; later notifications and the
    trigger log show who acknowledged it and why."""
    from warden.alerting import actions as alerting
    from warden.app.daemon import catalog_ids
    from warden.core.errors import UsageError

    w = ctx.warden()
    try:
        if len(alert) == 1 and alert[0].isdigit():
            threshold, subject = alerting.alert_of_trigger(w.store, int(alert[0]))
        elif len(alert) == 2:
            threshold, subject = alert
        else:
            raise UsageError("ALERT: a trigger seq, or THRESHOLD SUBJECT")
        ids = catalog_ids(w.catalog)
        seq = alerting.acknowledge(w.store, threshold, subject, by, note, w.clock(), thresholds=ids)
    finally:
        w.close()
    click.echo(f"trigger {seq}: {threshold} {subject} acknowledged by {by}")


@click.group()
def silence() -> None:
    """Silences: hold back notifications of matching alerts for a while (still evaluated and
    logged)."""


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    from warden.core.errors import UsageError

    out = {}
    for value in values:
        label, sep, wanted = value.partition("=")
        if not sep or not label:
            raise UsageError(f"{option} {value!r}: write LABEL=VALUE, e.g. domain=cyber")
        out[label] = wanted
    return out


@silence.command("add")
@click.option("--match", "match", multiple=True, help="LABEL=VALUE (repeatable): equal labels.")
@click.option("--match-re", "match_re", multiple=True, help="LABEL=REGEX (repeatable).")
@click.option("--for", "duration", help="How long, e.g. 2h, 3d (from --from or now).")
@click.option("--until", "until", help="When it ends (RFC 3339 time or a date, UTC).")
@click.option("--from", "start", help="When it starts (default now).")
@click.option("--by", required=True, help="Who adds it.")
@click.option("--comment", required=True, help="Why.")
@click.option(
    "--force",
    is_flag=True,
    help="Add it even if a matcher names a label no alert has, or a value none takes.",
)
@config_option
@pass_ctx
@user_errors
def silence_add(
    ctx: Context,
    match: tuple[str, ...],
    match_re: tuple[str, ...],
    duration: str | None,
    until: str | None,
    start: str | None,
    by: str,
    comment: str,
    force: bool,
) -> None:
    """Add a silence. Labels: threshold, subject, severity, level, domain, scope, family,
    state, alert and the threshold's own labels. A matcher on another label, or equal to a
    value no alert of the catalog takes, would silence nothing: it is refused (exit 2, naming
    the nearest labels or values) unless --force."""
    from pydantic import ValidationError

    from warden.alerting import actions as alerting
    from warden.core.config import parse_duration
    from warden.core.errors import UsageError
    from warden.core.matchers import Matchers

    try:
        matchers = Matchers(match=_pairs(match, "--match"), match_re=_pairs(match_re, "--match-re"))
    except ValidationError as exc:
        raise UsageError(str(exc.errors()[0]["msg"])) from exc
    w = ctx.warden()
    try:
        now = w.clock()
        starts = parse_time(start, "--from") or now
        if (duration is None) == (until is None):
            raise UsageError("give either --for or --until")
        if duration is not None:
            try:
                ends = starts + timedelta(seconds=parse_duration(duration, "--for"))
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
        else:
            ends = parse_time(until, "--until") or now
        silence_id, seq = alerting.add_silence(
            w.store,
            matchers,
            starts,
            ends,
            by,
            comment,
            now,
            thresholds=w.catalog.thresholds,
            force=force,
        )
    finally:
        w.close()
    from warden.interfaces.cli.tables import when

    click.echo(f"silence {silence_id} (trigger {seq}): until {when(ends)}")


@silence.command("list")
@click.option("--all", "include_ended", is_flag=True, help="Include ended silences.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@pass_ctx
@user_errors
def silence_list(ctx: Context, include_ended: bool, as_json: bool) -> None:
    """Active and pending silences (with --all, ended ones too)."""
    from warden.interfaces.cli import tables
    from warden.store import actions

    w = ctx.warden()
    try:
        with w.store.read() as conn:
            rows = actions.list_silences(conn, w.clock(), include_ended)
    finally:
        w.close()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    shown = [
        [
            r.silence.id,
            _matchers(r.silence.matchers.model_dump()),
            tables.when(r.silence.starts_at),
            tables.when(r.silence.ends_at),
            r.silence.created_by,
            r.silence.comment,
        ]
        for r in rows
    ]
    headers = ["id", "matchers", "starts_at", "ends_at", "by", "comment"]
    click.echo(tables.table(headers, shown, wrap=["matchers", "by", "comment"]))


def _matchers(m: dict[str, dict[str, str]]) -> str:
    equal = [f"{k}={v}" for k, v in m.get("match", {}).items()]
    regex = [f"{k}=~{v}" for k, v in m.get("match_re", {}).items()]
    return ",".join(equal + regex)


@silence.command("expire")
@click.argument("silence_id", type=int)
@click.option("--by", required=True, help="Who ends it.")
@config_option
@pass_ctx
@user_errors
def silence_expire(ctx: Context, silence_id: int, by: str) -> None:
    """End a silence now."""
    from warden.alerting import actions as alerting

    w = ctx.warden()
    try:
        seq = alerting.expire_silence(w.store, silence_id, by, w.clock())
    finally:
        w.close()
    click.echo(f"silence {silence_id} expired (trigger {seq})")


def register(main: click.Group) -> None:
    for command in (ack, silence):
        main.add_command(command)

"""`warden feeds`, `warden rejects [retry]` and `warden backfill`: the feeds' side of the
command line (registered on the main group by warden/cli.py)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from warden.interfaces.cli.common import Context, config_option, parse_time, pass_ctx, user_errors

if TYPE_CHECKING:
    from warden.ingest.feedrun import IngestResult
    from warden.store.feeds import FailedRun


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@pass_ctx
@user_errors
def feeds(ctx: Context, as_json: bool) -> None:
    """Every feed: schedule, state, last success, observations, open rejects and failed runs
    (evaluation logs that ended in error or were cancelled: `warden rejects --failed-runs`).

    State: `ok` (last run succeeded), `failing (REASON)`, `silent` (no success within the feed's
    stale_after), `never run`. Feeds the store knows but the config no longer names (the push
    API's `api`, `warden ingest`'s `cli`) are listed too."""
    from warden.core.config import duration_text
    from warden.store import feeds as feed_rows

    w = ctx.warden()
    try:
        with w.store.read() as conn:
            known = feed_rows.overview(conn)
        now = w.clock()
    finally:
        w.close()
    configured = {f.id: f for f in w.settings.feeds}
    rows = []
    successes = []  # the times, for the table (the JSON keeps ISO 8601)
    for fid in [*configured, *sorted(set(known) - set(configured))]:
        cfg, row = configured.get(fid), known.get(fid)
        schedule = (
            ""
            if cfg is None
            else (f"cron {cfg.cron}" if cfg.cron else f"every {duration_text(cfg.every)}")
        )
        # Silent: no success within the feed's stale_after (its evidence does not count).
        silent = bool(
            row is not None
            and cfg is not None
            and cfg.stale_after
            and (
                row.last_success_at is None
                or (now - row.last_success_at).total_seconds() >= cfg.stale_after
            )
        )
        if row is None or row.last_attempt_at is None:
            state = "never run"
        elif row.last_error:
            reason = row.last_reason or "internal_error"
            state = f"failing ({reason})" + (", silent" if silent else "")
        else:
            state = "silent" if silent else "ok"
        successes.append(row.last_success_at if row else None)
        rows.append(
            {
                "feed": fid,
                "connector": (cfg.connector if cfg else row.connector if row else ""),
                "schedule": schedule,
                "state": state,
                "last_success_at": _when(row.last_success_at if row else None),
                "last_attempt_at": _when(row.last_attempt_at if row else None),
                "observations": row.observations if row else 0,
                "open_rejects": row.open_rejects if row else 0,
                "failed_runs": row.failed_runs if row else 0,
                "last_error": (row.last_error if row else None) or None,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from warden.interfaces.cli import tables

    shown = [
        "feed",
        "connector",
        "schedule",
        "state",
        "last_success_at",
        "observations",
        "open_rejects",
        "failed_runs",
    ]
    click.echo(
        tables.table(
            shown,
            [
                [tables.when(at) if k == "last_success_at" else r[k] for k in shown]
                for r, at in zip(rows, successes, strict=True)
            ],
            wrap=["schedule"],
            styles={"state": tables.state_style},
        )
    )
    for r in rows:
        if r["last_error"]:
            click.echo(f"{r['feed']}: {r['last_error']}", err=True)


@click.group(invoke_without_command=True)
@click.option("--feed", help="Only this feed.")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved rejects.")
@click.option(
    "--failed-runs",
    is_flag=True,
    help="List the failed evaluation runs instead (logs that ended in error or were cancelled).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@click.pass_context
@user_errors
def rejects(
    ctx: click.Context, feed: str | None, include_resolved: bool, failed_runs: bool, as_json: bool
) -> None:
    """Rejected input: file or URL, record (row, member, entry), field and reason.

    Rejects are open until `warden rejects retry` reads their source again and it no longer
    gives them (after the source or the connector was fixed), or until `warden rejects dismiss`
    closes them. An evaluation run that ended in error or was cancelled is not a reject but a
    failed run: `--failed-runs` lists them."""
    if ctx.invoked_subcommand is not None:
        return
    from warden.store import feeds as feed_rows

    w = ctx.ensure_object(Context).warden()
    try:
        with w.store.read() as conn:
            found = feed_rows.rejected(conn, feed, include_resolved)
            runs = feed_rows.failed(conn, feed) if failed_runs else []
    finally:
        w.close()
    if failed_runs:
        _failed_runs(runs, as_json)
        return
    rows = [
        {
            "id": r.id,
            "feed": r.feed,
            "source": r.source,
            "record": r.record,
            "field": r.field,
            "reason": r.reason,
            "message": r.message,
            "rejected_at": _when(r.created_at),
            "resolved_at": _when(r.resolved_at),
            "dismissed_by": r.dismissed_by,
            "dismiss_reason": r.dismiss_reason,
        }
        for r in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from warden.interfaces.cli import tables

    shown = ["id", "feed", "source", "record", "field", "reason", "message"]
    shown += ["resolved_at", "dismissed"] if include_resolved else []
    table = [
        [
            r.id,
            r.feed,
            r.source,
            r.record,
            r.field,
            r.reason,
            r.message,
            tables.when(r.resolved_at),
            f"by {r.dismissed_by}: {r.dismiss_reason}" if r.dismissed_by else "",
        ]
        for r in found
    ]
    click.echo(
        tables.table(
            shown,
            [row[: len(shown)] for row in table],
            wrap=["source", "record", "field", "message", "dismissed"],
        )
    )
    click.echo(f"\n{len(rows)} {'rejects' if include_resolved else 'open rejects'}")


def _failed_runs(runs: list[FailedRun], as_json: bool) -> None:
    rows = [
        {
            "id": r.id,
            "feed": r.feed,
            "source": r.source,
            "status": r.status,
            "message": r.message,
            "recorded_at": _when(r.created_at),
        }
        for r in runs
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from warden.interfaces.cli import tables

    table = [[r.feed, r.source, r.status, r.message, tables.when(r.created_at)] for r in runs]
    click.echo(
        tables.table(
            ["feed", "source", "status", "message", "recorded_at"],
            table,
            wrap=["source", "message"],
        )
    )
    click.echo(f"\n{len(rows)} failed runs")


@rejects.command("dismiss")
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every open reject (of --feed, if given).")
@click.option("--feed", help="With --all: only this feed's open rejects.")
@click.option("--reason", required=True, help="Why they are closed (kept with each reject).")
@click.option("--by", help="Who closes them (default: the user running warden).")
@config_option
@pass_ctx
@user_errors
def rejects_dismiss(
    ctx: Context, ids: tuple[int, ...], every: bool, feed: str | None, reason: str, by: str | None
) -> None:
    """Close open rejects without re-reading their source: IDs (from `warden rejects`), or
    --all. For input that will never be fixed, or a reject made by a mistaken `warden ingest`.
    Each keeps who closed it and why (`warden rejects --all`); a later read of the same input
    does not reopen it."""
    import getpass
    import logging

    from warden.core.errors import NotFound, UsageError
    from warden.store import feeds as feed_rows

    if bool(ids) == every:
        raise UsageError("give the IDs of the rejects to dismiss, or --all")
    if feed is not None and not every:
        raise UsageError("--feed goes with --all")
    if not reason.strip():
        raise UsageError("--reason: say why the rejects are closed")
    who = by or getpass.getuser()
    w = ctx.warden()
    try:
        with w.store.write() as conn:
            if ids:
                open_ids = {r.id for r in feed_rows.rejected(conn)}
                if missing := sorted(set(ids) - open_ids):
                    raise NotFound(
                        f"no open reject {', '.join(map(str, missing))} (`warden rejects` lists "
                        "the open ones, with their ids)"
                    )
            closed = feed_rows.dismiss(
                conn, list(ids) if ids else None, feed, who, reason, w.clock()
            )
    finally:
        w.close()
    for r in closed:
        logging.getLogger(__name__).info(
            "reject %d (%s: %s) dismissed by %s: %s", r.id, r.feed, r.source, who, reason
        )
        click.echo(f"dismissed reject {r.id}: {r.feed}: {r.source}: {r.reason}")
    click.echo(f"{len(closed)} rejects dismissed by {who}: {reason}")


@rejects.command("retry")
@click.option(
    "--feed", "only", help="Only this feed (default: every configured feed with open rejects)."
)
@config_option
@pass_ctx
@user_errors
def rejects_retry(ctx: Context, only: str | None) -> None:
    """Read the sources of open rejects again (after a fix) and resolve those that no longer
    fail. Exit 1 if any stay open, or if the sources read again give new rejects."""
    from warden.core.errors import UsageError
    from warden.store import feeds as feed_rows
    from warden.store.observations import reject_identity

    w = ctx.warden()
    try:
        with w.store.read() as conn:
            found = feed_rows.rejected(conn, only)
        by_feed: dict[str, list[feed_rows.RejectRow]] = {}
        for r in found:
            by_feed.setdefault(r.feed, []).append(r)
        if only is not None and only not in w.feeds:
            raise UsageError(
                f"--feed {only!r}: no such feed in the config ({', '.join(w.feeds) or 'none'})"
            )
        still_open = 0
        for fid, open_rejects in sorted(by_feed.items()):
            if fid not in w.feeds:
                click.echo(
                    f"{fid}: {len(open_rejects)} open rejects, but the config has no such feed "
                    "to re-read"
                )
                still_open += len(open_rejects)
                continue
            sources = {r.source for r in open_rejects}
            with w.store.write() as conn:
                feed_rows.forget(conn, fid, sources)
            w.feeds[fid].cursor.versions.clear()  # resume from the saved cursor, less `sources`
            w.note_catalog()
            result = w.run_feed(fid)
            again = {reject_identity(r) for r in result.rejections}
            # A run that failed may not have read them at all: nothing is resolved by it.
            fixed = [] if result.error else [r.id for r in open_rejects if r.identity not in again]
            with w.store.write() as conn:
                feed_rows.resolve(conn, fixed, w.clock())
            left = len(open_rejects) - len(fixed)
            known = {r.identity for r in open_rejects}
            new = len(again - known)  # the fixed input has faults of its own
            still_open += left + new
            click.echo(
                f"{fid}: re-read {len(sources)} sources: {len(fixed)} rejects resolved, "
                f"{left} still open"
                + (f", {new} new rejects" if new else "")
                + f"; {result.ingested} new observations"
                + (f"; the run failed: {result.error}" if result.error else "")
            )
    finally:
        w.close()
    sys.exit(1 if still_open else 0)


@click.command()
@click.argument("feed")
@click.option(
    "--from", "since", help="Only observations made on or after this date (UTC) or RFC 3339 time."
)
@config_option
@pass_ctx
@user_errors
def backfill(ctx: Context, feed: str, since: str | None) -> None:
    """Load FEED's whole history: every payload its source has, whatever the feed has read
    before, then evaluate. Already stored observations are not duplicated. Without --from, the
    feed's next runs skip what the backfill read. Prints new, already known, rejected, skipped
    (files the connector does not read, each with why) and not finished, and the failed
    evaluation runs. Exit 1 if anything new was rejected or the source failed (rejects recorded
    before, and failed runs, do not fail it)."""
    from warden.core.errors import UsageError
    from warden.ingest.connector import Cursor
    from warden.ingest.feedrun import run_feed
    from warden.interfaces.cli.progress import Progress, watch

    start = parse_time(since, "--from")
    w = ctx.warden(create=True)
    try:
        if feed not in w.feeds:
            raise UsageError(f"no feed {feed!r} in the config ({', '.join(w.feeds) or 'none'})")
        w.note_catalog()
        progress = Progress(f"backfilling {feed}")
        wrapped = watch(w.feeds[feed].connector, progress, start)
        # Everything, whatever the feed read before; its cursor is then saved for the feed's
        # next runs to skip what was read (not with --from: those left out were not stored).
        with progress:
            result = run_feed(
                w.store, feed, wrapped, Cursor(), w.clock, w.catalog.registry,
                persist=start is None, resume=False,
            )  # fmt: skip
        cycle = w.evaluate_touched(result.touched)
    finally:
        w.close()
    left = f", {wrapped.left_out} before {since} left out" if since else ""
    report(feed, result, len(cycle.transitions) if cycle else 0, left)
    sys.exit(1 if result.new_rejects or result.error else 0)


SKIPPED_SHOWN = 10  # files passed over that the report lists (all are counted)


def report(name: str, result: IngestResult, triggers: int, extra: str = "") -> None:
    """The end of an ingest or a backfill: one line of counts (new, already known, rejected,
    skipped, not finished, failed runs), then each reject, file skipped and failed run."""
    known = result.rejected - result.new_rejects
    rejected = f"{result.rejected} rejected" + (
        f" ({result.new_rejects} new, {known} recorded before)" if known else ""
    )
    runs = result.failed_runs
    click.echo(
        f"{name}: {result.ingested} new, {result.duplicates} already known, {rejected}, "
        f"{result.ignored} skipped, {result.skipped} not finished"
        + (f", {runs} failed run{'s' if runs != 1 else ''}" if runs else "")
        + f"{extra}; {triggers} triggers"
    )
    for r in result.rejections:
        where = ", ".join(
            p for p in (r.record and f"record {r.record}", r.field and f"field {r.field}") if p
        )
        click.echo(
            f"  rejected {r.source}{f' ({where})' if where else ''}: {r.reason}: {r.message}",
            err=True,
        )
    for i in result.ignored_files[:SKIPPED_SHOWN]:
        click.echo(f"  skipped {i.source}: {i.why}", err=True)
    if result.ignored > SKIPPED_SHOWN:
        click.echo(f"  ... and {result.ignored - SKIPPED_SHOWN} more files skipped", err=True)
    for r in result.run_failures:
        click.echo(
            f"  failed run {r.source}: {r.message} (recorded: `warden rejects --failed-runs`)",
            err=True,
        )
    if result.error:
        click.echo(f"  failed: {result.error}", err=True)


def register(main: click.Group) -> None:
    for command in (feeds, rejects, backfill):
        main.add_command(command)

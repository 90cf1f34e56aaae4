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


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@pass_ctx
@user_errors
def feeds(ctx: Context, as_json: bool) -> None:
    """Every feed: schedule, state, last success, observations and open rejects.

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
                "last_error": (row.last_error if row else None) or None,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from warden.interfaces.cli import views

    shown = [
        "feed",
        "connector",
        "schedule",
        "state",
        "last_success_at",
        "observations",
        "open_rejects",
    ]
    click.echo(
        views.table(
            shown,
            [
                [views.when(at) if k == "last_success_at" else r[k] for k in shown]
                for r, at in zip(rows, successes, strict=True)
            ],
            wrap=["schedule"],
            styles={"state": views.state_style},
        )
    )
    for r in rows:
        if r["last_error"]:
            click.echo(f"{r['feed']}: {r['last_error']}", err=True)


@click.group(invoke_without_command=True)
@click.option("--feed", help="Only this feed.")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved rejects.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@click.pass_context
@user_errors
def rejects(ctx: click.Context, feed: str | None, include_resolved: bool, as_json: bool) -> None:
    """Rejected input: file or URL, record (row, member, entry), field and reason.

    Rejects are open until `warden rejects retry` reads their source again and it no longer
    gives them (after the source or the connector was fixed)."""
    if ctx.invoked_subcommand is not None:
        return
    from warden.store import feeds as feed_rows

    w = ctx.ensure_object(Context).warden()
    try:
        with w.store.read() as conn:
            found = feed_rows.rejected(conn, feed, include_resolved)
    finally:
        w.close()
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
        }
        for r in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from warden.interfaces.cli import views

    shown = ["feed", "source", "record", "field", "reason", "message"]
    shown += ["resolved_at"] if include_resolved else []
    table = [
        [r.feed, r.source, r.record, r.field, r.reason, r.message, views.when(r.resolved_at)]
        for r in found
    ]
    click.echo(
        views.table(
            shown,
            [row[: len(shown)] for row in table],
            wrap=["source", "record", "field", "message"],
        )
    )
    click.echo(f"\n{len(rows)} {'rejects' if include_resolved else 'open rejects'}")


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
    feed's next runs skip what the backfill read. Exit 1 if anything was rejected or the source
    failed."""
    from warden.core.errors import UsageError
    from warden.ingest.connector import Cursor
    from warden.ingest.feedrun import run_feed
    from warden.interfaces.cli.progress import Progress, watch

    start = parse_time(since, "--from")
    w = ctx.warden()
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
    _report(feed, result, wrapped.left_out, since, len(cycle.transitions) if cycle else 0)
    sys.exit(1 if result.rejected or result.error else 0)


def _report(
    feed: str, result: IngestResult, left_out: int, since: str | None, triggers: int
) -> None:
    click.echo(
        f"{feed}: {result.ingested} new, {result.duplicates} already known, {result.rejected} "
        f"rejected, {result.skipped} not finished"
        + (f", {left_out} before {since} left out" if since else "")
        + f"; {triggers} triggers"
    )
    if result.error:
        click.echo(f"  failed: {result.error}", err=True)


def register(main: click.Group) -> None:
    for command in (feeds, rejects, backfill):
        main.add_command(command)

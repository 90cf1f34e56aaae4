"""What every `warden` command shares: the `--config` option, the context that loads settings
and builds a daemon, clean user errors, and times typed on the command line. Imports of warden's
stages stay inside functions so `warden --help` starts fast."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from warden.app.daemon import Warden
    from warden.app.settings import Settings
    from warden.store import Store

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Print warden's own errors as one clean message with their exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from warden.core.errors import WardenError

        try:
            return func(*args, **kwargs)
        except WardenError as exc:
            click.echo(f"warden: error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


class Context:
    def __init__(self, config: str | None = None) -> None:
        self.config = config

    def settings(self) -> Settings:
        from warden.app.settings import load_settings

        return load_settings(self.config)

    def warden(self, *, create: bool = False) -> Warden:
        """The wired parts on the configured store. Without `create` (every command but `run`,
        `ingest`, `backfill` and `db upgrade`) a missing SQLite store is an error (exit 2), not
        a new empty one."""
        from warden.app.daemon import Warden

        return Warden(self.settings(), create=create)

    def store(self) -> Store:
        """The configured store, which must exist, at the latest schema."""
        from warden.store import Store

        store = Store(self.settings().database_url, create=False)
        try:
            store.upgrade()
        except BaseException:
            store.dispose()
            raise
        return store


pass_ctx = click.make_pass_decorator(Context)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Context).config = value


def parse_time(text: str | None, option: str, end_of_day: bool = False) -> datetime | None:
    """An RFC 3339 time with an offset, or a date taken as UTC (its midnight, or with
    `end_of_day` its last microsecond), given on the command line; None for None."""
    from warden.core.errors import UsageError

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{option}: not a date or RFC 3339 time: {text!r}") from exc
    if value.tzinfo is None:
        if len(text) > 10:
            raise UsageError(f"{option}: give a time with an offset, or a date (taken as UTC)")
        value = value.replace(tzinfo=UTC)
        if end_of_day:
            value += timedelta(days=1, microseconds=-1)
    return value.astimezone(UTC)


CONFIG_HELP = "YAML config file (default: $WARDEN_CONFIG, else built-in defaults)."


def config_option(func: F) -> F:
    """`--config` accepted after the subcommand too (`warden run --config FILE`)."""
    return click.option(
        "--config",
        "-c",
        metavar="FILE",
        expose_value=False,
        is_eager=True,
        callback=_set_config,
        help=CONFIG_HELP,
    )(func)


def known_threshold(threshold: str | None, known: Iterable[str], option: str) -> None:
    """Refuse a threshold id typed on the command line that nothing knows (it would select
    nothing, silently), naming the nearest ids."""
    from warden.core.errors import NotFound
    from warden.core.suggest import did_you_mean

    ids = set(known)
    if threshold is not None and threshold not in ids:
        raise NotFound(
            f"{option} {threshold!r}: no such threshold in the catalog or the trigger log"
            f"{did_you_mean(threshold, ids)}"
        )


def store_threshold_ids(store: Store) -> set[str]:
    """The threshold ids the store has alerts or trigger-log entries of."""
    from warden.store import alerts

    with store.read() as conn:
        return alerts.threshold_ids(conn)

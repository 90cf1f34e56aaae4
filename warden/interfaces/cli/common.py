"""What every `warden` command shares: the `--config` option, the context that loads settings
and builds a daemon, clean user errors, and times typed on the command line. Imports of warden's
stages stay inside functions so `warden --help` starts fast."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from warden.app.daemon import Warden
    from warden.app.settings import Settings

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

    def warden(self) -> Warden:
        from warden.app.daemon import Warden

        return Warden(self.settings())


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

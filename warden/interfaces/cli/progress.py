"""Progress of long work, on stderr: `warden backfill`, `warden ingest` and `warden backtest`.

While stderr is a terminal, rich draws one live line: what is being done (`ingest` counts the
paths it was given: `(2/5)`), then payloads read, observations parsed, rejects, payloads per
second and the time elapsed (`backtest`, which has no payloads to count, shows its size and the
time elapsed). The line is cleared when the work ends; the command's own summary (stdout) says
what was done. Log lines written meanwhile (a reject's warning) are printed above the line.

When stderr is not a terminal (a pipe, a file, cron, CI, tests) nothing at all is written, so
scripts see only the command's output. NO_COLOR turns the colours off. rich is imported only
when the line is drawn.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import Task, TaskID

    from warden.core.model import Fetched, Observation, Payload, Rejection
    from warden.ingest.connector import Connector, Cursor


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced, or closed
        return False


class Progress:
    """A live progress line on stderr, while in a `with` block and stderr is a terminal (see
    the module's docstring); with `counts`, of payloads, observations and rejects."""

    def __init__(self, label: str, *, counts: bool = True) -> None:
        self.label = label
        self.counts = counts
        self.payloads = self.observations = self.rejected = 0
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._swapped: list[tuple[logging.StreamHandler[Any], Any]] = []

    def __enter__(self) -> Progress:
        if not stderr_is_terminal():
            return self
        from rich.progress import Progress as RichProgress
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        from warden.interfaces.cli.tables import console

        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
        if self.counts:
            columns += [
                TextColumn(
                    "{task.completed:,.0f} payloads, {task.fields[observations]:,} observations,"
                    " {task.fields[rejected]:,} rejected"
                ),
                _rate(),
            ]
        columns.append(TimeElapsedColumn())
        self._bar = RichProgress(
            *columns,
            console=console(stderr=True, force_terminal=True),
            transient=True,
            redirect_stdout=False,  # stdout is the command's, printed while paused or after
            redirect_stderr=True,  # warnings go above the line, not through it
        )
        self._task = self._bar.add_task(self.label, total=None, observations=0, rejected=0)
        self._show()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hide()
        self._bar = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The line cleared while the block prints (a result on stdout), then drawn again."""
        self._hide()
        try:
            yield
        finally:
            self._show()

    def _show(self) -> None:
        if self._bar is None:
            return
        stderr = sys.stderr
        self._bar.start()
        # Log handlers that hold stderr itself (not the proxy rich has put in sys.stderr)
        # write through the proxy while the line is drawn.
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and handler.stream in (
                stderr,
                sys.__stderr__,
            ):
                self._swapped.append((handler, handler.setStream(sys.stderr)))

    def _hide(self) -> None:
        for handler, stream in reversed(self._swapped):
            handler.setStream(stream)
        self._swapped.clear()
        if self._bar is not None:
            self._bar.stop()

    def describe(self, label: str) -> None:
        self.label = label
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=label)

    def advance(self, payloads: int = 0, observations: int = 0, rejected: int = 0) -> None:
        self.payloads += payloads
        self.observations += observations
        self.rejected += rejected
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task,
                advance=payloads,
                observations=self.observations,
                rejected=self.rejected,
            )


def _rate() -> Any:
    """A column of payloads read per second, once there is a rate to show."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.1f} payloads/s")

    return Rate()


COUNTED = 1000  # observations of a stream counted at a time


class Watched:
    """A connector that tells `progress` what passes through it, and, with `since`, leaves out
    the observations made before it (counted in `left_out`). Made by `watch`, under the name of
    the connector it wraps, so the feed's run records stay the connector's."""

    name: ClassVar[str] = "watched"

    def __init__(self, inner: Connector, progress: Progress, since: datetime | None = None) -> None:
        self.inner = inner
        self.progress = progress
        self.since = since
        self.left_out = 0

    def fetch(self, cursor: Cursor) -> Iterator[Fetched]:
        from warden.core.model import Payload, Rejection

        for item in self.inner.fetch(cursor):
            if isinstance(item, Payload):
                self.progress.advance(payloads=1)
            elif isinstance(item, Rejection):
                self.progress.advance(rejected=1)
            yield item

    def parse(self, payload: Payload) -> Iterable[Observation | Rejection]:
        from warden.core.errors import NotReady

        try:
            parsed = self.inner.parse(payload)
        except NotReady:
            raise
        except Exception:  # the feed run rejects the payload
            self.progress.advance(rejected=1)
            raise
        kept = self._kept(parsed)
        # A list stays a list; a stream stays a stream (ingest reads it a chunk at a time).
        return list(kept) if isinstance(parsed, Sequence) else kept

    def _kept(self, parsed: Iterable[Observation | Rejection]) -> Iterator[Observation | Rejection]:
        """`parsed` but the observations before `since`, counted as they pass (every `COUNTED`
        and at the end)."""
        from warden.core.errors import NotReady
        from warden.core.model import Rejection

        kept = refused = 0
        try:
            for o in parsed:
                if isinstance(o, Rejection):
                    refused += 1
                elif self.since is not None and o.observed_at < self.since:
                    self.left_out += 1
                    continue
                else:
                    kept += 1
                yield o
                if kept + refused >= COUNTED:
                    self.progress.advance(observations=kept, rejected=refused)
                    kept = refused = 0
        except NotReady:
            raise
        except Exception:  # the feed run rejects the payload
            self.progress.advance(rejected=1)
            raise
        self.progress.advance(observations=kept, rejected=refused)


def watch(connector: Connector, progress: Progress, since: datetime | None = None) -> Watched:
    kind = type("Watched", (Watched,), {"name": connector.name})
    watched: Watched = kind(connector, progress, since)
    return watched

"""How the CLI draws tables for people (the views of warden.interfaces.cli.views use them).

A table is drawn one of two ways, by where stdout goes:

- **A terminal** (stdout is a TTY): with rich, fitted to the terminal's width (COLUMNS, else
  its size), a rule under the header. Columns that name something (ids, states, times,
  counts) keep their whole width while free text (reasons, messages, sources, notes: the
  columns each table names in `wrap`) wraps inside its column, at spaces, else after one of
  BREAKS (`/ . _ - : , = & ?`). When that is not enough, long headers wrap, the gaps between
  columns shrink to one space, and only then are the naming columns folded too, the widest
  first, at the same separators: a value is split over lines, never cut (numbers, dates and
  times stay whole until the terminal is narrower still; see `layout`). Alert states, verdicts
  and feed states are coloured: firing and breached bold red, warning and silent yellow,
  pending cyan, nodata and unknown magenta, error bold magenta, resolved and ok green, inactive
  and never run dim. NO_COLOR set to anything but "" (https://no-color.org), or TERM=dumb,
  keeps the layout and drops every escape code.
- **Anything else** (a pipe, a file, a test): plain text, as before the terminal layout
  existed: a header row, a row of dashes, then one line per row, columns padded and separated
  by two spaces; no colour, no escape codes and no width limit. A pipe has no width, and any
  width chosen for it would either split a record over lines or cut it, breaking grep, sort,
  awk and cut: a record stays one line. Programs that want fields use --json or --csv.

Times in tables are UTC to the second, as one token: `2026-11-28T14:15:10Z` (RFC 3339, as
--from, --until and --at accept them; one word for awk). --json and --csv keep full ISO 8601.

Long lines of prose (`paragraph`: a list of ids, a summary) wrap at spaces on a terminal and
stay one line otherwise. Progress of long work is warden.interfaces.cli.progress. rich is
imported only to write to a terminal: `warden --help` and piped output never load it.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

Styler = Callable[[str], str | None]

GAP = 2  # spaces between columns, both layouts
MIN_FREE = 16  # free text is narrowed to this first
MIN_FREE_LAST = 8  # then to this, before any value that names something is folded
MIN_KEPT = 8  # which, as a last resort, is folded down to this
BREAKS = "/._-:,=&?"  # where a word without spaces may be split (ids, paths, URLs, lists)

STATE_STYLES = {
    "firing": "bold red",
    "breached": "bold red",
    "failing": "red",
    "warning": "yellow",
    "silent": "yellow",
    "pending": "cyan",
    "nodata": "magenta",
    "unknown": "magenta",
    "error": "bold magenta",
    "resolved": "green",
    "ok": "green",
    "inactive": "dim",
    "never": "dim",
}


def state_style(cell: str) -> str | None:
    """The style of a cell naming a state by its first word (`firing`, `failing (timeout),
    silent`, `never run`), or of a transition by the state reached (`pending -> firing`)."""
    _, arrow, reached = cell.partition(" -> ")
    words = (reached if arrow else cell).split(maxsplit=1)
    return STATE_STYLES.get(words[0]) if words else None


def when(at: datetime | None) -> str | None:
    """A time for a table: UTC, to the second, `2026-11-28T14:15:10Z`; None for None."""
    return None if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def no_color() -> bool:
    """NO_COLOR is set, to anything but the empty string (https://no-color.org)."""
    return os.environ.get("NO_COLOR", "") != ""


def console(**options: Any) -> Console:
    """A rich console that prints text as given (no markup, highlighting or emoji codes), with
    no colour or other escape codes at all under NO_COLOR."""
    from rich.console import Console

    if no_color():
        options["color_system"] = None
    return Console(markup=False, highlight=False, emoji=False, **options)


def terminal() -> Console | None:
    """A console for stdout when it is a terminal, else None: print plain."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced, or closed
        tty = False
    return console(force_terminal=True) if tty else None


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    wrap: Collection[str] = (),
    styles: Mapping[str, Styler] | None = None,
    out: Console | None = None,
) -> str:
    """`rows` under `headers`, to echo: fitted to the terminal when stdout is one (or drawn on
    `out`), with the columns named in `wrap` wrapping and those named in `styles` coloured by
    cell; else plain (see the module's docstring)."""
    target = out if out is not None else terminal()
    if target is None:
        return plain_table(headers, rows)
    return fitted_table(target, headers, rows, wrap=wrap, styles=styles or {})


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fitted_table(
    out: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    wrap: Collection[str] = (),
    styles: Mapping[str, Styler] | None = None,
) -> str:
    """The table drawn by `out`, within its width (see the module's docstring)."""
    from rich import box
    from rich.table import Table

    cells = [["" if c is None else str(c) for c in r] for r in rows]
    n = len(headers)
    free = [headers[i] in wrap for i in range(n)]
    widths, gap = layout(headers, cells, free, out.width)
    right = [
        bool(rows) and all(isinstance(r[i], int | float) or r[i] in (None, "") for r in rows)
        for i in range(n)
    ]
    grid = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, gap - 1, 0, 0),
        header_style="",  # bold on the words only, not the padding after them
    )
    for i, head in enumerate(headers):
        grid.add_column(
            _styled(wrap_cell(head, widths[i], words=True), "bold"),
            width=widths[i],
            overflow="fold",  # a safety net: the cells are wrapped to the width already
            justify="right" if right[i] else "left",
        )
    stylers = styles or {}
    for r in cells:
        shown = []
        for i, cell in enumerate(r):
            styler = stylers.get(headers[i])
            text = wrap_cell(cell, widths[i], words=free[i])
            shown.append(_styled(text, styler(cell) if styler else None))
        grid.add_row(*shown)
    with out.capture() as captured:
        out.print(grid)
    return "\n".join(line.rstrip() for line in captured.get().rstrip("\n").split("\n"))


def _styled(text: str, style: str | None) -> Text:
    """rich Text with `style` on its characters only (the padding after them stays plain, so
    lines end in no styled spaces)."""
    from rich.text import Text

    out = Text(text)
    if style:
        out.stylize(style)
    return out


# Values kept whole until the very last resort: numbers, dates, times, "90 d", "3 s".
ATOMIC = re.compile(r"(?=\S*\d)[-+\d.,:TZe]+( [a-zA-Z]{1,4})?")


def layout(
    headers: Sequence[str], cells: Sequence[Sequence[str]], free: Sequence[bool], width: int
) -> tuple[list[int], int]:
    """Column widths and the gap between columns for `cells` under `headers` on a terminal
    `width` wide; `free` tells the free-text columns. The first of these that fits:

    1. free text narrowed to MIN_FREE, headers wider than their values to their longest piece
       (split at spaces and after BREAKS: `open_` `rejects`); gaps of two spaces;
    2. the same with gaps of one space;
    3. free text narrowed on to MIN_FREE_LAST;
    4. from 2, free text and the values that name something narrowed together, the widest
       first (so ids are folded, never cut, to MIN_KEPT), numbers, dates and times kept whole;
    5. on a terminal narrower still, every column, down to MIN_KEPT // 2.
    """
    n = len(headers)
    content = [max((_longest_line(r[i]) for r in cells), default=0) for i in range(n)]
    natural = [max(content[i], len(headers[i])) for i in range(n)]
    label = [max([0, *map(len, re.split(rf"\s+|(?<=[{re.escape(BREAKS)}])", h))]) for h in headers]
    texts = [i for i in range(n) if free[i]]
    kept = [i for i in range(n) if not free[i]]

    def room(gap: int) -> int:
        return width - gap * (n - 1)

    base = fit(
        natural,
        [(texts, [MIN_FREE] * len(texts)), (kept, [max(content[i], label[i]) for i in kept])],
        room(GAP),
    )
    if sum(base) <= room(GAP):
        return base, GAP
    if sum(base) <= room(1):
        return base, 1
    narrow = fit(base, [(texts, [MIN_FREE_LAST] * len(texts))], room(1))
    if sum(narrow) <= room(1):
        return narrow, 1
    atomic = [all(ATOMIC.fullmatch(r[i]) or not r[i] for r in cells) for i in range(n)]
    foldable = [i for i in range(n) if free[i] or not atomic[i]]
    floors = [
        MIN_FREE_LAST if free[i] else max(min(content[i], MIN_KEPT), label[i]) for i in foldable
    ]
    everything = (list(range(n)), [MIN_KEPT // 2] * n)
    return fit(base, [(foldable, floors), everything], room(1)), 1


def fit(
    natural: Sequence[int], stages: Sequence[tuple[list[int], list[int]]], room: int
) -> list[int]:
    """Column widths within `room`: from the `natural` ones, each stage narrows its columns
    (indices, with their floors), the widest first, until the whole fits or they reach their
    floors; later stages only if the earlier ones were not enough. No column is widened."""
    widths = list(natural)
    for columns, floors in stages:
        excess = sum(widths) - room
        if excess > 0:
            floor = {i: min(f, widths[i]) for i, f in zip(columns, floors, strict=True)}
            widths = _narrow(widths, floor, excess)
    return widths


def _narrow(widths: list[int], floor: dict[int, int], excess: int) -> list[int]:
    """Lower a cap on the columns in `floor` (not below their floors) until `excess` is cut."""

    def cut(cap: int) -> int:
        return sum(widths[i] - max(floor[i], min(widths[i], cap)) for i in floor)

    cap = max((widths[i] for i in floor), default=0)
    while cap > 0 and cut(cap) < excess:
        cap -= 1
    slack = cut(cap) - excess  # the last step may cut a little too much: give it back
    out = list(widths)
    for i in floor:
        out[i] = max(floor[i], min(widths[i], cap))
        if slack > 0 and out[i] < widths[i]:
            out[i] += 1
            slack -= 1
    return out


def wrap_cell(text: str, width: int, words: bool) -> str:
    """`text` in lines of at most `width`: with `words`, wrapped at spaces; a word too long is
    split after one of BREAKS where it can be, else at the width."""
    lines: list[str] = []
    for line in text.split("\n"):
        pieces = (
            textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False) or [""]
            if words
            else [line]
        )
        for piece in pieces:
            lines.extend(_fold(piece, width))
    return "\n".join(lines)


def _fold(word: str, width: int) -> list[str]:
    out = []
    while len(word) > width > 0:
        at = max((j + 1 for j in range(1, width) if word[j] in BREAKS), default=width)
        out.append(word[:at])
        word = word[at:]
    return [*out, word]


def _longest_line(text: str) -> int:
    from rich.cells import cell_len

    return max(cell_len(line) for line in text.split("\n"))


def paragraph(text: str, indent: str = "  ") -> str:
    """A long line of prose: wrapped at spaces to the terminal's width (later lines indented),
    when stdout is one; else as it is."""
    out = terminal()
    if out is None:
        return text
    return textwrap.fill(
        text,
        out.width,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )

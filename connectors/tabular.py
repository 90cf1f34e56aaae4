"""Reading CSV tables whose columns drift between downloads (Epoch AI's data files).

Columns are found by header name, never by position: each column the connector reads has a list
of known alternative names, matched ignoring case and runs of whitespace, so renamed, added,
removed and reordered columns are all handled. A required column that is missing makes the whole
payload a `ParseError` naming the column and listing the headers found; a bad cell is the
problem of its row only (the connector turns it into a per-record rejection).

Rows are read with `csv.reader` in strict mode (quoted multi-line cells, as in Epoch's
`Training compute notes`, are one row), one at a time. A row's `record` is its number as a
spreadsheet shows it: the header is row 1, the first data row is row 2. Cells over `csv`'s field
limit (128 KiB) make the payload malformed. A file cut inside a quoted cell, or whose last line
is short and unterminated, is `truncated`; a short or long row elsewhere is rejected alone.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from warden.core.errors import ParseError
from warden.core.model import Payload

MAX_ID = 200  # the store's width for subject, benchmark and metric ids
MAX_SHOWN = 80  # characters of a bad cell quoted in a message
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Cells that say "no value" in an optional numeric column.
NOT_AVAILABLE = frozenset({"", "n/a", "na", "none", "null", "-"})


def fold(header: str) -> str:
    """A header as compared: case and runs of whitespace (a BOM, a newline) ignored."""
    return " ".join(header.replace("\ufeff", " ").split()).casefold()


def decode(payload: Payload) -> str:
    """The payload's text, or ParseError when it is not a CSV file at all."""
    content = payload.content
    head = content[:512].lstrip()
    if not head:
        raise ParseError(
            "malformed", "the file is empty: expected a CSV table", source=payload.source
        )
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise ParseError(
            "malformed",
            "a zip archive, not a CSV file (point the feed at the unpacked folder or let the "
            "source expand the archive)",
            source=payload.source,
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            "malformed", f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=payload.source
        ) from exc
    if text.lstrip().startswith("<"):
        raise ParseError("malformed", "an HTML or XML page, not a CSV table", source=payload.source)
    return text


@dataclass(frozen=True)
class Col:
    """A column found in the header: its position and its name as the file spells it."""

    index: int
    header: str


class Table:
    """A CSV table: the header, column lookup by name, and its rows one at a time."""

    def __init__(self, payload: Payload) -> None:
        self.source = payload.source
        self._text = decode(payload)
        self._reader = csv.reader(io.StringIO(self._text, newline=""), strict=True)
        try:
            header = next(self._reader)
        except StopIteration:  # a byte-order mark and nothing else
            raise ParseError(
                "malformed", "the file is empty: expected a CSV table", source=self.source
            ) from None
        except csv.Error as exc:
            raise ParseError(
                "malformed", f"unreadable header row: {exc}", source=self.source
            ) from exc
        self.header = [h.replace("\ufeff", "").strip() for h in header]
        self._where: dict[str, list[int]] = {}
        for i, name in enumerate(self.header):
            self._where.setdefault(fold(name), []).append(i)

    def find(self, alternatives: Sequence[str]) -> Col | None:
        """The first of `alternatives` present in the header. A name present twice is ambiguous:
        the payload is malformed."""
        for name in alternatives:
            places = self._where.get(fold(name))
            if not places:
                continue
            if len(places) > 1:
                raise ParseError(
                    "malformed",
                    f"column {self.header[places[0]]!r} appears {len(places)} times in the header",
                    source=self.source,
                    field=self.header[places[0]],
                )
            return Col(places[0], self.header[places[0]])
        return None

    def require(self, alternatives: Sequence[str], what: str) -> Col:
        col = self.find(alternatives)
        if col is None:
            raise ParseError(
                "missing_field",
                f"no {what} column: expected one of {list(alternatives)}; the header has "
                f"{shown_header(self.header)}",
                source=self.source,
                field=alternatives[0],
            )
        return col

    def rows(self) -> Iterator[Row]:
        """The data rows, blank lines skipped. A row with too few or too many cells comes back
        `ragged` (rejected alone), except a short last row without a line end: the file was cut
        short, so the payload is `truncated`."""
        width = len(self.header)
        number, held = 1, None
        while True:
            try:
                cells = next(self._reader)
            except StopIteration:
                break
            except csv.Error as exc:
                reason = "truncated" if "unexpected end of data" in str(exc) else "malformed"
                raise ParseError(
                    reason, f"unreadable CSV: {exc}", source=self.source, record=str(number + 1)
                ) from exc
            number += 1
            if not cells:
                continue
            if held is not None:
                yield held
            held = Row(self.source, number, cells, width)
        if held is None:
            return
        if len(held.cells) < width and not self._text.endswith(("\n", "\r")):
            raise ParseError(
                "truncated",
                f"the last row has {len(held.cells)} of {width} cells and no line end: the file "
                "was cut short",
                source=self.source,
                record=held.record,
            )
        yield held


def shown_header(header: list[str]) -> str:
    """The header as a reject message may quote it: only when it looks like a CSV header (two
    or more short names of printable characters, none an assignment such as `TOKEN=...`).
    Anything else is a file that is not a CSV table (a link to /proc/self/environ, a config
    file): its first line may hold a secret, and it is never quoted."""
    if not looks_like_header(header):
        return f"a first line of {len(header)} cell(s) that is not a CSV header (not shown)"
    shown = [h[:MAX_SHOWN] for h in header[:40]]
    more = f" and {len(header) - 40} more" if len(header) > 40 else ""
    return f"{shown}{more}"


def looks_like_header(header: list[str]) -> bool:
    return len(header) >= 2 and all(
        len(h) <= 200 and h.isprintable() and "=" not in h and ": " not in h for h in header
    )


class Row:
    """One data row; each reader raises ParseError (with this row as the record) on a bad
    cell, for the connector to turn into a per-record rejection."""

    __slots__ = ("cells", "position", "ragged", "source")

    def __init__(self, source: str, number: int, cells: list[str], width: int) -> None:
        self.source = source
        self.position = number  # the row's number, header = 1
        self.cells = cells
        self.ragged = len(cells) != width

    @property
    def record(self) -> str:
        return str(self.position)

    def error(self, reason: str, message: str, col: Col | None = None) -> ParseError:
        return ParseError(
            reason,
            message,
            source=self.source,
            record=self.record,
            field=col.header if col else None,
        )

    def check_width(self, width: int) -> None:
        if self.ragged:
            raise self.error(
                "malformed", f"the row has {len(self.cells)} cells, the header has {width}"
            )

    def text(self, col: Col | None) -> str | None:
        """The cell stripped, or None when the column is absent or the cell empty."""
        if col is None:
            return None
        cell = self.cells[col.index].strip()
        return cell or None

    def ident(self, col: Col, what: str) -> str:
        """A required id (a model name): 1 to MAX_ID printable characters after stripping
        (Epoch's `Model` can carry a trailing newline)."""
        cell = self.text(col)
        if cell is None:
            raise self.error("missing_field", f"the {what} is empty", col)
        if len(cell) > MAX_ID or not cell.isprintable():
            raise self.error(
                "invalid_value",
                f"{cell!r:.{MAX_SHOWN}} is not a {what} id (1 to {MAX_ID} printable characters)",
                col,
            )
        return cell

    def number(self, col: Col | None, what: str, *, nan_is_none: bool = False) -> float | None:
        """An optional decimal number (None when absent, empty or `N/A`). NaN, infinities and
        numbers too large for a float are refused, except NaN with `nan_is_none` (a standard
        error that could not be computed)."""
        cell = self.text(col)
        if cell is None or cell.casefold() in NOT_AVAILABLE:
            return None
        if nan_is_none and cell.casefold() == "nan":
            return None
        # float() also takes "1_000", "infinity" and non-ASCII digits: refuse those first.
        try:
            if "_" in cell or not cell.isascii():
                raise ValueError(cell)
            value = float(cell)
        except ValueError:
            raise self.error(
                "invalid_value", f"{what} {cell!r:.{MAX_SHOWN}} is not a decimal number", col
            ) from None
        if not math.isfinite(value):
            why = "NaN, not a number" if math.isnan(value) else "out of range"
            raise self.error("invalid_value", f"{what} {cell!r:.{MAX_SHOWN}} is {why}", col)
        return value

    def required_number(self, col: Col, what: str) -> float:
        value = self.number(col, what)
        if value is None:
            raise self.error("missing_field", f"the {what} is empty", col)
        return value

    def day(self, col: Col | None, what: str) -> date | None:
        """An optional calendar date, `YYYY-MM-DD` (an ISO time is cut to its date)."""
        cell = self.text(col)
        if cell is None:
            return None
        if _DATE.fullmatch(cell):
            try:
                return date.fromisoformat(cell)
            except ValueError:
                pass
        else:
            try:
                return datetime.fromisoformat(cell).date()
            except ValueError:
                pass
        raise self.error(
            "invalid_value", f"{what} {cell!r:.{MAX_SHOWN}} is not a YYYY-MM-DD date", col
        )

    def instant(self, col: Col | None, what: str) -> tuple[datetime, bool] | None:
        """An optional ISO 8601 time as aware UTC, and whether UTC was assumed (a time written
        without an offset). A bare date is midnight UTC (not an assumption: it has no time)."""
        cell = self.text(col)
        if cell is None:
            return None
        try:
            when = datetime.fromisoformat(cell)
        except ValueError:
            raise self.error(
                "invalid_value", f"{what} {cell!r:.{MAX_SHOWN}} is not an ISO 8601 time", col
            ) from None
        if when.tzinfo is None or when.utcoffset() is None:
            return when.replace(tzinfo=UTC), not _DATE.fullmatch(cell)
        try:
            return when.astimezone(UTC), False
        except OverflowError:
            raise self.error(
                "invalid_value", f"{what} {cell!r:.{MAX_SHOWN}} is out of range in UTC", col
            ) from None


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)

"""Large JSON documents read as a stream: an Inspect `.json` log without its per-sample arrays
(`JsonLog`), and the elements of a top-level list one at a time (`JsonArray`, the
`observations_json` connector's batches).

An Inspect `.json` log is one JSON object holding the whole run, samples included: hundreds of
MB for a large run, of which the connector needs only the small rest (`eval`, `results`,
`stats`, ...: what a `.eval` log's `header.json` holds). `JsonLog(fp, ...).header()` reads the
file a chunk at a time and decodes one top-level value at a time; the per-sample arrays
(`samples`, `reductions`, and any other top-level array but the small ones in SMALL_ARRAYS) are
decoded one element at a time and dropped, so bad JSON anywhere in the file is still found
(ParseError `malformed`, naming the character, the key and the element), while memory stays
about one element plus what is kept. The kept rest is returned as a JSON document.
`JsonArray(fp, ...).items()` yields the elements of a top-level list the same way (a window of
about one element), raising ParseError where bad JSON is reached.

Why not ijson: its C backend (yajl) and its pure-Python one both refuse the bare `NaN`,
`Infinity` and `-Infinity` that Python's `json` writes for a non-finite float (a NaN score or
stderr in a log), so a valid log would be refused. Every value is therefore decoded by the
stdlib decoder (`json.JSONDecoder.raw_decode`), which reads them as `json.loads` does.

Limits: the file size (`limit`, checked before and while reading: ParseError `too_large`), and
what is kept (`keep_limit`). A file that ends inside the document is `truncated` ("the file ends
too soon"), as a cut CSV, zip or gzip is; other bad JSON is `malformed`. A repeated top-level
key: the last value counts, as in `json.loads`.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from connectors.documents import MAX_ID
from warden.core.errors import ParseError

# Top-level arrays of a `.json` log that are kept; every other top-level array (`samples`,
# `reductions`, and any per-sample array a later version adds) is streamed and dropped.
SMALL_ARRAYS = frozenset({"tags", "log_updates", "config_updates"})
BULKY = frozenset({"samples", "reductions"})  # dropped whatever their type
_SPACE = re.compile(r"[ \t\n\r]*")
_CUT_TOKEN = re.compile(r"[\w.+-]*[ \t\n\r]*")  # what may be left of a value cut short
_CHUNK = 2**20
_NEAR_END = 16  # an error this close to the end of the window may only be a value cut short


class JsonStream:
    """A JSON document read from `fp` a chunk at a time: every value is decoded by the stdlib
    decoder (so NaN and Infinity are read as `json.loads` reads them), one at a time, from a
    window holding little more than that value. At most `limit` bytes are read."""

    def __init__(self, fp: BinaryIO, source: str, limit: int) -> None:
        self.fp, self.source, self.limit = fp, source, limit
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.json = json.JSONDecoder()
        self.window, self.pos, self.dropped, self.read_bytes, self.eof = "", 0, 0, 0, False
        self.where = ""  # the top-level key whose value is being read, and the element

    def _next(self, close: str) -> bool:
        """After a member of an object or array: True past a comma (another member follows),
        False past `close` (the end)."""
        if self._peek() == ",":
            self.pos += 1
            return True
        self._expect(close)
        return False

    def _value(self, limit: int) -> Any:
        """The JSON value at the cursor; its text may be at most `limit` characters."""
        self._peek()
        while True:
            try:
                value, end = self.json.raw_decode(self.window, self.pos)
            except json.JSONDecodeError as exc:
                cut_short = exc.msg.startswith("Unterminated string") or (
                    exc.pos >= len(self.window) - _NEAR_END
                )
                if not cut_short or not self._more(limit):
                    raise self._error(exc.msg, exc.pos) from exc
                continue
            except RecursionError as exc:
                raise self._error("nested too deeply") from exc
            except ValueError as exc:  # an integer of over 4300 digits
                raise self._error(str(exc)) from exc
            if end > len(self.window) - _NEAR_END and self._more(limit):
                continue  # a number at the end of the window may go on: `1` of `1.5e-3`
            self.pos = end
            return value

    def _peek(self) -> str:
        """The next character that is not white space ('' at the end), the cursor moved to it."""
        while True:
            match = _SPACE.match(self.window, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.window):
                return self.window[self.pos]
            if not self._more(self.limit):
                return ""

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._error(f"expected {char!r}")
        self.pos += 1

    def _more(self, limit: int) -> bool:
        """Read on, at least doubling what the window holds from the cursor; False at the end
        of the file. Refuses a value (from the cursor) of over `limit` characters."""
        pending = len(self.window) - self.pos
        if self.eof:
            return False
        if pending > limit:
            raise self._too_large(f"the value of {self.where!r}" if self.where else "a key", limit)
        data = self.fp.read(max(_CHUNK, pending))
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            raise self._too_large("the file", self.limit)
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            at = self.read_bytes - len(data) + exc.start
            message = f"not UTF-8 text: {exc.reason} at byte {at}"
            cut = not data  # the file ends inside a character
            raise ParseError(
                "truncated" if cut else "malformed", message, source=self.source
            ) from exc
        self.dropped += self.pos
        self.window, self.pos, self.eof = self.window[self.pos :] + text, 0, not data
        return True

    def _too_large(self, what: str, limit: int) -> ParseError:
        return ParseError("too_large", f"{what} is over the {limit}-byte limit", source=self.source)

    def _error(self, what: str, at: int | None = None, *, complete: bool = False) -> ParseError:
        """Bad JSON at `at` (a position in the window; default the cursor); `complete` when the
        document has ended (what follows it cannot be a cut)."""
        at = self.pos if at is None else at
        # At the end of the file, or in a literal or number it cuts short (`fa`, `1.`).
        ended = (not complete and self.eof) and (
            what.startswith("Unterminated") or _CUT_TOKEN.fullmatch(self.window, at) is not None
        )
        where = f"in {self.where!r}, " if self.where else ""
        cut = "the file ends too soon (truncated?): " if ended else ""
        message = f"invalid JSON at character {self.dropped + at}, {where}{cut}{what}"
        return ParseError("truncated" if ended else "malformed", message, source=self.source)


class JsonLog(JsonStream):
    """The top-level object of a `.json` log: each element of the per-sample arrays is decoded
    and dropped, so bad JSON anywhere is found, but only the small rest of the document is ever
    held (at most `keep_limit` characters of it)."""

    def __init__(self, fp: BinaryIO, source: str, limit: int, keep_limit: int) -> None:
        super().__init__(fp, source, limit)
        self.keep_limit = keep_limit

    def header(self) -> bytes:
        """The log without its per-sample arrays, as a JSON document."""
        size = self.fp.seek(0, io.SEEK_END)
        self.fp.seek(0)
        if size > self.limit:
            raise self._too_large("the file", self.limit)
        first = self._peek()
        if first != "{":
            what = "top level is not a JSON object" if first else "the file is empty"
            raise ParseError("malformed", what, source=self.source)
        self.pos += 1
        kept: dict[str, Any] = {}
        kept_chars = 0
        more = self._peek() != "}"
        self.pos += not more
        while more:
            if self._peek() != '"':
                raise self._error("expected a key (a string in double quotes)")
            key = self._value(MAX_ID * 4)
            self._expect(":")
            self.where = f"{key:.80}"
            if key in BULKY or (self._peek() == "[" and key not in SMALL_ARRAYS):
                self._drop()
                kept.pop(key, None)  # a repeated key: the last value counts, as in json.loads
            else:
                start = self.dropped + self.pos
                kept[key] = self._value(max(self.keep_limit - kept_chars, 0))
                kept_chars += self.dropped + self.pos - start
                if kept_chars > self.keep_limit:
                    raise self._too_large("the log without its samples", self.keep_limit)
            self.where = ""
            more = self._next("}")
        if self._peek():
            raise self._error("extra data after the JSON document", complete=True)
        return json.dumps(kept).encode()

    def _drop(self) -> None:
        """Decode the value at the cursor and forget it; an array one element at a time."""
        if self._peek() != "[":
            self._value(self.limit)
            return
        self.pos += 1
        more, i, what = self._peek() != "]", 0, self.where
        self.pos += not more
        while more:
            self.where = f"{what}[{i}]"
            self._value(self.limit)
            more, i = self._next("]"), i + 1
        self.where = what


class JsonArray(JsonStream):
    """A document whose top level is a JSON array, read one element at a time (`items`)."""

    def items(self) -> Iterator[Any]:
        """Each element of the array in turn, decoded; ParseError for bad JSON anywhere in the
        document (also after the last element: `extra data`), raised where it is reached, after
        the elements before it. The window holds little more than one element."""
        if self._peek() != "[":
            raise self._error("expected a JSON list")
        self.pos += 1
        more, i = self._peek() != "]", 0
        self.pos += not more
        while more:
            self.where = f"[{i}]"
            yield self._value(self.limit)
            more, i = self._next("]"), i + 1
        self.where = ""
        if self._peek():
            raise self._error("extra data after the JSON document", complete=True)

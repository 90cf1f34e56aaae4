"""Inspect AI logs: a folder of `.eval` (zip) and `.json` logs.

One observation per (scorer, score name, reducer, metric) in `results.scores`, with the stderr
from the sibling `stderr` metric when present. The metric id is `scorer[/name][/reducer]/metric`;
a lone `mean` reducer is left out of it, because it is Inspect's default and some versions name it
while others do not (0.3.200 writes `includes/mean/accuracy` for a one-epoch run, 0.3.285
`includes/accuracy`). From `.eval` files only `header.json` is read, never the samples. A `.json`
log is one document holding the samples too (hundreds of MB for a large run): it is streamed, its
per-sample arrays (`samples`, `reductions`) checked for valid JSON one element at a time and
dropped, and the rest becomes the payload, as small as a `header.json` (see `_JsonLog`). Logs
still running are skipped until they finish; `error` and `cancelled` logs are rejected with their
reason. Field facts: shared/samples/FORMATS.md section 1.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, BinaryIO, ClassVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from connectors.archive import member_names, read_member
from connectors.source import payloads
from warden.connector import Cursor, content_key, load_json, options
from warden.errors import NotReady, ParseError
from warden.model import Observation, Payload, Pending, Rejection

HEADER = "header.json"
JOURNAL_START = "_journal/start.json"
STDERR_METRICS = ("stderr", "bootstrap_stderr")
SUFFIXES = (".eval", ".json")
# Inspect keeps checkpoints next to the logs in `<log>.checkpoints/`; they are not logs.
IGNORED_DIRS = (".checkpoints",)
MAX_ID = 200  # the store's width for subject, benchmark and metric ids
MAX_COUNT = 2**31 - 1  # the store's sample count is a 32-bit integer
# Top-level arrays of a `.json` log that are kept; every other top-level array (`samples`,
# `reductions`, and any per-sample array a later version adds) is streamed and dropped.
SMALL_ARRAYS = frozenset({"tags", "log_updates", "config_updates"})
BULKY = frozenset({"samples", "reductions"})  # dropped whatever their type


def _text(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A log file or folder, or an http(s) URL; `path` is the older name.
    source: Annotated[
        str,
        BeforeValidator(_text),
        Field(min_length=1, validation_alias=AliasChoices("source", "path")),
    ]
    # The largest `header.json` of a `.eval`, and of what a `.json` log keeps (all but samples).
    max_header_bytes: int = Field(16 * 2**20, gt=0)
    # The largest `.json` log read: it is streamed (memory stays small), but every byte is parsed.
    max_json_bytes: int = Field(2**30, gt=0)


class InspectLogs:
    name: ClassVar[str] = "inspect_logs"

    def __init__(self, raw_options: Mapping[str, Any], where: str = "inspect_logs") -> None:
        self.options = options(Options, raw_options, where)

    # -- fetch: I/O ---------------------------------------------------------------------------
    def fetch(self, cursor: Cursor) -> Iterator[Payload | Rejection | Pending]:
        return payloads(
            self.options.source, SUFFIXES, cursor, self._read, "Inspect logs", IGNORED_DIRS
        )

    def _read(self, fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        if not source.endswith(".eval"):
            log = _JsonLog(fp, source, self.options.max_json_bytes, self.options.max_header_bytes)
            return log.header(), None
        members = member_names(fp, source)
        if HEADER not in members:
            if JOURNAL_START in members:
                raise NotReady(source, "run in progress (no header.json yet)")
            raise ParseError(
                "malformed", "zip has no header.json: not an Inspect log", source=source
            )
        return read_member(fp, members[HEADER], self.options.max_header_bytes, source), HEADER

    # -- parse: pure --------------------------------------------------------------------------
    def parse(self, payload: Payload) -> list[Observation]:
        return parse_log(payload)


@dataclass(frozen=True)
class _Run:
    """What every observation of one log shares."""

    payload: Payload
    model: str
    task: str
    observed_at: datetime
    eval_id: str
    samples: int | None  # samples scored, for logs whose scores do not say
    headline: dict[str, Any] | None
    attributes: dict[str, Any]


def parse_log(payload: Payload) -> list[Observation]:
    """Observations from one Inspect log document (a `header.json` or a `.json` log)."""
    src = payload.source
    doc = load_json(payload)
    if not isinstance(doc, dict):
        raise ParseError("malformed", "top level is not a JSON object", source=src)
    status = _get(doc, src, "status", str)
    if status == "started":
        raise NotReady(src, "run in progress (status 'started')")
    if status == "error":
        message = _first_line(_obj(doc, "error").get("message")) or "no message"
        raise ParseError(
            "run_error", f"the run ended in error: {message}", source=src, field="status"
        )
    if status == "cancelled":
        raise ParseError("run_cancelled", "the run was cancelled", source=src, field="status")
    if status != "success":
        raise ParseError(
            "invalid_value", f"unknown status {status!r:.80}", source=src, field="status"
        )
    if doc.get("invalidated") is True:
        raise ParseError(
            "invalidated", "the log is marked invalidated", source=src, field="invalidated"
        )
    ev = _get(doc, src, "eval", dict)
    eval_id = _get(ev, src, "eval.eval_id", str, "eval_id")
    model = _ident(_get(ev, src, "eval.model", str, "model"), src, "eval.model")
    task = _ident(_get(ev, src, "eval.task", str, "task"), src, "eval.task")
    completed_at = _obj(doc, "stats").get("completed_at")
    if completed_at:
        observed_at = _time(completed_at, src, "stats.completed_at")
    else:
        observed_at = _time(_get(ev, src, "eval.created", str, "created"), src, "eval.created")
    results = _get(doc, src, "results", dict)
    scores = _get(results, src, "results.scores", list, "scores")
    headline = results.get("headline") if isinstance(results.get("headline"), dict) else None
    config = _obj(ev, "config")
    run = _Run(
        payload=payload,
        model=model,
        task=task,
        observed_at=observed_at,
        eval_id=eval_id,
        samples=_samples(results.get("completed_samples"), config.get("epochs")),
        headline=headline,
        attributes={
            "eval_id": eval_id,
            "run_id": _scalar(ev.get("run_id")),
            "task_version": _scalar(ev.get("task_version")),
            "inspect_version": _scalar(_obj(ev, "packages").get("inspect_ai")),
            "epochs": _count(config.get("epochs")),
            "partial": config.get("limit") is not None,
            "total_samples": _count(results.get("total_samples")),
            "completed_samples": _count(results.get("completed_samples")),
        },
    )
    named = [_names(score, i, src) for i, score in enumerate(scores)]
    entries = Counter((scorer, name) for scorer, name, _ in named)
    out: list[Observation] = []
    for i, (score, (scorer, name, reducer)) in enumerate(zip(scores, named, strict=True)):
        shown = reducer
        if reducer == "mean" and entries[(scorer, name)] == 1:
            shown = None  # the default reducer: same series whether a version names it or not
        record = "/".join(p for p in (scorer, name if name != scorer else None, shown) if p)
        out.extend(_score(score, i, run, scorer, name, reducer, record))
    if not out:
        raise ParseError(
            "missing_field", "results hold no metric", source=src, field="results.scores"
        )
    return out


def _names(score: Any, i: int, src: str) -> tuple[str, str, str | None]:
    """(scorer, score name, reducer) of `results.scores[i]`."""
    path = f"results.scores[{i}]"
    if not isinstance(score, dict):
        raise ParseError("malformed", "score is not an object", source=src, field=path)
    name = _ident(_get(score, src, f"{path}.name", str, "name"), src, f"{path}.name")
    scorer = score.get("scorer")
    scorer = _ident(scorer, src, f"{path}.scorer") if isinstance(scorer, str) else name
    reducer = score.get("reducer")
    reducer = _ident(reducer, src, f"{path}.reducer") if isinstance(reducer, str) else None
    return scorer, name, reducer


def _score(
    score: dict[str, Any],
    i: int,
    run: _Run,
    scorer: str,
    name: str,
    reducer: str | None,
    record: str,
) -> list[Observation]:
    src = run.payload.source
    path = f"results.scores[{i}]"
    metrics = _get(score, src, f"{path}.metrics", dict, "metrics")
    n = _count(score["scored_samples"]) if "scored_samples" in score else run.samples
    stderr = None
    for sname in STDERR_METRICS:
        if sname in metrics:
            stderr = _stderr(metrics[sname], src, record, f"{path}.metrics.{sname}.value")
            break
    headline = run.headline
    is_headline = (
        headline is not None
        and headline.get("score", headline.get("scorer")) == name
        and headline.get("reducer") == reducer
    )
    out = []
    for metric_name, metric in metrics.items():
        if metric_name in STDERR_METRICS:
            continue
        _ident(metric_name, src, f"{path}.metrics", record)
        field = f"{path}.metrics.{metric_name}.value"
        value = _number(metric, src, record, field)
        if not math.isfinite(value):
            raise ParseError(
                "invalid_value",
                f"value {value!r} is not a finite number",
                source=src,
                record=record,
                field=field,
            )
        metric_id = _ident(f"{record}/{metric_name}", src, field, record)
        out.append(
            Observation(
                subject=run.model,
                benchmark=run.task,
                metric=metric_id,
                value=value,
                observed_at=run.observed_at,
                key=content_key(run.eval_id, scorer, name, reducer, metric_name),
                source=src,
                content_hash=run.payload.content_hash,
                stderr=stderr,
                n=n,
                attributes={
                    **run.attributes,
                    "scorer": scorer,
                    "score": name,
                    "reducer": reducer,
                    "headline": is_headline
                    and headline is not None
                    and headline.get("metric") == metric_name,
                },
            )
        )
    return out


def _number(metric: Any, src: str, record: str, field: str) -> float:
    value = metric.get("value") if isinstance(metric, dict) else metric
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(
            "invalid_value",
            f"value {value!r:.80} is not a number",
            source=src,
            record=record,
            field=field,
        )
    try:
        return float(value)
    except OverflowError as exc:  # an integer too large for a float
        raise ParseError(
            "invalid_value", "value is out of range", source=src, record=record, field=field
        ) from exc


def _stderr(metric: Any, src: str, record: str, field: str) -> float | None:
    """The standard error, or None when Inspect could not compute one (NaN, or null as
    pydantic writes NaN)."""
    if isinstance(metric, dict) and metric.get("value") is None:
        return None
    stderr = _number(metric, src, record, field)
    if math.isnan(stderr):
        return None
    if math.isinf(stderr) or stderr < 0:
        raise ParseError(
            "invalid_value",
            f"stderr {stderr!r} is not a finite non-negative number",
            source=src,
            record=record,
            field=field,
        )
    return stderr


def _get(obj: dict[str, Any], src: str, field: str, kind: type, key: str | None = None) -> Any:
    key = key or field
    if key not in obj or obj[key] is None:
        raise ParseError("missing_field", "required field is missing", source=src, field=field)
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ParseError(
            "invalid_value", f"expected {kind.__name__}, got {value!r:.80}", source=src, field=field
        )
    return value


def _obj(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional object-valued field; anything else counts as absent."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _ident(text: str, src: str, field: str, record: str | None = None) -> str:
    """An id the store keeps: 1 to MAX_ID printable characters."""
    if not text or len(text) > MAX_ID or not text.isprintable():
        raise ParseError(
            "invalid_value",
            f"{text!r:.80} is not an id (1 to {MAX_ID} printable characters)",
            source=src,
            record=record,
            field=field,
        )
    return text


def _count(value: Any) -> int | None:
    """A sample or epoch count, or None when absent or not a plausible count."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def _samples(completed: Any, epochs: Any) -> int | None:
    """Samples behind a score from `results.completed_samples`, which counts every epoch of every
    sample (what older versions give instead of `scored_samples`)."""
    count, times = _count(completed), _count(epochs)
    if count is None or times is None or times <= 1:
        return count
    return count // times  # rounded down when some sample-epochs did not complete


def _scalar(value: Any) -> str | int | None:
    """A short string or an integer for the attributes; anything else is dropped."""
    if isinstance(value, str) and len(value) <= MAX_ID and value.isprintable():
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_COUNT:
        return value
    return None


def _first_line(value: Any) -> str:
    """The first line of an error message, printable and at most 300 characters."""
    text = value if isinstance(value, str) else "" if value is None else repr(value)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return "".join(c if c.isprintable() else "?" for c in line[:300])


def _time(text: Any, src: str, field: str) -> datetime:
    """An aware UTC time from an ISO 8601 string with an offset (older Inspect versions write
    the local offset)."""
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ParseError(
            "invalid_value", f"not an ISO 8601 time: {text!r:.80}", source=src, field=field
        ) from exc
    if when.tzinfo is None or when.utcoffset() is None:
        raise ParseError(
            "invalid_value", f"time {text!r} has no UTC offset", source=src, field=field
        )
    try:
        return when.astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 pushed past the range by the offset
        raise ParseError(
            "invalid_value", f"time {text!r} is out of range", source=src, field=field
        ) from exc


# -- .json logs: streamed ---------------------------------------------------------------------
_SPACE = re.compile(r"[ \t\n\r]*")
_CHUNK = 2**20
_NEAR_END = 16  # an error this close to the end of the window may only be a value cut short


class _JsonLog:
    """The top-level object of a `.json` log read from `fp` a chunk at a time: every value is
    decoded by the stdlib decoder (so NaN and Infinity are read as `json.loads` reads them), one
    at a time, from a window holding little more than that value. Each element of the per-sample
    arrays is decoded and dropped, so bad JSON anywhere is found, but only the small rest of the
    document is ever held."""

    def __init__(self, fp: BinaryIO, source: str, limit: int, keep_limit: int) -> None:
        self.fp, self.source, self.limit, self.keep_limit = fp, source, limit, keep_limit
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.json = json.JSONDecoder()
        self.window, self.pos, self.dropped, self.read_bytes, self.eof = "", 0, 0, 0, False
        self.where = ""  # the top-level key whose value is being read, and the element

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
            more = self._peek() == ","
            if more:
                self.pos += 1
            else:
                self._expect("}")
        if self._peek():
            raise self._error("extra data after the JSON document")
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
            more, i = self._peek() == ",", i + 1
            if more:
                self.pos += 1
            else:
                self._expect("]")
        self.where = what

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
            raise ParseError("malformed", message, source=self.source) from exc
        self.dropped += self.pos
        self.window, self.pos, self.eof = self.window[self.pos :] + text, 0, not data
        return True

    def _too_large(self, what: str, limit: int) -> ParseError:
        return ParseError("too_large", f"{what} is over the {limit}-byte limit", source=self.source)

    def _error(self, what: str, at: int | None = None) -> ParseError:
        """Bad JSON at `at` (a position in the window; default the cursor)."""
        at = self.pos if at is None else at
        ended = self.eof and (at >= len(self.window) or what.startswith("Unterminated"))
        where = f"in {self.where!r}, " if self.where else ""
        cut = "the file ends too soon (truncated?): " if ended else ""
        message = f"invalid JSON at character {self.dropped + at}, {where}{cut}{what}"
        return ParseError("malformed", message, source=self.source)

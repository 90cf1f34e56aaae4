"""Inspect AI logs: a folder of `.eval` (zip) and `.json` logs.

One observation per (scorer, score name, reducer, metric) in `results.scores`, with the stderr
from the sibling `stderr` metric when present. The metric id is `scorer[/name][/reducer]/metric`;
a lone `mean` reducer is left out of it, because it is Inspect's default and some versions name it
while others do not (0.3.200 writes `includes/mean/accuracy` for a one-epoch run, 0.3.285
`includes/accuracy`). From `.eval` files only `header.json` is read, never the samples. A `.json`
log is one document holding the samples too (hundreds of MB for a large run): it is streamed, its
per-sample arrays (`samples`, `reductions`) checked for valid JSON one element at a time and
dropped, and the rest becomes the payload, as small as a `header.json` (connectors.json_stream).
Logs still running are skipped until they finish; `error` and `cancelled` logs are rejected with
their reason. Field facts: shared/samples/FORMATS.md section 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, ClassVar

from pydantic import Field

from connectors.archive import member_names, read_member
from connectors.documents import (
    MAX_COUNT,
    is_id,
    json_document,
    object_at,
    real_number,
    require_id,
    standard_error,
    valid_count,
)
from connectors.json_stream import JsonLog
from connectors.source import SourceOptions, payloads
from warden.core.errors import NotReady, ParseError
from warden.core.model import Fetched, Observation, Payload
from warden.core.plugins import options
from warden.ingest.connector import Cursor, content_key

HEADER = "header.json"
JOURNAL_START = "_journal/start.json"
STDERR_METRICS = ("stderr", "bootstrap_stderr")
SUFFIXES = (".eval", ".json")
# Inspect keeps checkpoints next to the logs in `<log>.checkpoints/`; they are not logs.
IGNORED_DIRS = (".checkpoints",)


class Options(SourceOptions):
    # `source`: a log file or folder, or an http(s) URL (`path` is the older name).
    # The largest `header.json` of a `.eval`, and of what a `.json` log keeps (all but samples).
    max_header_bytes: int = Field(16 * 2**20, gt=0)
    # The largest `.json` log read: it is streamed (memory stays small), but every byte is parsed.
    max_json_bytes: int = Field(2**30, gt=0)
    # The most entries a `.eval` may have (a couple per sample): its directory is read whole,
    # about 650 bytes an entry, so the default bounds that at about 130 MB.
    max_eval_members: int = Field(200_000, gt=0)


class InspectLogs:
    name: ClassVar[str] = "inspect_logs"

    def __init__(self, raw_options: Mapping[str, Any], where: str = "inspect_logs") -> None:
        self.options = options(Options, raw_options, where)

    # -- fetch: I/O ---------------------------------------------------------------------------
    def fetch(self, cursor: Cursor) -> Iterator[Fetched]:
        o = self.options
        return payloads(
            o.source,
            SUFFIXES,
            cursor,
            self._read,
            "Inspect logs",
            IGNORED_DIRS,
            limits=o.fetch,
            links_outside=o.links_outside,
            report_ignored=True,
        )

    def _read(self, fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        # `source` is a path, a URL (perhaps with a query), or either with `!member` appended.
        if not (source.endswith(".eval") or source.split("?", 1)[0].endswith(".eval")):
            log = JsonLog(fp, source, self.options.max_json_bytes, self.options.max_header_bytes)
            return log.header(), None
        members = member_names(fp, source, self.options.max_eval_members)
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
    doc = json_document(payload.content, src, "the log's header")
    if not isinstance(doc, dict):
        raise ParseError("malformed", "top level is not a JSON object", source=src)
    status = _get(doc, src, "status", str)
    if status == "started":
        raise NotReady(src, "run in progress (status 'started')")
    if status == "error":
        message = _first_line(object_at(doc, "error").get("message")) or "no message"
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
    model = require_id(_get(ev, src, "eval.model", str, "model"), src, "eval.model")
    task = require_id(_get(ev, src, "eval.task", str, "task"), src, "eval.task")
    completed_at = object_at(doc, "stats").get("completed_at")
    if completed_at:
        observed_at = _time(completed_at, src, "stats.completed_at")
    else:
        observed_at = _time(_get(ev, src, "eval.created", str, "created"), src, "eval.created")
    results = _get(doc, src, "results", dict)
    scores = _get(results, src, "results.scores", list, "scores")
    headline = results.get("headline") if isinstance(results.get("headline"), dict) else None
    config = object_at(ev, "config")
    run = _Run(
        payload=payload,
        model=model,
        task=task,
        observed_at=observed_at,
        eval_id=eval_id,
        samples=_samples(results.get("completed_samples"), config.get("epochs")),
        headline=headline,
        attributes={
            "measured_by": "own",
            "eval_id": eval_id,
            "run_id": _scalar(ev.get("run_id")),
            "task_version": _scalar(ev.get("task_version")),
            "inspect_version": _scalar(object_at(ev, "packages").get("inspect_ai")),
            "epochs": valid_count(config.get("epochs")),
            "partial": config.get("limit") is not None,
            "total_samples": valid_count(results.get("total_samples")),
            "completed_samples": valid_count(results.get("completed_samples")),
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
    name = require_id(_get(score, src, f"{path}.name", str, "name"), src, f"{path}.name")
    scorer = score.get("scorer")
    scorer = require_id(scorer, src, f"{path}.scorer") if isinstance(scorer, str) else name
    reducer = score.get("reducer")
    reducer = require_id(reducer, src, f"{path}.reducer") if isinstance(reducer, str) else None
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
    n = valid_count(score["scored_samples"]) if "scored_samples" in score else run.samples
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
        require_id(metric_name, src, f"{path}.metrics", record)
        field = f"{path}.metrics.{metric_name}.value"
        value = _number(metric, src, record, field, finite=True)
        metric_id = require_id(f"{record}/{metric_name}", src, field, record)
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


def _number(metric: Any, src: str, record: str, field: str, *, finite: bool = False) -> float:
    value = metric.get("value") if isinstance(metric, dict) else metric
    return real_number(value, src, field, record, finite=finite)


def _stderr(metric: Any, src: str, record: str, field: str) -> float | None:
    """The standard error, or None when Inspect could not compute one (NaN, or null as
    pydantic writes NaN)."""
    if isinstance(metric, dict) and metric.get("value") is None:
        return None
    return standard_error(_number(metric, src, record, field), src, field, record)


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


def _samples(completed: Any, epochs: Any) -> int | None:
    """Samples behind a score from `results.completed_samples`, which counts every epoch of every
    sample (what older versions give instead of `scored_samples`)."""
    count, times = valid_count(completed), valid_count(epochs)
    if count is None or times is None or times <= 1:
        return count
    return count // times  # rounded down when some sample-epochs did not complete


def _scalar(value: Any) -> str | int | None:
    """A short string or an integer for the attributes; anything else is dropped."""
    if isinstance(value, str) and (value == "" or is_id(value)):
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

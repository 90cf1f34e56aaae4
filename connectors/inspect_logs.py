"""Inspect AI logs: a folder of `.eval` (zip) and `.json` logs.

One observation per (scorer, score name, reducer, metric) in `results.scores`, with the stderr
from the sibling `stderr` metric when present. From `.eval` files only `header.json` is read,
never the samples. Logs still running are skipped until they finish; `error` and `cancelled`
logs are rejected with their reason. Field facts: shared/samples/FORMATS.md section 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from connectors.archive import member_names, read_member
from connectors.files import read_all, walk
from warden.connector import Cursor, content_key, options
from warden.errors import NotReady, ParseError
from warden.model import Observation, Payload, Pending, Rejection

HEADER = "header.json"
JOURNAL_START = "_journal/start.json"
STDERR_METRICS = ("stderr", "bootstrap_stderr")
SUFFIXES = (".eval", ".json")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path
    max_header_bytes: int = Field(16 * 2**20, gt=0)
    max_json_bytes: int = Field(256 * 2**20, gt=0)


class InspectLogs:
    name: ClassVar[str] = "inspect_logs"

    def __init__(self, raw_options: Mapping[str, Any], where: str = "inspect_logs") -> None:
        self.options = options(Options, raw_options, where)

    # -- fetch: I/O ---------------------------------------------------------------------------
    def fetch(self, cursor: Cursor) -> Iterator[Payload | Rejection | Pending]:
        return walk(self.options.path, SUFFIXES, cursor, self._read, "Inspect logs")

    def _read(self, fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        if not source.endswith(".eval"):
            return read_all(self.options.max_json_bytes)(fp, source)
        members = member_names(fp, source)
        if HEADER not in members:
            if JOURNAL_START in members:
                raise NotReady(source, "run in progress (no header.json yet)")
            raise ParseError("malformed", "zip has no header.json: not an Inspect log")
        return read_member(fp, members[HEADER], self.options.max_header_bytes, source), HEADER

    # -- parse: pure --------------------------------------------------------------------------
    def parse(self, payload: Payload) -> list[Observation]:
        return parse_log(payload)


def _constant(name: str) -> float:
    return float(name)  # NaN and Infinity become floats, checked field by field below


def parse_log(payload: Payload) -> list[Observation]:
    """Observations from one Inspect log document (a `header.json` or a `.json` log)."""
    src = payload.source
    try:
        doc = json.loads(payload.content, parse_constant=_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ParseError("malformed", f"invalid JSON: {exc}", source=src) from exc
    if not isinstance(doc, dict):
        raise ParseError("malformed", "top level is not a JSON object", source=src)
    status = _get(doc, src, "status", str)
    if status == "started":
        raise NotReady(src, "run in progress (status 'started')")
    if status == "error":
        err = doc.get("error") if isinstance(doc.get("error"), dict) else {}
        message = str((err or {}).get("message", "no message")).splitlines()[0][:300]
        raise ParseError(
            "run_error", f"the run ended in error: {message}", source=src, field="status"
        )
    if status == "cancelled":
        raise ParseError("run_cancelled", "the run was cancelled", source=src, field="status")
    if status != "success":
        raise ParseError("invalid_value", f"unknown status {status!r}", source=src, field="status")
    if doc.get("invalidated") is True:
        raise ParseError(
            "invalidated", "the log is marked invalidated", source=src, field="invalidated"
        )
    ev = _get(doc, src, "eval", dict)
    eval_id = _get(ev, src, "eval.eval_id", str, "eval_id")
    model = _get(ev, src, "eval.model", str, "model")
    task = _get(ev, src, "eval.task", str, "task")
    stats = doc.get("stats") if isinstance(doc.get("stats"), dict) else {}
    when_text = (stats or {}).get("completed_at") or _get(ev, src, "eval.created", str, "created")
    observed_at = _time(when_text, src)
    results = _get(doc, src, "results", dict)
    scores = _get(results, src, "results.scores", list, "scores")
    headline = results.get("headline") if isinstance(results.get("headline"), dict) else None
    config = ev.get("config") if isinstance(ev.get("config"), dict) else {}
    common = {
        "eval_id": eval_id,
        "run_id": ev.get("run_id"),
        "task_version": ev.get("task_version"),
        "inspect_version": (ev.get("packages") or {}).get("inspect_ai"),
        "epochs": (config or {}).get("epochs"),
        "partial": (config or {}).get("limit") is not None,
        "total_samples": results.get("total_samples"),
        "completed_samples": results.get("completed_samples"),
    }
    out: list[Observation] = []
    for i, score in enumerate(scores):
        out.extend(_score(score, i, payload, model, task, observed_at, results, headline, common))
    if not out:
        raise ParseError(
            "missing_field", "results hold no metric", source=src, field="results.scores"
        )
    return out


def _score(
    score: Any,
    i: int,
    payload: Payload,
    model: str,
    task: str,
    observed_at: datetime,
    results: dict[str, Any],
    headline: dict[str, Any] | None,
    common: dict[str, Any],
) -> list[Observation]:
    src = payload.source
    path = f"results.scores[{i}]"
    if not isinstance(score, dict):
        raise ParseError("malformed", "score is not an object", source=src, field=path)
    name = _get(score, src, f"{path}.name", str, "name")
    scorer = score.get("scorer") if isinstance(score.get("scorer"), str) else name
    reducer = score.get("reducer") if isinstance(score.get("reducer"), str) else None
    record = "/".join(p for p in (scorer, name if name != scorer else None, reducer) if p)
    metrics = _get(score, src, f"{path}.metrics", dict, "metrics")
    n = score.get("scored_samples", results.get("completed_samples"))
    n = n if isinstance(n, int) and not isinstance(n, bool) else None
    stderr = None
    for sname in STDERR_METRICS:
        if sname in metrics:
            stderr = _number(metrics[sname], src, record, f"{path}.metrics.{sname}.value")
            if stderr is not None and (math.isnan(stderr) or stderr < 0):
                stderr = None  # inspect writes NaN for one sample: no uncertainty known
            break
    is_headline = (
        headline is not None
        and headline.get("score", headline.get("scorer")) == name
        and headline.get("reducer") == reducer
    )
    out = []
    for metric_name, metric in metrics.items():
        if metric_name in STDERR_METRICS:
            continue
        field = f"{path}.metrics.{metric_name}.value"
        value = _number(metric, src, record, field)
        if value is None or not math.isfinite(value):
            raise ParseError(
                "invalid_value",
                f"value {value!r} is not a finite number",
                source=src,
                record=record,
                field=field,
            )
        metric_id = f"{record}/{metric_name}"
        out.append(
            Observation(
                subject=model,
                benchmark=task,
                metric=metric_id,
                value=value,
                observed_at=observed_at,
                key=content_key(common["eval_id"], scorer, name, reducer, metric_name),
                source=payload.source,
                content_hash=payload.content_hash,
                stderr=stderr,
                n=n,
                attributes={
                    **common,
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


def _number(metric: Any, src: str, record: str, field: str) -> float | None:
    value = metric.get("value") if isinstance(metric, dict) else metric
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(
            "invalid_value",
            f"value {value!r} is not a number",
            source=src,
            record=record,
            field=field,
        )
    return float(value)


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


def _time(text: str, src: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ParseError(
            "invalid_value",
            f"not an ISO 8601 time: {text!r}",
            source=src,
            field="stats.completed_at",
        ) from exc
    if when.tzinfo is None:
        raise ParseError(
            "invalid_value",
            f"time {text!r} has no UTC offset",
            source=src,
            field="stats.completed_at",
        )
    return when

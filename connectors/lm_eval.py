"""lm-evaluation-harness results files (`results_<date>.json`; FORMATS.md section 2).

`lm-eval --output_path DIR` writes `DIR/<model>/results_<local time>.json` (and, with
`--log_samples`, `samples_<task>_<local time>.jsonl`, which are not read). In a folder only files
named `results*.json` are read; a file given directly is read whatever its name (a results file
written to `--output_path x.json` is named `x_<date>.json`).

    results: {<task or group>: {alias, "<metric>,<filter>": value,
                                "<metric>_stderr,<filter>": stderr | "N/A", sample_len}}
    groups: {<group>: ...the same numbers again...}    group_subtasks: {<group>: [<task>, ...]}
    versions, n-shot, higher_is_better: {<task>: ...}  n-samples: {<task>: {original, effective}}
    config: {model, model_args, limit, ...}   model_name   date (UNIX time at the run's start)
    lm_eval_version (0.4.9+)   git_hash (the harness commit)

One observation per task (or group) x metric x filter. benchmark = the task's key (its `alias`
is a display name, indented for subtasks: an attribute); metric = the metric name, with a filter
other than `none` appended (`acc,none` -> `acc`; `exact_match,strict-match` ->
`exact_match/strict-match`); legacy v0.3 files have no filter (`acc`, `acc_stderr`). A group row
(`mmlu`, a key of `groups` or a `group_subtasks` entry with members) is an aggregate of its
members: it appears in both `results` and `groups` and is emitted once, with
`attributes["group"] = True`. stderr "N/A" (one item, no bootstrap, or a group over such
members) and NaN are None; a negative or infinite stderr rejects that metric. n is the effective
sample count (`n-samples[task].effective`, else `sample_len`; for a group `sample_count` per
metric, else the sum over its members that have the metric). Values are in the harness's own
scale: `scale: fraction` only for metrics known to be fractions (FRACTIONS), `points` otherwise
(perplexities, BLEU, F1 on 0-100 in some tasks, MCC).

Model id: from `config.model_args` (a "k=v,k=v" string up to 0.4.9, a dict in 0.4.13) by the
harness's own order `peft`, `delta`, `pretrained`, `model`, `path`, `engine`; else `model_name`
when the file has no model args; else the backend (`config.model`, e.g. `dummy`: lm-eval then
names the run with a random id, which is kept as attribute `model_name`). observed_at = `date`
(UTC; `timestamp_kind: run_start`); a file without `date` (v0.3) is dated by its modification
time (`timestamp_kind: fetched`) and keyed by its content. `source_version` = `lm_eval_version`,
else `git_hash`. A run with `config.limit`, or fewer effective than original samples, has
`partial: True`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from pydantic import Field

from connectors.documents import (
    MAX_COUNT,
    MAX_ID,
    finite_number,
    is_id,
    json_document,
    object_at,
    real_number,
    require_id,
    standard_error,
    valid_count,
)
from connectors.files import read_all
from connectors.source import SourceOptions, is_url, payloads
from warden.core.errors import ParseError
from warden.core.model import Fetched, Ignored, Observation, Payload, Rejection
from warden.core.plugins import options
from warden.ingest.connector import Cursor, content_key, rejected

SUFFIXES = (".json",)
# Keys of a results entry that are not metrics.
META = frozenset({"alias", "name", "sample_len", "sample_count", "samples"})
# lm-eval metrics whose values are fractions in [0, 1]: accuracy and exact-match means, pass@1.
# Every other metric is `points`: its scale depends on the metric (perplexity >= 1, BLEU and
# chrF 0-100, MCC -1..1) or on the task (F1 is 0-1 in most tasks, 0-100 in SQuAD v2).
FRACTIONS = frozenset({"acc", "acc_norm", "acc_mutual_info", "exact_match", "em", "pass@1"})
MODEL_ARGS = ("peft", "delta", "pretrained", "model", "path", "engine")  # lm-eval's order


class Options(SourceOptions):
    # `source`: a results file, a folder of runs, or a URL
    max_bytes: int = Field(64 * 2**20, gt=0)


NOT_RESULTS = (
    "not named results*.json: in a folder, lm_eval reads only the results files lm-eval writes "
    "(give a file by itself to read it whatever its name)"
)


def is_results_file(name: str) -> bool:
    return name.startswith("results") and name.endswith(".json")


class LmEval:
    name: ClassVar[str] = "lm_eval"

    def __init__(self, raw_options: Mapping[str, Any], where: str = "lm_eval") -> None:
        self.options = options(Options, raw_options, where)

    def fetch(self, cursor: Cursor) -> Iterator[Fetched]:
        source = self.options.source
        what = "lm-eval results files"
        if is_url(source) or not Path(source).is_dir():
            yield from payloads(
                source,
                SUFFIXES,
                cursor,
                read_all(self.options.max_bytes),
                what,
                limits=self.options.fetch,
                links_outside=self.options.links_outside,
            )
            return
        root = Path(source)
        found = (p.relative_to(root).parts for p in root.rglob("results*.json"))
        if not any(not any(part.startswith(".") for part in parts) for parts in found):
            for other in sorted(root.rglob("*")):
                parts = other.relative_to(root).parts
                if other.is_file() and not any(part.startswith(".") for part in parts):
                    yield Ignored(str(other), NOT_RESULTS)
            why = "no lm-eval results files (results*.json) found in the folder"
            yield Rejection(source, "malformed", why)
            return
        # Other .json files in the folder are passed over without being read.
        read = read_all(self.options.max_bytes)

        def reader(fp: BinaryIO, src: str) -> tuple[bytes, str | None]:
            if not is_results_file(Path(src).name):
                raise ParseError("malformed", "not a results file", source=src)
            return read(fp, src)

        o = self.options
        found_items = payloads(
            source,
            SUFFIXES,
            cursor,
            reader,
            what,
            limits=o.fetch,
            links_outside=o.links_outside,
            report_ignored=True,
        )
        for item in found_items:
            if isinstance(item, Ignored) or is_results_file(Path(item.source).name):
                yield item
            else:
                yield Ignored(item.source, NOT_RESULTS)

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        return parse_results(payload)


@dataclass(frozen=True)
class _Run:
    """What every observation of one results file shares."""

    payload: Payload
    doc: dict[str, Any]
    model: str
    observed_at: datetime
    run: str  # the key's run part: the date, or the content hash of an undated file
    legacy: bool  # v0.3: metric keys without a filter
    groups: dict[str, list[str]]
    attributes: dict[str, Any]


def parse_results(payload: Payload) -> list[Observation | Rejection]:
    """Observations (and rejected metrics) from one lm-eval results document."""
    src = payload.source
    doc = json_document(payload.content, src, "the results file")
    if not isinstance(doc, dict):
        raise ParseError("malformed", "top level is not a JSON object", source=src)
    results = doc.get("results")
    if not isinstance(results, dict) or not results:
        what = "missing" if results is None else f"not a non-empty object: {results!r:.80}"
        raise ParseError(
            "missing_field",
            f"no lm-eval results: `results` is {what}",
            source=src,
            field="results",
        )
    rows = dict(results)
    groups = doc.get("groups")
    for name, row in groups.items() if isinstance(groups, dict) else ():
        rows.setdefault(name, row)  # a group is in both: one row, not two
    observed_at, run, kind = _when(doc, payload)
    config = object_at(doc, "config")
    version = _scalar(doc.get("lm_eval_version")) or _scalar(doc.get("git_hash"))
    shared = {
        "measured_by": "own",
        "timestamp_kind": kind,
        "source_version": version,
        "lm_eval_version": _scalar(doc.get("lm_eval_version")),
        "git_hash": _scalar(doc.get("git_hash")),
        "model_backend": _scalar(config.get("model")),
        "model_name": _scalar(doc.get("model_name")),
        "limit": finite_number(config.get("limit")),
    }
    members = {
        name: [m for m in tasks if isinstance(m, str)]
        for name, tasks in object_at(doc, "group_subtasks").items()
        if isinstance(tasks, list) and tasks
    }
    for name in groups if isinstance(groups, dict) else ():
        members.setdefault(name, [])
    entry = _Run(
        payload=payload,
        doc=doc,
        model=_model(doc, config, src),
        observed_at=observed_at,
        run=run,
        legacy=not any("," in key for row in rows.values() if isinstance(row, dict) for key in row),
        groups=members,
        attributes=shared,
    )
    out: dict[str, Observation | Rejection] = {}
    for task, row in rows.items():
        for item in _task(entry, task, row):
            out.setdefault(item.key if isinstance(item, Observation) else repr(item), item)
    if not out:
        raise ParseError("missing_field", "results hold no metric", source=src, field="results")
    return list(out.values())


def _task(run: _Run, task: str, row: Any) -> Iterator[Observation | Rejection]:
    payload, doc = run.payload, run.doc
    where = f"results.{task}"
    if not is_id(task):
        yield rejected(payload, _bad(payload, f"task name {task!r:.80} is not an id", task))
        return
    if not isinstance(row, dict):
        yield rejected(payload, _bad(payload, f"expected an object, got {row!r:.80}", task, where))
        return
    group = task in run.groups
    alias = row.get("alias")
    n_samples = object_at(object_at(doc, "n-samples"), task)
    original, effective = (
        valid_count(n_samples.get("original")),
        valid_count(n_samples.get("effective")),
    )
    partial = run.attributes["limit"] is not None or (
        effective is not None and original is not None and effective < original
    )
    better = object_at(object_at(doc, "higher_is_better"), task)
    for key, value in row.items():
        metric, filt = _split(key, run.legacy)
        if metric is None or metric.endswith("_stderr"):
            continue
        field = f"{where}.{key}"
        metric_id = metric if filt in (None, "none") else f"{metric}/{filt}"
        try:
            number = real_number(value, payload.source, field, task[:MAX_ID], finite=True)
            if metric in FRACTIONS and not 0 <= number <= 1:
                why = f"{metric} is a fraction, but the value is {number!r} (a percentage?)"
                raise _bad(payload, why, task, field)
            stderr = _stderr(row, metric, filt, payload, task, where)
            if not is_id(metric_id):
                raise _bad(payload, f"metric {metric_id!r:.80} is not an id", task, field)
        except ParseError as exc:
            yield rejected(payload, exc)
            continue
        higher = better.get(metric)
        yield Observation(
            subject=run.model,
            benchmark=task,
            metric=metric_id,
            value=number,
            observed_at=run.observed_at,
            key=content_key("lm_eval", run.model, run.run, task, metric, filt),
            source=payload.source,
            content_hash=payload.content_hash,
            stderr=stderr,
            n=_n(run, task, row, key, set()),
            attributes={
                **run.attributes,
                "record": task,
                "scale": "fraction" if metric in FRACTIONS else "points",
                "group": group,
                "filter": filt,
                "alias": _scalar(alias.strip(" -")) if isinstance(alias, str) else None,
                "task_version": _scalar(object_at(doc, "versions").get(task)),
                "n_shot": valid_count(object_at(doc, "n-shot").get(task)),
                "higher_is_better": higher if isinstance(higher, bool) else None,
                "partial": partial,
            },
        )


def _split(key: Any, legacy: bool) -> tuple[str | None, str | None]:
    """(metric, filter) of a results key; (None, None) for keys that are not metrics."""
    if not isinstance(key, str) or key in META:
        return None, None
    if legacy:
        return key, None
    metric, comma, filt = key.rpartition(",")
    if not comma or not metric:
        return None, None  # metadata a newer version may add
    return metric, filt


def _stderr(
    row: dict[str, Any], metric: str, filt: str | None, payload: Payload, task: str, where: str
) -> float | None:
    """The metric's stderr; None when absent, "N/A" (lm-eval could not compute one) or NaN."""
    key = f"{metric}_stderr" if filt is None else f"{metric}_stderr,{filt}"
    value = row.get(key)
    if value is None or value == "N/A":
        return None
    field = f"{where}.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(payload, f'stderr {value!r:.80} is not a number or "N/A"', task, field)
    stderr = real_number(value, payload.source, field, task[:MAX_ID])
    return standard_error(stderr, payload.source, field, task[:MAX_ID])


def _n(run: _Run, task: str, row: dict[str, Any], key: str, seen: set[str]) -> int | None:
    """Samples behind `row[key]`: a task's effective count, or for a group the sum over its
    members that report the metric (None when any of them is unknown)."""
    if task not in run.groups:
        effective = valid_count(object_at(object_at(run.doc, "n-samples"), task).get("effective"))
        return effective if effective is not None else valid_count(row.get("sample_len"))
    counted = valid_count(object_at(row, "sample_count").get(key))
    if counted is not None or task in seen:
        return counted
    total, rows = 0, {**object_at(run.doc, "groups"), **object_at(run.doc, "results")}
    found = False
    for member in run.groups[task]:
        member_row = rows.get(member)
        if not isinstance(member_row, dict) or key not in member_row:
            continue
        n = _n(run, member, member_row, key, seen | {task})
        if n is None:
            return None
        total, found = total + n, True
    return total if found and total <= MAX_COUNT else None


def _model(doc: dict[str, Any], config: dict[str, Any], src: str) -> str:
    args = config.get("model_args")
    pairs: dict[str, Any] = {}
    if isinstance(args, dict):
        pairs = args
    elif isinstance(args, str):
        pairs = dict(p.partition("=")[::2] for p in args.split(",") if "=" in p)
    for name in MODEL_ARGS:
        value = pairs.get(name)
        if isinstance(value, str) and value.strip():
            return require_id(value.strip(), src, "config.model_args")
    # lm-eval derives model_name from the same args (by substring: `pretrained_model=x` gives
    # x), or makes up a random one when they name no model: use it only when the args show it.
    model_name = doc.get("model_name")
    if isinstance(model_name, str) and model_name and (args is None or model_name in str(args)):
        return require_id(model_name, src, "model_name")
    backend = config.get("model")
    if isinstance(backend, str) and backend:
        return require_id(backend, src, "config.model")
    raise ParseError(
        "missing_field",
        "no model: config.model_args names none (pretrained=, model=, ...) and there is no "
        "model_name or config.model",
        source=src,
        field="config.model_args",
    )


def _when(doc: dict[str, Any], payload: Payload) -> tuple[datetime, str, str]:
    """(observed_at, the key's run part, timestamp_kind)."""
    src, date = payload.source, doc.get("date")
    if date is None:
        if payload.fetched_at is None:
            raise ParseError("missing_field", "the run has no date", source=src, field="date")
        return payload.fetched_at.astimezone(UTC), payload.content_hash, "fetched"
    if isinstance(date, bool) or not isinstance(date, int | float):
        raise ParseError(
            "invalid_value", f"expected a UNIX time, got {date!r:.80}", source=src, field="date"
        )
    try:
        when = datetime.fromtimestamp(date, UTC)
    except (OverflowError, OSError, ValueError) as exc:  # NaN, infinities, beyond year 9999
        raise ParseError(
            "invalid_value", f"UNIX time {date!r} is out of range", source=src, field="date"
        ) from exc
    return when, repr(float(date)), "run_start"


def _bad(payload: Payload, message: str, task: str, field: str | None = None) -> ParseError:
    return ParseError(
        "invalid_value", message, source=payload.source, record=task[:MAX_ID], field=field
    )


def _scalar(value: Any) -> str | int | float | None:
    """A short printable string, an integer or a finite number, as given; else None."""
    if isinstance(value, str):
        return value if is_id(value) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) <= MAX_COUNT else None
    return finite_number(value)

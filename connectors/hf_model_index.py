"""Hugging Face model cards: the `model-index` evaluation metadata in a README's YAML front matter.

A card is a Markdown file starting with a `---` line, YAML, and a closing `---` line. Under
`model-index` each entry names a model and lists results: `task`, `dataset` (`type`, `config`,
`split`, `args.num_few_shot`), `metrics` (`type`, `value`, `name`) and `source`. Field facts:
shared/samples/FORMATS.md section 10.1. One observation per metric of each result:

- subject = the entry's `name` (an Open LLM Leaderboard card copied onto a quantised repo names
  the model the results are for); without one, the card's file name (its folder's name for a
  `README.md`). Not `base_model`: a fine-tune's scores are not its base model's.
- benchmark = `dataset.type`, with `:<config>` when a config is given (other than `default`):
  configs change what is measured (`ai2_arc:ARC-Challenge` vs `ARC-Easy`, GPQA's subsets). The
  split and the few-shot count are attributes and part of the key.
- metric = `metrics[].type` as written (free text such as "inst_level_strict_acc and
  prompt_level_strict_acc"); its `name` is an attribute.
- value = as given: a number, or text such as "72.04", "72.04%" or "20.0 ± 1.2" (the "±" part
  is kept as the `plus_minus` attribute, not as a stderr: cards do not say what it is).
- every observation is `vendor_reported`, `measured_by: vendor` (the model's publisher wrote
  the card).
- cards carry no time: observed_at is the file's modification time (`timestamp_kind` "fetched").

The scale trap: cards mix percentages and fractions (Open LLM Leaderboard PRs write percentages,
other authors fractions). For an accuracy-like metric (acc, accuracy, exact match, em, f1, mc1,
mc2, pass@k, precision, recall) the value is a percentage when it is written with "%", when the
result's source is the Open LLM Leaderboard, or when any unmarked accuracy-like value from the
same source in the same entry is over 1 (one source reports on one scale); otherwise a fraction.
Accuracy-like values outside 0..100 are rejected. Other metrics are "points" (no conversion).
The v2 leaderboard (source URL `.../spaces/open-llm-leaderboard/...`) writes scores rescaled
between the random baseline and 100 (GPQA `acc_norm` 7.05 is not 7 % correct): they are
"points" with `normalised_score` true, so the registry can never convert them to an accuracy.

The front matter is untrusted YAML: it is read with yaml's safe loader, refused over a size
limit, and refused with more than a few aliases (a "billion laughs" document expands a few
hundred bytes into gigabytes of nested references).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import partial
from pathlib import PurePath
from typing import Any, ClassVar
from urllib.parse import urlsplit

import yaml
from pydantic import Field

from connectors.documents import (
    TooManyAliases,
    fetch_time,
    require_id,
    safe_yaml,
    short_text,
    valid_count,
)
from connectors.source import DocumentOptions, Documents, is_url
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import content_key, rejected

SUFFIXES = (".md",)
# Bytes of YAML: real cards have a few KiB; yaml's pure-Python loader reads about 100 KiB/s.
MAX_FRONT_MATTER = 256 * 2**10
MAX_ALIASES = 20  # real cards use none; a billion-laughs document needs many
_ACCURACY = re.compile(
    r"acc|exact[ _-]?match|(?<![a-z0-9])(em|f1|mc1|mc2|precision|recall)(?![a-z0-9])|pass@\d"
)
_PLUS_MINUS = re.compile(r"^\s*([^±]+?)\s*(?:±|\+/-)\s*(.+?)\s*$")
_LEADERBOARD = re.compile(r"open[ _-]llm[ _-]leaderboard", re.IGNORECASE)
# The v2 leaderboard's space: its scores are rescaled between a random baseline and 100.
_LEADERBOARD_V2 = re.compile(r"/spaces/open-llm-leaderboard/", re.IGNORECASE)


class Options(DocumentOptions):
    # `source`: a card, a folder of cards, or a URL
    max_bytes: int = Field(16 * 2**20, gt=0)
    max_front_matter_bytes: int = Field(MAX_FRONT_MATTER, gt=0)


class HfModelIndex(Documents):
    name: ClassVar[str] = "hf_model_index"
    SUFFIXES = SUFFIXES
    WHAT = "model cards"
    OPTIONS = Options
    options: Options

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        return parse_card(payload, self.options.max_front_matter_bytes)


def front_matter(payload: Payload, limit: int = MAX_FRONT_MATTER) -> dict[str, Any]:
    """The card's YAML front matter as a mapping, or ParseError."""
    fail = partial(ParseError, source=payload.source, field="front matter")
    try:
        text = payload.content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail("malformed", f"the card is not UTF-8 text: {exc}") from exc
    lines = text.lstrip().splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise fail("missing_field", "the card has no YAML front matter (no leading '---' line)")
    size, body = 0, []
    for line in lines[1:]:
        if line.rstrip() in ("---", "..."):
            break
        size += len(line.encode())
        if size > limit:
            raise fail("too_large", f"the front matter is over the {limit}-byte limit")
        body.append(line)
    else:
        raise fail("malformed", "the front matter has no closing '---' line")
    try:
        data = safe_yaml("".join(body), MAX_ALIASES)
    except TooManyAliases as exc:
        message = f"the front matter uses over {MAX_ALIASES} YAML aliases (an expansion bomb?)"
        raise fail("malformed", message) from exc
    except RecursionError as exc:
        raise fail("malformed", "the front matter is nested too deeply") from exc
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        # yaml's constructors raise ValueError for impossible dates (2024-13-45) and the like.
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1} of the front matter)" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise fail("malformed", f"invalid YAML front matter{line}: {problem:.200}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise fail("malformed", f"the front matter is not a mapping: got {type(data).__name__}")
    return data


def parse_card(payload: Payload, limit: int = MAX_FRONT_MATTER) -> list[Observation | Rejection]:
    """Observations from one model card; `limit` bounds its front matter in bytes."""
    src = payload.source
    card = front_matter(payload, limit)
    index = card.get("model-index")
    if index is None or index == []:
        message = "the front matter has no model-index (no evaluation results)"
        raise ParseError("missing_field", message, source=src, field="model-index")
    if not isinstance(index, list):
        message = f"model-index is not a list: got {type(index).__name__}"
        raise ParseError("invalid_value", message, source=src, field="model-index")
    when = fetch_time(payload, "model cards")
    base = card.get("base_model")
    common: dict[str, Any] = {
        "vendor_reported": True,
        "measured_by": "vendor",
        "timestamp_kind": "fetched",
        "base_model": short_text(base[0] if isinstance(base, list) and len(base) == 1 else base),
    }
    out: list[Observation | Rejection] = []
    for i, entry in enumerate(index):
        try:
            out.extend(_entry(payload, when, entry, f"model-index[{i}]", common))
        except ParseError as exc:
            out.append(rejected(payload, exc))
    return _unique(payload, out)


def _entry(
    payload: Payload, when: datetime, entry: Any, where: str, common: dict[str, Any]
) -> list[Observation | Rejection]:
    """The observations of one model-index entry (a model and its results)."""
    src = payload.source
    if not isinstance(entry, dict):
        raise ParseError("malformed", "entry is not a mapping", source=src, record=where)
    name = entry.get("name")
    if name is None:
        model, model_from = _file_model(src), "file_name"
    else:
        model, model_from = _ident(name, src, "name", where), "model-index"
    results = entry.get("results")
    if not isinstance(results, list) or not results:
        message = f"entry for {model!r} has no list of results"
        raise ParseError("missing_field", message, source=src, record=where, field="results")
    shared = {**common, "model_from": model_from}
    parsed: list[tuple[str, dict[str, Any], Any]] = []  # (record, attributes, raw metric)
    out: list[Observation | Rejection] = []
    for j, result in enumerate(results):
        record = f"{where}.results[{j}]"
        try:
            base, metrics = _result(result, src, record)
        except ParseError as exc:
            out.append(rejected(payload, exc))
            continue
        parsed += [(f"{record}.metrics[{k}]", {**shared, **base}, m) for k, m in enumerate(metrics)]
    percent_sources = _percent_sources(parsed)
    for record, base, metric in parsed:
        try:
            out.append(_observation(payload, when, model, record, base, metric, percent_sources))
        except ParseError as exc:
            out.append(rejected(payload, exc))
    return out


def _result(result: Any, src: str, record: str) -> tuple[dict[str, Any], list[Any]]:
    """What a result's metrics share (benchmark and attributes), and its metrics."""
    fail = partial(ParseError, source=src, record=record)
    if not isinstance(result, dict):
        raise fail("malformed", "result is not a mapping")
    dataset = result.get("dataset")
    kind = dataset.get("type") if isinstance(dataset, dict) else None
    if not isinstance(dataset, dict) or kind is None:
        raise fail("missing_field", "result has no dataset.type", field="dataset.type")
    benchmark = _ident(kind, src, "dataset.type", record)
    config = _text(dataset.get("config"))
    if config not in (None, "", "default"):
        benchmark = _ident(f"{benchmark}:{config}", src, "dataset.config", record)
    metrics = result.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise fail("missing_field", f"result for {benchmark!r} has no metrics", field="metrics")
    args = dataset.get("args")
    shots = args.get("num_few_shot") if isinstance(args, dict) else None
    source, task = _mapping(result.get("source")), _mapping(result.get("task"))
    base = {
        "benchmark": benchmark,
        "dataset_name": short_text(dataset.get("name")),
        "dataset_config": short_text(config),
        "split": short_text(dataset.get("split")),
        "num_few_shot": valid_count(shots),
        "dataset_revision": short_text(dataset.get("revision")),
        "task": short_text(task.get("type")),
        "source_name": short_text(source.get("name")),
        "source_url": _url(source.get("url")),
    }
    return base, metrics


def _observation(
    payload: Payload,
    when: datetime,
    model: str,
    record: str,
    base: dict[str, Any],
    metric: Any,
    percent_sources: set[tuple[Any, Any]],
) -> Observation:
    src = payload.source
    fail = partial(ParseError, source=src, record=record)
    if not isinstance(metric, dict):
        raise fail("malformed", "metric is not a mapping")
    kind = metric.get("type")
    if kind is None:
        raise fail("missing_field", "metric has no type", field="type")
    name = _ident(kind, src, "type", record)
    value, plus_minus, written_percent = _value(metric.get("value"), src, record)
    what = f"{base['benchmark']} {name}"
    if _accuracy_like(name):
        percent = written_percent or (base["source_name"], base["source_url"]) in percent_sources
        scale = "percent" if percent else "fraction"
        if not 0 <= value <= 100:
            message = f"{what}: {value!r} is outside 0..100 for an accuracy-like metric"
            raise fail("invalid_value", message, field="value")
    else:
        scale = "percent" if written_percent else "points"
    normalised = _LEADERBOARD_V2.search(base["source_url"] or "") is not None
    if normalised:
        scale = "points"  # not a share of anything: the registry must not read it as one
    attributes = {k: v for k, v in base.items() if k != "benchmark"}
    attributes.update(
        scale=scale,
        metric_name=short_text(metric.get("name")),
        verified=metric.get("verified") if isinstance(metric.get("verified"), bool) else None,
        plus_minus=plus_minus,
        normalised_score=normalised or None,
        record=record,
    )
    benchmark, split, shots = base["benchmark"], base["split"], base["num_few_shot"]
    return Observation(
        subject=model,
        benchmark=benchmark,
        metric=name,
        value=value,
        observed_at=when,
        key=content_key("hf_model_index", model, benchmark, name, split, shots, repr(value), scale),
        source=src,
        content_hash=payload.content_hash,
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def _value(raw: Any, src: str, record: str) -> tuple[float, float | None, bool]:
    """(value, "±" part, written with "%") of a metric value: a number or a number as text."""
    fail = partial(ParseError, "invalid_value", source=src, record=record, field="value")
    if raw is None:
        raise ParseError("missing_field", "metric has no value", source=src, record=record)
    plus_minus, percent = None, False
    if isinstance(raw, str):
        text = raw.strip()
        match = _PLUS_MINUS.match(text)
        if match:
            text, spread = match.group(1), match.group(2).rstrip("%").strip()
            plus_minus = _float(spread)
            if plus_minus is None or plus_minus < 0:
                raise fail(f"value {raw!r:.80}: the part after '±' is not a number")
        if text.endswith("%"):
            text, percent = text[:-1].strip(), True
        value = _float(text)
        if value is None:
            raise fail(f"value {raw!r:.80} is not a number")
    elif isinstance(raw, bool) or not isinstance(raw, int | float):
        raise fail(f"value {raw!r:.80} is not a number")
    else:
        value = _float(raw)
        if value is None:
            raise fail(f"value {raw!r:.80} is not a finite number")
    return value, plus_minus, percent


def _float(raw: Any) -> float | None:
    """`raw` as a finite float, or None."""
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _accuracy_like(metric: str) -> bool:
    return _ACCURACY.search(metric.lower()) is not None


def _percent_sources(parsed: list[tuple[str, dict[str, Any], Any]]) -> set[tuple[Any, Any]]:
    """The sources of an entry that report percentages: the Open LLM Leaderboard, and those
    with an accuracy-like value over 1 written without "%"."""
    found = set()
    for _, base, metric in parsed:
        source = (base["source_name"], base["source_url"])
        if any(_LEADERBOARD.search(s) for s in source if isinstance(s, str)):
            found.add(source)
        if not isinstance(metric, dict) or not _accuracy_like(str(metric.get("type"))):
            continue
        try:
            value, _, percent = _value(metric.get("value"), "", "")
        except ParseError:
            continue
        if value > 1 and not percent:  # a value marked "%" says nothing of the unmarked ones
            found.add(source)
    return found


def _unique(
    payload: Payload, items: list[Observation | Rejection]
) -> list[Observation | Rejection]:
    """One observation per measurement (a result repeated in the card is one measurement); a
    measurement reported with different values is refused."""
    out: list[Observation | Rejection] = [o for o in items if isinstance(o, Rejection)]
    groups: dict[tuple[Any, ...], list[Observation]] = {}
    for o in items:
        if isinstance(o, Observation):
            a = o.attributes
            what = (o.subject, o.benchmark, o.metric, a.get("split"), a.get("num_few_shot"))
            groups.setdefault(what, []).append(o)
    for group in groups.values():
        first = group[0]
        if len({o.value for o in group}) == 1:
            out.append(first)
            continue
        where = ", ".join(f"{o.value!r} at {o.attributes['record']}" for o in group[:4])
        message = f"{first.benchmark} {first.metric} of {first.subject!r} is reported with "
        message += f"different values: {where}"
        record = first.attributes["record"]
        out.append(rejected(payload, ParseError("invalid_value", message, record=record)))
    return out


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _file_model(src: str) -> str:
    """The model a card without a model-index name is about: the repository of a Hub URL
    (`.../ORG/MODEL/resolve/REVISION/README.md` or `.../ORG/MODEL/raw/...`), else the folder of
    a `README.md`, else the file's name."""
    parts = urlsplit(src).path.split("/") if is_url(src) else []
    for marker in ("resolve", "raw", "blob"):
        if marker in parts and parts.index(marker) >= 2:
            i = parts.index(marker)
            return _ident("/".join(parts[i - 2 : i]), src, "name")
    path = PurePath(urlsplit(src).path if is_url(src) else src)
    name = path.parent.name if path.name.lower() == "readme.md" else path.stem
    return _ident(name or path.name or "card", src, "name")


def _text(raw: Any) -> str | None:
    """A YAML scalar as text (YAML reads `name: 2024` as a number), or None."""
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    return None


def _ident(raw: Any, src: str, field: str, record: str | None = None) -> str:
    """An id the store keeps, from a YAML scalar (a number is its text)."""
    return require_id(_text(raw), src, field, record, raw=raw)


def _url(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) < 2000:
        return value if value.isprintable() else None
    return None

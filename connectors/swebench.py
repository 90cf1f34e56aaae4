"""SWE-bench results: the swebench.com leaderboard file, or SWE-bench/experiments run folders.

`layout: leaderboards` (the default) reads `data/leaderboards.json` of the swebench.com site
(SWE-bench/swe-bench.github.io): `{"leaderboards": [{"name": "Verified", "results": [...]}]}`.
Each entry is one observation of benchmark `SWE-bench <board name>`: each board is a benchmark of
its own, spelled "SWE-bench Verified", "SWE-bench Lite", "SWE-bench Test", "SWE-bench Multimodal",
"SWE-bench bash-only"; metric `resolved`; value `resolved` as given, a percentage (scale percent).

`layout: experiments` reads SWE-bench/experiments: for each
`evaluation/<split>/<YYYYMMDD_system>/results/results.json` (other JSON files, such as
`resolved_by_repo.json`, give nothing) the value is 100 x (distinct ids in its `resolved` list) /
(instances in the split). The total is the file's own `total_instances` when it states one, else
the feed option `split_sizes`, else SWE-bench's published size (Verified and bash-only 500, Lite
300, Test 2294); with none of them the run is refused, never guessed (Multimodal has no built-in
size). Attribute `total_from` says which. Name, model, organisation and flags come from the run's
`metadata.yaml` (or `.yml`), read with PyYAML's safe loader within a size and an alias limit.

The rules, both layouts:
- model: the `Model: <id>` tags (leaderboard) or `tags.model` (metadata), as spelled; several
  models (an ensemble) become one subject joined with " + " in the source's order, with attribute
  `models` listing them. An entry naming no model is rejected: its `name` is a system's name.
- observed_at: the entry's `date` (else the folder's `YYYYMMDD_` prefix), a submission date
  without a time or zone: taken as 00:00 UTC, attribute `timestamp_kind: submission_date`.
- `checked` (`verified` in old metadata): true/false, null (unknown: no attribute), or a string
  whose first word is true or false (the site writes "false (See README.md ...)"); any other
  string rejects the entry. `os_model` gives `open_weights`, `os_system` (`oss`) gives
  `open_source_system`. Org tags give `organisation` (the submitter, which need not be the model's
  developer; `organisations` when several). `measured_by`: `vendor` when the org tags are all
  the developer of every model the entry names (a lab's own submission; never on the bash-only
  board, which the SWE-bench team runs itself), else `independent`. `scaffold`: the entry's
  name (mini-SWE-agent and its version on entries that carry `mini-swe-agent_version`), which
  is also the observation's `variant`: one model's entries with several systems are one
  subject, and evaluation reads its most capable system (maximum elicitation). Also
  `attempts`, `warning`, `record`.
- n (leaderboard): the split's size when the percentage is exactly k/size at the precision given
  (some Verified entries have rates like 64.93 that no k/500 gives: then n is unknown).
- `per_instance_details` (bash-only entries) is not read: the site cuts or omits it.
Field facts and traps: shared/samples/FORMATS.md section 6.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from typing import Annotated, Any, BinaryIO, ClassVar, Literal

import yaml
from pydantic import ConfigDict, Field, Strict, ValidationInfo, field_validator

from connectors.developers import by_developer
from connectors.documents import (
    MAX_COUNT,
    MAX_ID,
    Bad,
    dedupe,
    is_id,
    json_document,
    safe_yaml,
    valid_count,
)
from connectors.files import read_all
from connectors.source import SourceOptions, is_url, payloads
from warden.core.errors import ParseError
from warden.core.model import Fetched, Observation, Payload, Rejection
from warden.core.plugins import options
from warden.ingest.connector import Cursor, content_key, rejected

METRIC = "resolved"
SPLITS = {"verified": "Verified", "lite": "Lite", "test": "Test", "multimodal": "Multimodal"}
SIZES = {"verified": 500, "lite": 300, "test": 2294, "bash-only": 500}
MAX_ALIASES = 50
_DAY_PREFIX = re.compile(r"(\d{8})_")


class Options(SourceOptions):
    model_config = ConfigDict(extra="forbid")

    layout: Literal["leaderboards", "experiments"] = "leaderboards"
    # Instances per split (folder or board name, any case), over the built-in sizes.
    split_sizes: dict[str, Annotated[int, Strict(), Field(gt=0, le=MAX_COUNT)]] = Field(
        default_factory=dict
    )
    max_bytes: int = Field(64 * 2**20, gt=0)
    max_metadata_bytes: int = Field(2**20, gt=0)

    @field_validator("layout")
    @classmethod
    def _local(cls, layout: str, info: ValidationInfo) -> str:
        if layout == "experiments" and is_url(str(info.data.get("source", ""))):
            raise ValueError("experiments reads a local checkout of SWE-bench/experiments")
        return layout


class SweBench:
    name: ClassVar[str] = "swebench"

    def __init__(self, raw_options: Mapping[str, Any], where: str = "swebench") -> None:
        self.options = options(Options, raw_options, where)
        given = {
            k.lower(): (v, "feed option split_sizes") for k, v in self.options.split_sizes.items()
        }
        self.sizes = {k: (v, "SWE-bench's published size") for k, v in SIZES.items()} | given

    def fetch(self, cursor: Cursor) -> Iterator[Fetched]:
        o = self.options
        if o.layout == "leaderboards":
            reader, what = read_all(o.max_bytes), "leaderboard files"
        else:
            reader, what = self._read_run, "results.json files"
        return payloads(
            o.source,
            (".json",),
            cursor,
            reader,
            what,
            limits=o.fetch,
            links_outside=o.links_outside,
        )

    def _read_run(self, fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        """results.json and its run's metadata file, as one JSON envelope for `parse`."""
        if not is_results(source):
            return b"", None  # resolved_by_repo.json and the like: nothing to read
        results = read_all(self.options.max_bytes)(fp, source)[0]
        run = Path(source).parent.parent
        envelope: dict[str, str | None] = {"metadata": None, "metadata_file": None}
        for name in ("metadata.yaml", "metadata.yml"):
            if (run / name).is_file():
                with (run / name).open("rb") as meta:
                    text = meta.read(self.options.max_metadata_bytes + 1)
                if len(text) > self.options.max_metadata_bytes:
                    limit = self.options.max_metadata_bytes
                    raise _error(source, "too_large", f"{name} is over {limit} bytes", field=name)
                envelope = {"metadata": _text(text, source, name), "metadata_file": name}
                break
        envelope["results"] = _text(results, source, "results.json")
        return json.dumps(envelope).encode(), None

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        if self.options.layout == "leaderboards":
            return parse_leaderboards(payload, self.sizes)
        if not is_results(payload.source):
            return []
        return [parse_run(payload, self.sizes)]


Sizes = dict[str, tuple[int, str]]


def is_results(source: str) -> bool:
    parts = PurePath(source).parts
    return len(parts) >= 2 and parts[-2:] == ("results", "results.json")


def _text(data: bytes, source: str, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError("malformed", f"{name} is not UTF-8 text", source=source) from exc


# -- leaderboards.json -----------------------------------------------------------------------
def parse_leaderboards(payload: Payload, sizes: Sizes) -> list[Observation | Rejection]:
    src = payload.source
    doc = json_document(payload.content, src, "the leaderboard file")
    boards = doc.get("leaderboards") if isinstance(doc, dict) else None
    if not isinstance(boards, list):
        found = f"keys {sorted(doc)[:10]}" if isinstance(doc, dict) else type(doc).__name__
        why = (
            f'not a SWE-bench leaderboards.json: expected {{"leaderboards": [...]}}, found {found}'
        )
        raise _error(src, "malformed", why[:300], field="leaderboards")
    out: list[Observation | Rejection] = []
    for i, board in enumerate(boards):
        name = board.get("name") if isinstance(board, dict) else None
        results = board.get("results") if isinstance(board, dict) else None
        if not is_id(name) or not isinstance(results, list):
            record = f"leaderboards[{i}]"
            message = f"{record} is not a board with a name and a results list"
            out.append(
                rejected(payload, ParseError("malformed", message, source=src, record=record))
            )
            continue
        for j, entry in enumerate(results):
            try:
                out.append(_entry(payload, name, j, entry, sizes))
            except ParseError as exc:
                out.append(rejected(payload, exc))
    return dedupe(out)


def _entry(payload: Payload, board: str, j: int, entry: Any, sizes: Sizes) -> Observation:
    if not isinstance(entry, dict):
        why = f"{board} entry {j} is not an object: {entry!r:.80}"
        raise _error(payload.source, "invalid_value", why, f"{board}[{j}]")
    folder = entry.get("folder") if is_id(entry.get("folder")) else None
    record = f"{board}/{folder}" if folder else f"{board}[{j}]"
    field = "resolved"
    try:
        value = _percent(entry.get("resolved"))
        field = "tags"
        tags = _tags(entry.get("tags"))
        models = tags.get("model", [])
        name = entry.get("name") if is_id(entry.get("name")) else None
        if not models:
            raise Bad("missing_field", f"no 'Model: ...' tag: the entry ({name!r}) names no model")
        field = "date"
        observed_at = _day(entry.get("date"), folder)
        field = "checked"
        checked = _checked(entry.get("checked"))
    except Bad as exc:
        raise _error(payload.source, exc.reason, f"{record}: {exc.message}", record, field) from exc
    version = entry.get("mini-swe-agent_version")
    scaffold = f"mini-SWE-agent {version}" if is_id(version) else name
    size = sizes.get(board.lower())
    attrs = _attributes(record, models, tags.get("org", []), checked, scaffold, name)
    # The bash-only board is run by the SWE-bench team itself, whatever its org tags say.
    own_entry = board.lower() != "bash-only" and by_developer(models, tags.get("org", []))
    attrs["measured_by"] = "vendor" if own_entry else "independent"
    attrs |= _flags(entry.get("os_model"), entry.get("os_system"))
    if tags.get("attempts"):
        attrs["attempts"] = tags["attempts"][0]
    if isinstance(entry.get("warning"), str) and entry["warning"].strip():
        attrs["warning"] = entry["warning"].strip()[:500]
    if folder:
        attrs["folder"] = folder
    benchmark = f"SWE-bench {board}"
    return _observation(
        payload,
        benchmark,
        models,
        value,
        observed_at,
        attrs,
        n=_n(value, size[0] if size else None),
        key=(benchmark, folder or name, observed_at.date(), value),
    )


def _percent(raw: Any) -> float:
    if raw is None:
        raise Bad("missing_field", "no resolved rate")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise Bad("invalid_value", f"expected a percentage, found {raw!r:.80}")
    value = float(raw) if -1e300 < raw < 1e300 else math.inf
    if not 0 <= value <= 100:  # NaN fails too
        raise Bad("invalid_value", f"expected a percentage from 0 to 100, found {raw!r:.80}")
    return value


def _tags(raw: Any) -> dict[str, list[str]]:
    """`Model: x`, `Org: y`, `System: Attempts - 2+` tags by their lower-cased prefix."""
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise Bad("invalid_value", f"expected a list of 'Key: value' strings, found {raw!r:.80}")
    out: dict[str, list[str]] = {}
    for tag in raw:
        key, _, text = tag.partition(":")
        key, text = key.strip().lower(), text.strip()
        if key == "system" and text.lower().startswith("attempts"):
            key, text = "attempts", text[len("attempts") :].strip(" -:")
        if text and text not in out.setdefault(key, []):
            out[key].append(text)
    return out


def _checked(raw: Any) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = re.match(r"\s*(true|false)\b", raw, re.IGNORECASE)
        if word:
            return word.group(1).lower() == "true"
    raise Bad("invalid_value", f"expected true or false, found {raw!r:.80}")


def _day(raw: Any, folder: str | None) -> datetime:
    """A submission date (or time) as aware UTC; a date alone is midnight UTC."""
    if raw is None and folder and _DAY_PREFIX.match(folder):
        raw = folder[:8]
    if isinstance(raw, datetime):
        when = raw
    elif isinstance(raw, date) or (isinstance(raw, str) and len(raw.strip()) in (8, 10)):
        try:
            day = raw if isinstance(raw, date) else date.fromisoformat(raw.strip())
        except ValueError as exc:
            raise Bad("invalid_value", f"expected a date, found {raw!r:.80}") from exc
        when = datetime(day.year, day.month, day.day)
    elif isinstance(raw, str):
        try:
            when = datetime.fromisoformat(raw.strip())
        except ValueError as exc:
            raise Bad("invalid_value", f"expected a date, found {raw!r:.80}") from exc
    else:
        raise Bad("missing_field", f"no submission date (date or a YYYYMMDD_ folder): {raw!r:.80}")
    try:
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError as exc:
        raise Bad("invalid_value", f"date {raw!r:.80} is out of range") from exc


def _n(value: float, size: int | None) -> int | None:
    """`size` when `value` is k/size as a percentage at the precision written."""
    if size is None:
        return None
    decimals = len(repr(value).partition(".")[2]) if "e" not in repr(value) else 0
    solved = round(value * size / 100)
    return size if round(100 * solved / size, decimals) == value else None


# -- experiments -----------------------------------------------------------------------------
def parse_run(payload: Payload, sizes: Sizes) -> Observation:
    src = payload.source
    split, folder = _run_path(src)
    record = f"{split}/{folder}"
    envelope = json_document(payload.content, src, "the run")
    if not isinstance(envelope, dict) or not isinstance(envelope.get("results"), str):
        raise _error(src, "malformed", "not a run as this connector reads it (see _read_run)")
    meta_name = (
        "metadata.yml" if envelope.get("metadata_file") == "metadata.yml" else "metadata.yaml"
    )
    field = "results.json"
    try:
        count, total, total_from = _resolved(envelope["results"], src, split, sizes)
        field = meta_name
        if not isinstance(envelope.get("metadata"), str):
            raise Bad("missing_field", "no metadata.yaml beside results/: the model is unknown")
        meta = load_yaml(envelope["metadata"], src, meta_name)
        info, tags = _obj(meta, "info"), _obj(meta, "tags")
        name = _first(info.get("name"), meta.get("name"))
        models = _names(tags.get("model"))
        if not models:
            raise Bad("missing_field", f"tags.model is missing: the run ({name!r}) names no model")
        field = "date"
        observed_at = _day(_first(meta.get("date"), info.get("date")), folder)
        field = "tags.checked"
        checked = _checked(_first(tags.get("checked"), meta.get("verified")))
    except Bad as exc:
        raise _error(src, exc.reason, f"{record}: {exc.message}", record, field) from exc
    value = 100 * count / total
    attrs = _attributes(record, models, _names(tags.get("org")), checked, name, name)
    own_run = by_developer(models, _names(tags.get("org")))
    attrs["measured_by"] = "vendor" if own_run else "independent"
    attrs |= _flags(tags.get("os_model"), _first(tags.get("os_system"), meta.get("oss")))
    attempts = _obj(tags, "system").get("attempts")
    if isinstance(attempts, str | int) and not isinstance(attempts, bool) and is_id(str(attempts)):
        attrs["attempts"] = str(attempts)
    attrs |= {
        "folder": folder,
        "resolved_count": count,
        "total_instances": total,
        "total_from": total_from,
        "metadata_file": meta_name,
    }
    benchmark = f"SWE-bench {SPLITS.get(split.lower(), split)}"
    return _observation(
        payload,
        benchmark,
        models,
        value,
        observed_at,
        attrs,
        n=total,
        key=(benchmark, folder, count, total),
    )


def _run_path(src: str) -> tuple[str, str]:
    """(split, folder) from `.../evaluation/<split>/<folder>/results/results.json`."""
    parts = PurePath(src).parts
    shape = "evaluation/<split>/<folder>/results/results.json"
    if len(parts) < 4 or not (is_id(parts[-4]) and is_id(parts[-3])):
        raise _error(src, "malformed", f"expected a path ending {shape}")
    if "evaluation" in parts[:-4] and parts[-5] != "evaluation":
        found = "/".join(parts[parts.index("evaluation") : -2])
        why = f"expected {shape}, found {found} (Multi-SWE-bench's? it is another benchmark)"
        raise _error(src, "malformed", why)
    return parts[-4], parts[-3]


def _resolved(text: str, src: str, split: str, sizes: Sizes) -> tuple[int, int, str]:
    """(distinct resolved ids, total instances, where the total comes from)."""
    doc = json_document(text, src, "results.json")
    ids = doc.get("resolved", doc.get("resolved_ids")) if isinstance(doc, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Bad("missing_field", "expected a 'resolved' list of instance ids")
    total, total_from = doc.get("total_instances"), "results.json total_instances"
    if not valid_count(total):  # not a count, or 0
        total, total_from = sizes.get(split.lower(), (None, ""))
    if total is None:
        raise Bad(
            "missing_field",
            f"the number of instances of split {split!r} is unknown; "
            f"set the feed option split_sizes: {{{split}: N}}",
        )
    count = len(set(ids))
    if count > total:
        raise Bad("invalid_value", f"{count} instances resolved out of {total} ({total_from})")
    return count, total, total_from


def load_yaml(text: str, src: str, name: str) -> dict[str, Any]:
    try:
        doc = safe_yaml(text, MAX_ALIASES)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        shown = " ".join("".join(c if c.isprintable() else " " for c in str(exc)).split())
        raise _error(src, "malformed", f"{name} is not YAML: {shown[:300]}", field=name) from exc
    if not isinstance(doc, dict):
        raise _error(src, "malformed", f"{name} is not a mapping", field=name)
    return doc


# -- shared ----------------------------------------------------------------------------------
def _observation(
    payload: Payload,
    benchmark: str,
    models: list[str],
    value: float,
    observed_at: datetime,
    attrs: dict[str, Any],
    n: int | None,
    key: tuple[Any, ...],
) -> Observation:
    subject = " + ".join(models)
    if not (is_id(subject) and is_id(benchmark)):
        record, both = attrs["record"], f"{subject[:80]!r} or {benchmark[:80]!r}"
        why = f"{record}: {both} is not an id (1 to {MAX_ID} printable characters)"
        raise _error(payload.source, "invalid_value", why, record)
    return Observation(
        subject=subject,
        benchmark=benchmark,
        metric=METRIC,
        value=value,
        observed_at=observed_at,
        key=content_key(*key, subject),
        source=payload.source,
        content_hash=payload.content_hash,
        n=n,
        attributes=attrs,
    )


def _attributes(
    record: str, models: list[str], orgs: list[str], checked: bool | None, scaffold: Any, name: Any
) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "scale": "percent",
        "record": record,
        "timestamp_kind": "submission_date",
    }
    if len(models) > 1:
        attrs["models"] = models
    if orgs:
        attrs["organisation"] = orgs[0]
    if len(orgs) > 1:
        attrs["organisations"] = orgs
    if checked is not None:
        attrs["checked"] = checked
    if is_id(scaffold):
        attrs["scaffold"] = attrs["variant"] = scaffold
    if is_id(name):
        attrs["entry_name"] = name
    return attrs


def _flags(os_model: Any, os_system: Any) -> dict[str, bool]:
    flags = {"open_weights": os_model, "open_source_system": os_system}
    return {k: v for k, v in flags.items() if isinstance(v, bool)}


def _error(
    src: str, reason: str, message: str, record: str | None = None, field: str | None = None
) -> ParseError:
    return ParseError(reason, message, source=src, record=record, field=field)


def _obj(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _names(raw: Any) -> list[str]:
    """A name or a list of names, stripped, de-duplicated, in order; others are dropped."""
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and item.strip() and item.strip() not in out:
            out.append(item.strip())
    return out

"""HELM suite output: `benchmark_output/runs/<suite>/<run name>/` folders.

Each run folder holds `run_spec.json` (what was run: the run name, the scenario, the adapter with
the model) and `stats.json` (a list of HELM `Stat`s aggregated over the instances), plus scenario
and per-instance files that can be huge and are never read. One run folder is one payload:
`fetch` finds the `stats.json` files and reads each with its sibling `run_spec.json`, packing
both texts unchanged into one small JSON envelope (`pack`), so `parse` stays pure and the
payload's hash covers exactly the bytes read. Field facts: shared/samples/FORMATS.md section 3.

What is emitted, per run: one observation per stat on the run's split (`test` when the run has
any test stats, else `valid`), with no `perturbation` and no `sub_split` (HELM repeats every
metric per split, per sub-split and per robustness/fairness perturbation: counting them all would
double-count). subject = `adapter_spec.model` (else `model_deployment`); benchmark =
`helm/<scenario>[:<args>]` from the run name (`mmlu:subject=philosophy,method=...,model=...`
gives `helm/mmlu:subject=philosophy,method=multiple_choice_joint`): the arguments other than
`model`/`model_deployment` stay in the id because they change what is measured (GPQA's
`subset=gpqa_diamond` vs `gpqa_main`); metric = the stat name; value = `mean`; n = the
`num_instances` stat of the same split. The traps:

- `Stat.count` is the number of train trials, not of samples; `stddev` is across trials, not a
  standard error: stderr is left empty.
- Stats without values (`count` 0, no `mean`, as `training_co2_cost`) are skipped, not rejected.
- Run folder names may have `:` replaced by `-` (Windows copies): the run name is read from
  `run_spec.json`, never from the folder.
- HELM gives no time: observed_at is the `stats.json` modification time (`timestamp_kind`
  "fetched"). Keys hold the run name, metric, split, value and n, not the time, so touching or
  copying a run adds nothing while a re-run with new numbers is a new observation.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path, PurePath
from typing import Any, BinaryIO, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.documents import fetch_time, json_document, require_id, short_text, valid_count
from connectors.source import is_url, payloads
from warden.core.errors import ParseError
from warden.core.model import Fetched, Observation, Payload, Rejection
from warden.core.plugins import options
from warden.ingest.connector import Cursor, content_key, rejected

STATS = "stats.json"
RUN_SPEC = "run_spec.json"
ENVELOPE = "warden.helm_run/1"
SPLITS = ("test", "valid")  # the first one a run has stats for is the one read
MODEL_ARGS = ("model", "model_deployment")
# Means of per-instance 0/1 (or 0..1) scores: fractions. `@k` variants (exact_match@5) too.
FRACTION_METRICS = frozenset(
    {
        "exact_match",
        "quasi_exact_match",
        "prefix_exact_match",
        "quasi_prefix_exact_match",
        "exact_match_indicator",
        "final_number_exact_match",
        "f1_score",
        "math_equiv",
        "math_equiv_chain_of_thought",
        "chain_of_thought_correctness",
        "omni_math_accuracy",
        "ifeval_strict_accuracy",
        "prompt_truncated",
        "max_prob",
        "finish_reason_length",
        "finish_reason_stop",
        "finish_reason_endoftext",
        "finish_reason_unknown",
    }
)
SECONDS_METRICS = frozenset(
    {"inference_runtime", "inference_denoised_runtime", "inference_idealized_runtime"}
)


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)  # a suite folder, a run folder or a stats.json file
    max_stats_bytes: int = Field(256 * 2**20, gt=0)
    max_run_spec_bytes: int = Field(4 * 2**20, gt=0)

    @field_validator("source")
    @classmethod
    def _local(cls, value: str) -> str:
        if is_url(value):
            raise ValueError(
                "HELM runs are read from a local folder (stats.json and run_spec.json are read "
                "together), not from a URL"
            )
        return value


class Helm:
    name: ClassVar[str] = "helm"

    def __init__(self, raw_options: Mapping[str, Any], where: str = "helm") -> None:
        self.options = options(Options, raw_options, where)

    # -- fetch: I/O ---------------------------------------------------------------------------
    def fetch(self, cursor: Cursor) -> Iterator[Fetched]:
        root = Path(self.options.source)
        if root.is_dir():
            runs = sorted(
                p
                for p in root.rglob(STATS)
                if not any(part.startswith(".") for part in p.relative_to(root).parts)
                and p.is_file()
            )
            if not runs:
                yield Rejection(
                    str(root), "malformed", f"no HELM run folders ({STATS}) found in the folder"
                )
                return
        elif root.is_file() and root.name != STATS:
            message = f"not a HELM suite folder, run folder or {STATS} (archives are not read)"
            yield Rejection(str(root), "malformed", message)
            return
        else:
            runs = [root]  # a stats.json itself; a missing path fails the run in `payloads`
        for path in runs:
            yield from payloads(path, (".json",), cursor, self._read, "HELM runs")

    def _read(self, fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        stats = _read_limited(fp, self.options.max_stats_bytes, source, STATS)
        spec_path = Path(source).with_name(RUN_SPEC)
        try:
            with spec_path.open("rb") as spec_fp:
                spec = _read_limited(spec_fp, self.options.max_run_spec_bytes, source, RUN_SPEC)
        except FileNotFoundError as exc:
            raise ParseError(
                "missing_field",
                f"the run folder has {STATS} but no {RUN_SPEC} beside it",
                source=source,
                field=RUN_SPEC,
            ) from exc
        return pack(spec, stats, source), None

    # -- parse: pure --------------------------------------------------------------------------
    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        return parse_run(payload)


def _read_limited(fp: BinaryIO, limit: int, source: str, name: str) -> bytes:
    content = fp.read(limit + 1)
    if len(content) > limit:
        raise ParseError(
            "too_large", f"{name} is over the {limit}-byte limit", source=source, field=name
        )
    return content


def pack(run_spec: bytes, stats: bytes, source: str = "") -> bytes:
    """One payload from a run folder's two files: their texts, unchanged, in a JSON envelope."""
    texts = {}
    for name, data in ((RUN_SPEC, run_spec), (STATS, stats)):
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(
                "malformed", f"{name} is not UTF-8 text: {exc}", source=source, field=name
            ) from exc
    return json.dumps({"format": ENVELOPE, **texts}).encode()


def parse_run(payload: Payload) -> list[Observation | Rejection]:
    """Observations from one packed run folder (see `pack`)."""
    src = payload.source
    envelope = json_document(payload.content, src, "the HELM run payload")
    if not isinstance(envelope, dict) or envelope.get("format") != ENVELOPE:
        message = "not a HELM run payload (the envelope the helm connector's fetch writes)"
        raise ParseError("malformed", message, source=src)
    spec = _document(envelope, RUN_SPEC, dict, src)
    stats = _document(envelope, STATS, list, src)
    run_name = _text(spec, "name", src)
    adapter = spec.get("adapter_spec")
    if not isinstance(adapter, dict):
        message = "run_spec.json has no adapter_spec object"
        raise ParseError("missing_field", message, source=src, field="run_spec.json: adapter_spec")
    key = "model" if isinstance(adapter.get("model"), str) else "model_deployment"
    model = require_id(_text(adapter, key, src, "adapter_spec."), src, f"adapter_spec.{key}")
    scenario, args = _scenario(run_name)
    benchmark = require_id("helm/" + scenario + (":" + args if args else ""), src, "name")
    observed_at = fetch_time(payload, "HELM stats")
    split = _split(stats, src)
    n = _instances(stats, split)
    attributes: dict[str, Any] = {
        "measured_by": "independent",
        "timestamp_kind": "fetched",
        "split": split,
        "record": PurePath(src).parent.name or src,
        "run": short_text(run_name),
        "scenario": short_text(scenario),
        "scenario_class": short_text(_get(spec, "scenario_spec", "class_name")),
        "model_deployment": short_text(adapter.get("model_deployment")),
        "max_eval_instances": valid_count(adapter.get("max_eval_instances")),
    }
    out: list[Observation | Rejection] = []
    found: dict[str, list[tuple[int, float]]] = {}  # metric -> (stat index, mean), in order
    for i, stat in enumerate(stats):
        try:
            got = _stat(stat, split, src, f"stats[{i}]")
        except ParseError as exc:
            out.append(rejected(payload, exc))
            continue
        if got is not None:
            found.setdefault(got[0], []).append((i, got[1]))
    for metric, rows in found.items():
        if len({value for _, value in rows}) > 1:
            where = ", ".join(f"{value!r} at stats[{i}]" for i, value in rows[:4])
            message = f"stat {metric!r} ({split}) appears with different means: {where}"
            error = ParseError(
                "invalid_value", message, source=src, record=f"stats[{rows[0][0]}]", field="mean"
            )
            out.append(rejected(payload, error))
            continue
        value = rows[0][1]  # repeated rows with the same mean are one observation
        out.append(
            Observation(
                subject=model,
                benchmark=benchmark,
                metric=metric,
                value=value,
                observed_at=observed_at,
                key=content_key("helm", run_name, metric, split, repr(value), n),
                source=src,
                content_hash=payload.content_hash,
                n=n,
                attributes={**attributes, "scale": _scale(metric)},
            )
        )
    return out


def _document(envelope: dict[str, Any], name: str, kind: type, src: str) -> Any:
    text = envelope.get(name)
    if not isinstance(text, str):
        raise ParseError("missing_field", f"the payload has no {name}", source=src, field=name)
    # HELM writes its files in place: an early end (even an empty file) is a file still being
    # written.
    if not text.strip():
        message = f"{name} is empty: a file still being written?"
        raise ParseError("truncated", message, source=src, field=name)
    doc = json_document(text, src, name, field=name)
    if not isinstance(doc, kind):
        what = "an object" if kind is dict else "a list of stats"
        raise ParseError(
            "malformed",
            f"{name} is not {what}: got {type(doc).__name__}",
            source=src,
            field=name,
        )
    return doc


def _text(obj: dict[str, Any], key: str, src: str, prefix: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        field = f"run_spec.json: {prefix}{key}"
        if value is None:
            raise ParseError("missing_field", f"{prefix}{key} is missing", source=src, field=field)
        raise ParseError(
            "invalid_value",
            f"{prefix}{key}: expected text, got {value!r:.80}",
            source=src,
            field=field,
        )
    return value


def _scenario(run_name: str) -> tuple[str, str]:
    """(scenario, arguments other than the model) of a run name `scenario:k=v,k=v,...`."""
    scenario, _, args = run_name.partition(":")
    kept = [a for a in args.split(",") if a and a.partition("=")[0] not in MODEL_ARGS]
    return scenario, ",".join(kept)


def _split(stats: list[Any], src: str) -> str:
    names = [stat.get("name") for stat in stats if isinstance(stat, dict)]
    splits = [n.get("split") for n in names if isinstance(n, dict) and _plain(n)]
    for split in SPLITS:
        if split in splits:
            return split
    raise ParseError(
        "missing_field",
        "stats.json holds no stat on the test or valid split without a perturbation",
        source=src,
        field=STATS,
    )


def _plain(name: dict[str, Any]) -> bool:
    """A whole-split stat: no perturbation, no sub-split."""
    return name.get("perturbation") is None and name.get("sub_split") is None


def _stat(stat: Any, split: str, src: str, record: str) -> tuple[str, float] | None:
    """(metric, mean) of one stat on `split`; None for stats of other splits, of perturbed or
    sub-split data, and stats without values."""
    fail = partial(ParseError, source=src, record=record)
    name = stat.get("name") if isinstance(stat, dict) else None
    if not isinstance(name, dict):
        raise fail("malformed", "stat is not an object with a name object", field="name")
    if name.get("split") != split or not _plain(name):
        return None
    metric = name.get("name")
    if not isinstance(metric, str):
        raise fail("missing_field", f"stat has no name text: {metric!r:.80}", field="name.name")
    require_id(metric, src, "name.name", record)
    what = f"stat {metric!r} ({split})"
    mean = stat["mean"] if isinstance(stat, dict) and "mean" in stat else None
    if mean is None:
        if stat.get("count") == 0:
            return None  # HELM's way to say "no values" (training_co2_cost on most models)
        raise fail("missing_field", f"{what} has a count but no mean", field="mean")
    if isinstance(mean, bool) or not isinstance(mean, int | float):
        raise fail("invalid_value", f"{what}: mean {mean!r:.80} is not a number", field="mean")
    try:
        value = float(mean)
    except OverflowError as exc:
        raise fail("invalid_value", f"{what}: mean is out of range", field="mean") from exc
    if not math.isfinite(value):
        raise fail("invalid_value", f"{what}: mean {value!r} is not finite", field="mean")
    if _scale(metric) == "fraction" and not 0 <= value <= 1:
        raise fail("invalid_value", f"{what}: mean {value!r} is outside 0..1", field="mean")
    return metric, value


def _instances(stats: list[Any], split: str) -> int | None:
    """The sample count: the `num_instances` stat's mean on `split` (a whole number)."""
    for stat in stats:
        name = stat.get("name") if isinstance(stat, dict) else None
        if (
            isinstance(name, dict)
            and name.get("name") == "num_instances"
            and name.get("split") == split
            and _plain(name)
        ):
            mean = stat.get("mean")
            if isinstance(mean, float) and mean.is_integer():
                mean = int(mean)
            return valid_count(mean)
    return None


def _scale(metric: str) -> str:
    base = re.sub(r"@\d+$", "", metric)
    if base in FRACTION_METRICS:
        return "fraction"
    if base in SECONDS_METRICS:
        return "seconds"
    return "points"


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj

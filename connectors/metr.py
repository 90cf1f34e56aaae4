"""METR's time-horizon results (FORMATS.md section 5), and Epoch's copy of them.

`https://metr.org/assets/benchmark_results_1_1.yaml` (TH 1.1) and `..._1_0.yaml` (TH 1.0):

    benchmark_name: METR-Horizon-v1.1            # "METR-Horizon-v1" in the 1.0 file
    long_tasks_version: <sha>   swaa_version: <sha>
    doubling_time_in_days: {...}                 # a trend over models: not an observation
    results:
      <model key>:                               # METR's own key: gpt_5, claude_opus_4_5_inspect
        benchmark_name: METR-Horizon-v1.1        # per entry in 1.1; carried-over ones say v1.0
        release_date: 2024-06-20                 # a YAML date
        scaffolds: [..., null]
        metrics:
          p50_horizon_length: {estimate, ci_low, ci_high}   # minutes of human-expert time
          p80_horizon_length: {estimate, ci_low, ci_high}
          average_score: {estimate}
          is_sota | is_sota_p50, is_sota_p80: bool
          usage: {usd, working_time}             # dropped in later copies

One observation per model x metric (`p50_horizon_length`, `p80_horizon_length`): subject = the
model key as METR spells it; benchmark = the entry's `benchmark_name` (else the file's); value =
the estimate in minutes (`scale: minutes`), no stderr, and the asymmetric 95 % bootstrap CI as
`ci_low` / `ci_high` / `ci_level: 0.95` (never turned into a symmetric stderr). The file has no
measurement time, only release dates, so observed_at is when the file was fetched
(`payload.fetched_at`, `timestamp_kind: fetched`) and the release date is an attribute.
`source_version` is the file's top-level `benchmark_name` and `source_date` the newest release
date among its results (the file's own date: it cannot be older than its newest model); with
them, forecasts order two copies of the results by the file's version, then its date, not by
when the files were fetched or copied (warden/forecasting/dating.py). `long_tasks_version`,
`swaa_version`, `average_score`, `is_sota` and `scaffold` (the scaffolds joined by "; ") are
attributes too. The scaffolds are not a `variant`: a file gives one estimate per model (no file
lists a model under two keys), and its scaffolds change with the file's version (TH 1.0's
flock-public, TH 1.1's Inspect agents) because METR re-ran its whole suite, not because it
elicited the model two ways. Made variants, they would let a superseded TH 1.0 estimate, and
Epoch's unversioned copies of it, outvote METR's re-estimate under maximum elicitation; as
one series, the newer estimate replaces the older, and the forecasts' source-version rule
(warden/forecasting/dating.py) applies. Epoch's copy (below) does carry Epoch's effort suffix
as a variant. The key is the content (version, benchmark, model, metric, estimate and CI), not
the fetch time: re-fetching unchanged numbers adds nothing, while a re-estimate (METR revises
old models when the task suite changes) is a new observation, dated when it was first fetched.

Epoch's copy (`metr_time_horizons_external.csv` in the benchmarking hub) is read too, with the
hub's CSV reader (connectors.epoch_benchmarks) but dated the same way: metric `Time horizon`
(the p50, minutes), benchmark `metr_time_horizons_external`.

YAML is read by `documents.safe_yaml` after a size check: plain block YAML, as METR writes it,
by connectors/blockyaml.py's line reader, anything else by PyYAML's safe loader (no Python
objects; libyaml's when available); a document with anchors is refused when its aliases would
expand it past MAX_EXPANDED values (a "billion laughs" file is refused, not expanded), and
nesting too deep is refused. Bad entries (no metrics, an estimate that is not a finite
non-negative number, ci_low above ci_high) are rejected one by one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar

import yaml
from pydantic import Field

from connectors.documents import (
    MAX_ID,
    TooManyAliases,
    fetch_time,
    finite_number,
    is_id,
    safe_yaml,
    short_text,
)
from connectors.epoch_benchmarks import parse_hub
from connectors.source import DocumentOptions, Documents
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import content_key, rejected

SUFFIXES = (".yaml", ".yml", ".csv")
METRICS = ("p50_horizon_length", "p80_horizon_length")
CI_LEVEL = 0.95
MAX_BYTES = 16 * 2**20
MAX_EXPANDED = 1_000_000  # values, counting each alias as a copy of what it names
Bad = Callable[..., ParseError]  # (reason, message, field) -> the error for one entry


class Options(DocumentOptions):
    max_bytes: int = Field(MAX_BYTES, gt=0)


class MetrHorizons(Documents):
    name: ClassVar[str] = "metr_horizons"
    SUFFIXES = SUFFIXES
    WHAT = "METR time-horizon files"
    OPTIONS = Options

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        if (payload.member or payload.source).split("?")[0].casefold().endswith(".csv"):
            return parse_hub(payload, fetched=True)
        return parse_results(payload, self.options.max_bytes)


def load_yaml(payload: Payload, limit: int = MAX_BYTES) -> Any:
    """The YAML document in `payload`, or ParseError (size, syntax, aliases, depth)."""
    src = payload.source
    if len(payload.content) > limit:
        raise ParseError("too_large", f"the file is over the {limit}-byte limit", source=src)
    try:
        text = payload.content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError("malformed", f"not UTF-8 text ({exc.reason})", source=src) from exc
    try:
        return safe_yaml(text, max_values=MAX_EXPANDED)
    except TooManyAliases as exc:
        raise ParseError(
            "malformed",
            f"YAML aliases expand the document past {MAX_EXPANDED} values (a 'billion "
            "laughs' document): refused",
            source=src,
        ) from exc
    except RecursionError as exc:
        raise ParseError("malformed", "YAML nested too deeply", source=src) from exc
    except yaml.YAMLError as exc:
        raise ParseError("malformed", f"invalid YAML: {_line(exc)}", source=src) from exc
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date 2024-13-45
        raise ParseError("malformed", f"invalid YAML value: {exc}", source=src) from exc


def _line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def parse_results(payload: Payload, limit: int = MAX_BYTES) -> list[Observation | Rejection]:
    """Observations from one METR `benchmark_results_*.yaml`."""
    src = payload.source
    doc = load_yaml(payload, limit)
    if not isinstance(doc, dict):
        raise ParseError(
            "malformed", "top level is not a mapping: not a METR results file", source=src
        )
    version = doc.get("benchmark_name")
    if not is_id(version):
        raise ParseError(
            "missing_field",
            f"benchmark_name must name the file's version, found {version!r:.80}",
            source=src,
            field="benchmark_name",
        )
    results = doc.get("results")
    if not isinstance(results, dict):
        raise ParseError(
            "missing_field", "no results mapping of models", source=src, field="results"
        )
    fetched_at = fetch_time(payload, "METR's results")
    shared = {
        "source_version": version,
        "source_date": _newest_release(results),
        "long_tasks_version": short_text(doc.get("long_tasks_version")),
        "swaa_version": short_text(doc.get("swaa_version")),
        "member": payload.member,
    }
    out: list[Observation | Rejection] = []
    for model, entry in results.items():
        try:
            out.extend(_entry(payload, version, shared, model, entry, fetched_at))
        except ParseError as exc:
            out.append(rejected(payload, exc))
    return out


def _entry(
    payload: Payload,
    version: str,
    shared: dict[str, Any],
    model: Any,
    entry: Any,
    fetched_at: datetime,
) -> list[Observation]:
    src = payload.source
    record = repr(model)[:MAX_ID] if not isinstance(model, str) else model[:MAX_ID]

    def bad(reason: str, message: str, field: str | None = None) -> ParseError:
        return ParseError(reason, message, source=src, record=record, field=field)

    if not is_id(model):
        raise bad(
            "invalid_value", f"model key {model!r:.80} is not an id (1 to {MAX_ID} characters)"
        )
    if not isinstance(entry, dict):
        raise bad("invalid_value", f"the entry is not a mapping but {type(entry).__name__}")
    benchmark = entry.get("benchmark_name", version)
    if not is_id(benchmark):
        raise bad(
            "invalid_value", f"benchmark_name {benchmark!r:.80} is not a name", "benchmark_name"
        )
    metrics = entry.get("metrics")
    if not isinstance(metrics, dict):
        raise bad("missing_field", "the entry has no metrics mapping", "metrics")
    release = _release(entry.get("release_date"), bad)
    scaffolds = entry.get("scaffolds")
    scaffold = (
        "; ".join(s for s in scaffolds if isinstance(s, str))
        if isinstance(scaffolds, list)
        else None
    )
    average = metrics.get("average_score")
    average = average.get("estimate") if isinstance(average, dict) else None
    base = {
        **shared,
        "scale": "minutes",
        "ci_level": CI_LEVEL,
        "measured_by": "independent",
        "timestamp_kind": "fetched",
        "release_date": release,
        "scaffold": scaffold or None,
        "average_score": average if finite_number(average) is not None else None,
        "record": model,
    }
    found = [m for m in METRICS if m in metrics]
    if not found:
        raise bad("missing_field", f"the entry has none of {list(METRICS)}", "metrics")
    out = []
    for metric in found:
        field = f"metrics.{metric}"
        given = metrics[metric]
        if not isinstance(given, dict):
            raise bad("invalid_value", f"{metric} is not a mapping", field)
        value = _number(given.get("estimate"), bad, f"{field}.estimate", required=True)
        assert value is not None
        low = _number(given.get("ci_low"), bad, f"{field}.ci_low")
        high = _number(given.get("ci_high"), bad, f"{field}.ci_high")
        if low is not None and high is not None and low > high:
            raise bad("invalid_value", f"ci_low {low!r} is above ci_high {high!r}", field)
        sota = metrics.get(f"is_sota_{metric[:3]}", metrics.get("is_sota"))
        attributes = {
            **base,
            "ci_low": low,
            "ci_high": high,
            "is_sota": sota if isinstance(sota, bool) else None,
        }
        out.append(
            Observation(
                subject=model,
                benchmark=benchmark,
                metric=metric,
                value=value,
                observed_at=fetched_at,
                key=content_key(version, benchmark, model, metric, value, low, high),
                source=src,
                content_hash=payload.content_hash,
                attributes={k: v for k, v in attributes.items() if v is not None},
            )
        )
    return out


def _newest_release(results: dict[Any, Any]) -> str | None:
    """The newest well-formed release date among the entries (bad ones are rejected later)."""
    days = []
    for entry in results.values():
        value = entry.get("release_date") if isinstance(entry, dict) else None
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value.strip())
            except ValueError:
                continue
        if isinstance(value, date):
            days.append(value)
    return max(days).isoformat() if days else None


def _number(value: Any, bad: Bad, field: str, *, required: bool = False) -> float | None:
    """A finite non-negative number of minutes; booleans are not numbers."""
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(
            "missing_field" if value is None else "invalid_value",
            f"expected a number of minutes, found {value!r:.80}",
            field,
        )
    try:
        number = float(value)
    except OverflowError:
        raise bad("invalid_value", "the number is out of range", field) from None
    if not math.isfinite(number) or number < 0:
        raise bad("invalid_value", f"{number!r} is not a finite non-negative number", field)
    return number


def _release(value: Any, bad: Bad) -> str | None:
    """The release date as an ISO date (YAML gives a date; a quoted one is a string)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise bad("invalid_value", f"release_date {value!r:.80} is not a date", "release_date")

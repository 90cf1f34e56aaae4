"""Epoch AI's Benchmarking Hub: one CSV file per benchmark (FORMATS.md section 4.1).

The hub is published as `https://epoch.ai/data/benchmark_data.zip`, a zip of CSVs plus a README;
the feed's `source` is the unpacked folder, one CSV, or the zip (expanded by the source layer
into one payload per member, named by `member`). Epoch-run files (`gpqa_diamond.csv`,
`frontiermath.csv`, `swe_bench_verified.csv`, ...) have `Model version, mean_score, ..., stderr,
..., Started at, id`; external files (`*_external.csv`) carry numbers Epoch copied from others,
each with columns of its own (`metr_time_horizons_external.csv`: `Time horizon, CI_high, CI_low`).

One observation per row:

- benchmark: the file name without `.csv` (`gpqa_diamond`, `metr_time_horizons_external`), as
  Epoch spells it; subject: `Model version` without its effort / thinking-budget suffix
  (`gpt-5.2-2025-12-11_xhigh` is model `gpt-5.2-2025-12-11` run at `xhigh`): the suffix is the
  observation's `variant` (followed by the row's scaffold, `xhigh; <scaffold>`, when the file has
  a scaffold column; the scaffold alone when there is no suffix), and the full spelling is kept
  as `model_version`. One model's runs at several settings are one subject: evaluation reads
  its most capable variant (maximum elicitation), not its newest run.
- metric and scale by the file's value column: `mean_score` (fractions; also read from the
  older `Best score (across scorers)` and other known spellings, named in `value_column`),
  `Time horizon` (METR's p50 horizon in minutes, with its 95 % CI; "(hours)" in the header means
  hours), `eci` (Epoch Capabilities Index points). `options.scales` overrides the scale of a
  file by its benchmark name; an external file scored in a generic column (`Score`, ...) needs
  it, since such files keep their source's units. A fraction outside [0, 1] (a percentage
  where a fraction is expected) is refused.
- observed_at: `Started at` (the run's start, UTC; `timestamp_kind: run_start`) when the row has
  it, else the model's `Release date` at midnight UTC (`timestamp_kind: release_date`). A time
  without an offset is taken as UTC (`timestamp_assumed_utc`). A row with neither is rejected.
- attributes: scale, organisation, release_date, training_compute_flop, scaffold, ci_low /
  ci_high / ci_level, run_id (`id`), log_url, variant, model_version, record (row number,
  header = 1), member, timestamp_kind, measured_by (`independent`: Epoch ran it, or copied
  another evaluator's number; `vendor` when an external file's `Source` names the model's
  organisation).

Traps handled: columns renamed, added, removed or reordered between downloads (read by header
name with known alternatives; a missing required column rejects the file naming it and listing
the headers found); quoted multi-line notes and comma lists (a real CSV reader); NaN, infinities,
`1_000` and booleans in number cells; negative stderr; duplicated rows (one observation: the key
is the content, not the row number); a zip or an HTML page where a CSV is expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from connectors.source import DocumentOptions, Documents
from connectors.tabular import MAX_ID, Col, Row, Table, fold, midnight
from warden.catalog.registry import Scale
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import content_key, rejected

SUFFIXES = (".csv",)  # a .zip source is expanded into its .csv members by the source layer
MODEL = ("Model version", "Model", "Model name")
STDERR = ("stderr", "Standard error", "Std error")
STARTED = ("Started at", "Run started at", "Run date", "Evaluation date")
RELEASE = ("Release date", "Model release date", "Publication date", "date")
ORGANISATION = ("Organization", "Organisation", "Organizations")
COMPUTE = ("Training compute (FLOP)", "Training compute")
SCAFFOLD = ("Scaffold", "Agent scaffold", "Harness")
RUN_ID = ("id", "Run id", "eval_id")
LOGS = ("Logs", "Log file")
CI_LOW = ("CI_low", "CI low", "eci_ci_low")
CI_HIGH = ("CI_high", "CI high", "eci_ci_high")
SOURCE = ("Source",)  # external files: whose number Epoch copied
# Epoch's effort / thinking-budget suffixes on model versions (`_xhigh`, `_16K`).
EFFORT = re.compile(r"_(none|minimal|low|medium|high|xhigh|\d+K)\Z")
BOUNDS: dict[str, tuple[float, float]] = {
    "fraction": (0.0, 1.0),
    "percent": (0.0, 100.0),
    "minutes": (0.0, float("inf")),
    "hours": (0.0, float("inf")),
    "seconds": (0.0, float("inf")),
    "flop": (0.0, float("inf")),
}


@dataclass(frozen=True)
class Kind:
    """What a file measures, told by its value column."""

    metric: str
    columns: tuple[str, ...]  # the value column's known spellings, preferred first
    scale: Scale
    ci_level: float | None = None


KINDS = (
    Kind(
        "mean_score",
        ("mean_score", "Best score (across scorers)", "Accuracy mean", "Score", "Accuracy"),
        "fraction",
    ),
    # Epoch's copy of METR's p50 horizon: minutes, with METR's 95 % bootstrap interval.
    Kind(
        "Time horizon",
        ("Time horizon", "Time horizon (minutes)", "Time horizon (hours)"),
        "minutes",
        0.95,
    ),
    Kind("eci", ("eci", "ECI score"), "points"),
)


class Options(DocumentOptions):
    max_bytes: int = Field(256 * 2**20, gt=0)
    # The scale of a file's values by benchmark name (the file name without .csv), for files
    # whose scale the connector cannot tell from the header.
    scales: dict[str, Scale] = Field(default_factory=dict)


class EpochBenchmarks(Documents):
    name: ClassVar[str] = "epoch_benchmarks"
    SUFFIXES = SUFFIXES
    WHAT = "Epoch benchmark CSVs"
    OPTIONS = Options
    options: Options

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        return parse_hub(payload, self.options.scales)


def benchmark_of(payload: Payload) -> str:
    """The benchmark a payload holds: its file (or archive member) name without `.csv`."""
    name = (payload.member or payload.source).split("?")[0].replace("\\", "/").rstrip("/")
    name = name.rsplit("/", 1)[-1]
    for suffix in (".gz", ".csv"):
        if name.casefold().endswith(suffix):
            name = name[: -len(suffix)]
    if not name or len(name) > MAX_ID or not name.isprintable():
        raise ParseError(
            "invalid_value",
            f"file name {name!r:.80} cannot name a benchmark (1 to {MAX_ID} printable characters)",
            source=payload.source,
        )
    return name


@dataclass(frozen=True)
class _Hub:
    """One file's layout: what it measures, where each column is, and the attributes every row
    shares."""

    payload: Payload
    benchmark: str
    kind: Kind
    scale: str
    width: int
    value: Col
    model: Col
    stderr: Col | None
    started: Col | None
    release: Col | None
    compute: Col | None
    ci_low: Col | None
    ci_high: Col | None
    texts: tuple[tuple[str, Col], ...]  # attribute name and column, for the text columns present
    shared: dict[str, Any]
    fetched: bool  # observed_at is the fetch time (METR's view of the file)
    source: Col | None = None  # an external file's `Source` column


TEXTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("organisation", ORGANISATION),
    ("scaffold", SCAFFOLD),
    ("run_id", RUN_ID),
    ("log_url", LOGS),
)


def parse_hub(
    payload: Payload, scales: Mapping[str, str] | None = None, *, fetched: bool = False
) -> list[Observation | Rejection]:
    """The observations of one hub CSV, and a rejection for each bad row.

    With `fetched`, observed_at is the payload's fetch time (`timestamp_kind: fetched`) and the
    release date is only an attribute (how the `metr_horizons` connector reads Epoch's copy)."""
    table = Table(payload)
    hub = _layout(table, payload, scales or {}, fetched)
    out: list[Observation | Rejection] = []
    seen: set[str] = set()
    for row in table.rows():
        try:
            o = _observation(hub, row)
        except ParseError as exc:
            out.append(rejected(payload, exc))
            continue
        if o.key not in seen:  # a duplicated row is one measurement
            seen.add(o.key)
            out.append(o)
    return out


def _layout(table: Table, payload: Payload, scales: Mapping[str, str], fetched: bool) -> _Hub:
    benchmark = benchmark_of(payload)
    found = [(k, c) for k in KINDS if (c := table.find(k.columns)) is not None]
    if not found:
        table.require([c for k in KINDS for c in k.columns], "value")  # raises, listing them
    kind, value = found[0]
    model = table.require(MODEL, "model")
    started, release = table.find(STARTED), table.find(RELEASE)
    if fetched and payload.fetched_at is None:
        raise ParseError(
            "missing_field",
            "the payload has no fetch time to stand for the measurement time",
            source=payload.source,
            field="fetched_at",
        )
    if not fetched and started is None and release is None:
        table.require([*STARTED, *RELEASE], "date")  # raises, listing the headers found
    unit = fold(value.header)
    scale = scales.get(benchmark) or (
        "hours" if "(hours)" in unit else "minutes" if "(minutes)" in unit else kind.scale
    )
    if (
        benchmark.endswith("_external")
        and kind.metric == "mean_score"
        and not scales.get(benchmark)
    ):
        # Numbers Epoch copied from others keep the source's units (percent in some): no guess.
        raise ParseError(
            "missing_field",
            f"{value.header!r} of an external file is in its source's own scale, which the "
            f"file does not say: set the feed's options.scales.{benchmark} (fraction, percent, "
            "...)",
            source=payload.source,
            field=value.header,
        )
    shared: dict[str, Any] = {"scale": scale}
    if payload.member is not None:
        shared["member"] = payload.member
    if value.header != kind.columns[0]:
        shared["value_column"] = value.header
    texts = tuple((name, col) for name, names in TEXTS if (col := table.find(names)) is not None)
    return _Hub(
        payload=payload,
        benchmark=benchmark,
        kind=kind,
        scale=scale,
        width=len(table.header),
        value=value,
        model=model,
        stderr=table.find(STDERR),
        started=started,
        release=release,
        compute=table.find(COMPUTE),
        ci_low=table.find(CI_LOW),
        ci_high=table.find(CI_HIGH),
        texts=texts,
        shared=shared,
        fetched=fetched,
        source=table.find(SOURCE),
    )


def _observation(hub: _Hub, row: Row) -> Observation:
    row.check_width(hub.width)
    model = row.ident(hub.model, "model")
    value = row.required_number(hub.value, hub.kind.metric)
    _in_scale(row, hub.value, hub.kind.metric, value, hub.scale)
    stderr = row.number(hub.stderr, "stderr", nan_is_none=True)
    if stderr is not None:
        if stderr < 0:
            raise row.error("invalid_value", f"stderr {stderr!r} is negative", hub.stderr)
        _in_scale(row, hub.stderr, "stderr", stderr, hub.scale)
    low, high = row.number(hub.ci_low, "CI low"), row.number(hub.ci_high, "CI high")
    if low is not None and high is not None and low > high:
        raise row.error("invalid_value", f"CI low {low!r} is above CI high {high!r}", hub.ci_low)
    release = row.day(hub.release, "release date")
    started = row.instant(hub.started, "run start")
    attributes = {**hub.shared, "record": row.record}
    observed_at: datetime
    when: object  # the time part of the key
    if hub.fetched:
        assert hub.payload.fetched_at is not None  # checked in _layout
        observed_at, kind, when = hub.payload.fetched_at, "fetched", release
    elif started is not None:
        (observed_at, assumed), kind = started, "run_start"
        when = observed_at.isoformat()
        if assumed:
            attributes["timestamp_assumed_utc"] = True
    elif release is not None:
        observed_at, kind, when = midnight(release), "release_date", release
    else:
        raise row.error(
            "missing_field",
            "no time to place the row at: "
            + " and ".join(f"{c.header!r}" for c in (hub.started, hub.release) if c)
            + " empty",
            hub.started or hub.release,
        )
    attributes["timestamp_kind"] = kind
    compute = row.number(hub.compute, "training compute")
    if compute is not None:
        _in_scale(row, hub.compute, "training compute", compute, "flop")
        attributes["training_compute_flop"] = compute
    if release is not None:
        attributes["release_date"] = release.isoformat()
    for name, bound in (("ci_low", low), ("ci_high", high)):
        if bound is not None:
            attributes[name] = bound
            if hub.kind.ci_level is not None:
                attributes["ci_level"] = hub.kind.ci_level
    for name, col in hub.texts:
        text = row.text(col)
        if text is not None:
            attributes[name] = text
    attributes["measured_by"] = _measurer(row.text(hub.source), attributes.get("organisation"))
    subject, variant = split_variant(model, attributes.get("scaffold"))
    if variant:
        attributes["variant"] = variant
    if subject != model:
        attributes["model_version"] = model
    metric = hub.kind.metric
    return Observation(
        subject=subject,
        benchmark=hub.benchmark,
        metric=metric,
        value=value,
        observed_at=observed_at,
        key=content_key(hub.benchmark, model, metric, when, value, stderr, low, high),
        source=hub.payload.source,
        content_hash=hub.payload.content_hash,
        stderr=stderr,
        attributes=attributes,
    )


def _measurer(source: str | None, organisation: object) -> str:
    """Epoch runs its own evaluations (independent); an external file copies others' numbers,
    which are the vendor's own when its `Source` names the model's organisation (a lab's
    announcement or system card), else another independent evaluator's (METR)."""
    named = organisation.strip().lower() if isinstance(organisation, str) else ""
    if source and named and named in source.lower():
        return "vendor"
    return "independent"


def split_variant(model: str, scaffold: object = None) -> tuple[str, str | None]:
    """The base model of an Epoch `Model version` and the variant it ran at: the effort suffix,
    then the scaffold when the row names one (`("gpt-5.2-2025-12-11", "xhigh")`)."""
    effort = EFFORT.search(model)
    base = model[: effort.start()] if effort and effort.start() > 0 else model
    parts = [effort.group(1)] if effort and base != model else []
    if isinstance(scaffold, str) and scaffold:
        parts.append(scaffold)
    return base, "; ".join(parts)[:MAX_ID] or None


def _in_scale(row: Row, col: Col | None, what: str, value: float, scale: str) -> None:
    low, high = BOUNDS.get(scale, (float("-inf"), float("inf")))
    if low <= value <= high:
        return
    hint = ""
    if scale == "fraction" and 1 < value <= 100:
        hint = " (a percentage where a fraction is expected? set options.scales for this file)"
    raise row.error(
        "invalid_value", f"{what} {value!r} is outside [{low:g}, {high:g}] for {scale}{hint}", col
    )

"""Epoch AI's tables of AI models: training compute per model (FORMATS.md section 4.2).

`notable_ai_models.csv` (46 columns) and `frontier_ai_models.csv` (97 columns), also bundled as
`https://epoch.ai/data/ai_models.zip`, one row per model: `Model, Organization, Publication date,
Parameters, Training compute (FLOP), Confidence, Model accessibility, Frontier model, ...`.

One observation per model whose training compute is known:

- subject: `Model` as Epoch spells it, stripped (it can carry a trailing newline:
  `"Solar Open 100B\\n"`); benchmark `training_compute`, metric `flop`, value the compute in
  FLOP (`scale: flop`).
- observed_at: the publication date at midnight UTC (`timestamp_kind: release_date`): the
  tables give no time of measurement.
- attributes: organisation, release_date, parameters, training_compute_flop (the value again,
  for thresholds that read it as an attribute), confidence (Epoch's confidence in the estimate),
  frontier_model, model_versions (`Model versions (benchmarks)`: the join to the benchmark
  hub's `Model version` values), accessibility (the raw `Model accessibility`) and open_weights
  derived from it: `Open weights (unrestricted | restricted use | non-commercial)` -> true;
  `API access`, `Hosted access (no API)`, `Unreleased` -> false; empty or any other value -> not
  set (unknown). Plus record (row number, header = 1), member, timestamp_kind.

Rows whose training-compute cell is empty are not skipped by mistake: they hold no measurement
of compute, so they give no observation and no rejection (most of the notable table is such
rows). A row with a compute but a bad cell (no model name, no date, a compute that is not a
finite non-negative number) is rejected alone. The same model with the same compute and date in
both tables is one observation (the key is the content, not the file). Column drift (renames,
additions, reordering; `Publication date` was `Publication date (YYYY-MM-DD)`) is handled by
reading columns by header name; a missing required column rejects the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from connectors.source import DocumentOptions, Documents
from connectors.tabular import Col, Row, Table, fold, midnight
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import content_key, rejected

SUFFIXES = (".csv",)  # a .zip source is expanded into its .csv members by the source layer
BENCHMARK = "training_compute"
METRIC = "flop"
MODEL = ("Model", "System", "Model name")
DATE = ("Publication date", "Publication date (YYYY-MM-DD)", "Release date")
COMPUTE = ("Training compute (FLOP)", "Training compute")
ORGANISATION = ("Organization", "Organisation")
PARAMETERS = ("Parameters",)
ACCESSIBILITY = ("Model accessibility", "Accessibility")
CONFIDENCE = ("Confidence",)
FRONTIER = ("Frontier model",)
VERSIONS = ("Model versions (benchmarks)",)
CLOSED = frozenset({"api access", "hosted access (no api)", "unreleased"})


def open_weights(accessibility: str | None) -> bool | None:
    """Whether the weights are published, from Epoch's `Model accessibility` (None: unknown)."""
    if accessibility is None:
        return None
    folded = fold(accessibility)
    if folded.startswith("open weights"):
        return True
    return False if folded in CLOSED else None


class Options(DocumentOptions):
    max_bytes: int = Field(256 * 2**20, gt=0)


class EpochModels(Documents):
    name: ClassVar[str] = "epoch_models"
    SUFFIXES = SUFFIXES
    WHAT = "Epoch AI model tables"
    OPTIONS = Options

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        return parse_models(payload)


@dataclass(frozen=True)
class _Columns:
    width: int
    model: Col
    date: Col
    compute: Col
    organisation: Col | None
    parameters: Col | None
    accessibility: Col | None
    confidence: Col | None
    frontier: Col | None
    versions: Col | None


def parse_models(payload: Payload) -> list[Observation | Rejection]:
    """An observation for each model with a training compute, a rejection for each bad row."""
    table = Table(payload)
    cols = _Columns(
        width=len(table.header),
        model=table.require(MODEL, "model"),
        date=table.require(DATE, "publication date"),
        compute=table.require(COMPUTE, "training compute"),
        organisation=table.find(ORGANISATION),
        parameters=table.find(PARAMETERS),
        accessibility=table.find(ACCESSIBILITY),
        confidence=table.find(CONFIDENCE),
        frontier=table.find(FRONTIER),
        versions=table.find(VERSIONS),
    )
    out: list[Observation | Rejection] = []
    seen: set[str] = set()
    for row in table.rows():
        try:
            o = _observation(payload, cols, row)
        except ParseError as exc:
            out.append(rejected(payload, exc))
            continue
        if o is not None and o.key not in seen:
            seen.add(o.key)
            out.append(o)
    return out


def _observation(payload: Payload, cols: _Columns, row: Row) -> Observation | None:
    row.check_width(cols.width)
    compute = row.number(cols.compute, "training compute")
    if compute is None:
        return None  # no measurement of compute in this row
    if compute < 0:
        raise row.error("invalid_value", f"training compute {compute!r} is negative", cols.compute)
    model = row.ident(cols.model, "model")
    published = row.day(cols.date, "publication date")
    if published is None:
        raise row.error("missing_field", "the publication date is empty", cols.date)
    parameters = row.number(cols.parameters, "parameters")
    if parameters is not None and parameters < 0:
        raise row.error("invalid_value", f"parameters {parameters!r} is negative", cols.parameters)
    accessibility = row.text(cols.accessibility)
    frontier = row.text(cols.frontier)
    attributes: dict[str, Any] = {
        "scale": "flop",
        "timestamp_kind": "release_date",
        "release_date": published.isoformat(),
        "training_compute_flop": compute,
        "record": row.record,
        "measured_by": "independent",  # Epoch's own estimate
    }
    optional: dict[str, Any] = {
        "organisation": row.text(cols.organisation),
        "parameters": parameters,
        "accessibility": accessibility,
        "open_weights": open_weights(accessibility),
        "confidence": row.text(cols.confidence),
        "frontier_model": None if frontier is None else fold(frontier) == "true",
        "model_versions": row.text(cols.versions),
        "member": payload.member,
    }
    attributes.update((k, v) for k, v in optional.items() if v is not None)
    return Observation(
        subject=model,
        benchmark=BENCHMARK,
        metric=METRIC,
        value=compute,
        observed_at=midnight(published),
        key=content_key(BENCHMARK, model, METRIC, published.isoformat(), compute),
        source=payload.source,
        content_hash=payload.content_hash,
        attributes=attributes,
    )

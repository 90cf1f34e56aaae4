"""Lab declarations (connector `declarations`): what a developer said its own model reached
under its own safety framework, as evidence warden's thresholds can read.

Reads YAML or JSON (a `declarations:` list, or a bare list) and CSV (one declaration a row, the
same names as headers) from a file, a folder or a URL. Each record names:

- `organisation`, `model` (the model id; normalised through the registry like any subject),
  `framework` (`anthropic-rsp`, `openai-preparedness`, `gdm-fsf`, ...), `level` (or
  `capability`: `ASL-3`, `High`, `CBRN Uplift Level 1`), `domain` (`CBRN`,
  `biological-and-chemical`, `cyber`, ...);
- `status`: `crossed`, `could_not_rule_out`, `below` or `early_warning_reached` (spaces or
  hyphens for the underscores are fine);
- `date` (ISO date: when the lab said it), `source_url` (http(s)), `quote` (the sentence, as
  published), optionally `verified` (bool) and `verification` (how it was checked).

Each becomes one observation: subject the model, benchmark `declaration`, metric
`<framework>.<level>.<domain>` in slugs, value the status' ordinal (below 0,
early_warning_reached 1, could_not_rule_out 2, crossed 3; warden/core/declarations.py),
observed at the date (midnight UTC, `timestamp_kind: declared`), `measured_by: vendor`, with
the organisation, framework, level, domain, status, quote, source_url and verification as
attributes. A record missing a field or with a bad value is rejected alone, naming the record
(`declarations[2]`, `row 3`) and the field. Bundled: thresholds/declarations/public.yaml.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator

from connectors.documents import MAX_ID, dedupe, is_id
from connectors.metr import load_yaml
from connectors.source import DocumentOptions, Documents
from warden.core.declarations import DECLARATION, STATUSES, declaration_metric, status_value
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import content_key, rejected

SUFFIXES = (".yaml", ".yml", ".json", ".csv")
MAX_BYTES = 8 * 2**20
MAX_QUOTE = 2000
Text = Field(min_length=1, max_length=MAX_ID)


class Declaration(BaseModel):
    """One record, validated."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation: str = Text
    model: str = Text
    framework: str = Text
    level: str = Text
    domain: str = Text
    status: str
    date: date
    source_url: HttpUrl
    quote: str | None = Field(None, max_length=MAX_QUOTE)
    verified: bool | None = None
    verification: str | None = Field(None, max_length=MAX_QUOTE)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        return STATUSES[status_value(value)]

    @field_validator("source_url")
    @classmethod
    def _web(cls, value: HttpUrl) -> HttpUrl:
        if value.scheme not in ("http", "https"):
            raise ValueError("an http(s) URL")
        return value


class Options(DocumentOptions):
    max_bytes: int = Field(MAX_BYTES, gt=0)


class Declarations(Documents):
    name: ClassVar[str] = "declarations"
    SUFFIXES = SUFFIXES
    WHAT = "declaration files"
    OPTIONS = Options

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        return parse_declarations(payload, self.options.max_bytes)


def records(payload: Payload, limit: int = MAX_BYTES) -> list[tuple[str, Any]]:
    """(record name, raw record) of each declaration in `payload`."""
    src = payload.source
    name = (payload.member or src).split("?")[0].casefold()
    if len(payload.content) > limit:
        raise ParseError("too_large", f"the file is over the {limit}-byte limit", source=src)
    if name.endswith(".csv"):
        try:
            text = payload.content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError("malformed", f"not UTF-8 text ({exc.reason})", source=src) from exc
        rows = csv.DictReader(io.StringIO(text, newline=""))
        out: list[tuple[str, Any]] = []
        for i, row in enumerate(rows, start=2):
            fields = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            if None in row:
                fields["<extra cells>"] = row[None]  # more cells than the header: refused
            out.append((f"row {i}", fields))
        return out
    if name.endswith(".json"):
        try:
            doc = json.loads(payload.content.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ParseError("malformed", "not a JSON document", source=src) from exc
    else:
        doc = load_yaml(payload, limit)
    items = doc.get("declarations") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ParseError(
            "missing_field",
            "expected a `declarations:` list (or a list of declarations)",
            source=src,
            field="declarations",
        )
    return [(f"declarations[{i}]", item) for i, item in enumerate(items)]


def parse_declarations(payload: Payload, limit: int = MAX_BYTES) -> list[Observation | Rejection]:
    out: list[Observation | Rejection] = []
    for record, raw in records(payload, limit):
        try:
            out.append(_observation(payload, record, raw))
        except ParseError as exc:
            out.append(rejected(payload, exc))
    return dedupe(out)  # a repeated record is one declaration


def _observation(payload: Payload, record: str, raw: Any) -> Observation:
    src = payload.source
    if not isinstance(raw, Mapping):
        raise ParseError("invalid_value", f"{record} is not a mapping", source=src, record=record)
    data = dict(raw)
    if "capability" in data and "level" not in data:
        data["level"] = data.pop("capability")
    try:
        d = Declaration.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        reason = "missing_field" if first["type"] == "missing" else "invalid_value"
        message = f"{record}: {field}: {first['msg']}"
        raise ParseError(reason, message, source=src, record=record, field=field) from exc
    if not is_id(d.model):
        raise ParseError(
            "invalid_value", f"{record}: model is not an id", source=src, record=record,
            field="model",
        )  # fmt: skip
    metric = declaration_metric(d.framework, d.level, d.domain)
    value = status_value(d.status)
    attributes: dict[str, Any] = {
        "measured_by": "vendor",
        "vendor_reported": True,
        "timestamp_kind": "declared",
        "record": record,
        "organisation": d.organisation,
        "framework": d.framework,
        "level": d.level,
        "domain": d.domain,
        "status": d.status,
        "source_url": str(d.source_url),
    }
    optional = {"quote": d.quote, "verified": d.verified, "verification": d.verification}
    attributes.update((k, v) for k, v in optional.items() if v is not None)
    day = d.date
    return Observation(
        subject=d.model,
        benchmark=DECLARATION,
        metric=metric,
        value=float(value),
        observed_at=datetime(day.year, day.month, day.day, tzinfo=UTC),
        key=content_key(DECLARATION, d.model, metric, day.isoformat(), d.status, d.quote or ""),
        source=src,
        content_hash=payload.content_hash,
        attributes=attributes,
    )

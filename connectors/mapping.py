"""The mapping behind the mapped feeds (connectors/mapped.py): their options, the small JSON path
subset they read records and fields with, and the conversion of raw values into observation
fields.

Options (`CsvOptions`, `JsonOptions`): each observation field is taken from a column (CSV:
`{column: Score}`), a field path inside the record (JSON: `{field: scores.accuracy}`) or a
constant (`{value: gpqa_diamond}`), one `Spec` each. `model`, `benchmark`, `metric` and `value`
are required; `stderr`, `n` and `time` are optional; `attributes` maps attribute names to specs
(a bare string is a column or a field). A constant is checked when the options are read, as a
cell of its field would be.

Paths (`parse_path`, `find`, `expand`) are a small, safe subset of JSONPath (no filters, no
evaluation): `a.b`, `a[0]`, `a[-1]`, `a[*]` (every element of a list), `a["key.with dots"]`,
optionally starting with `$`. `records` may hold `[*]`; a record's field paths may not. A part
of `records` missing before its first `[*]` rejects the whole document; below a `[*]`, only that
branch is rejected.

Values (`convert`, `number`, `count`, `attribute`, `to_time`, `missing`): NaN/Infinity and
booleans where numbers belong are refused; numbers as text are read (CSV, and JSON numbers given
as strings), a trailing `%` only with `scale: percent`, a decimal comma only with `decimal: ","`;
`1,234`-style numbers are refused; so are a negative stderr, counts over 2**31-1 and ids over 200
characters. Empty, NA, N/A, null and none cells are missing. Times are ISO 8601, epoch seconds or
milliseconds, or a strptime pattern; one without an offset is read in `timezone` (the caller
notes the assumption). A value that cannot become its field raises `Bad`, for the feed to reject
its record.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from connectors.documents import MAX_COUNT, MAX_ID, Bad, is_id, valid_count
from connectors.source import DocumentOptions
from warden.catalog.registry import Scale
from warden.core.model import MEASURERS

MAX_TEXT = 1000  # longest attribute text kept
MISSING_MARKS = frozenset({"", "na", "n/a", "null", "none"})
RESERVED = frozenset({"scale", "record", "timestamp_kind", "timezone_assumed"})
BOOL_ATTRIBUTES = frozenset({"open_weights", "vendor_reported"})
NUMBER_ATTRIBUTES = frozenset({"training_compute_flop", "ci_low", "ci_high", "ci_level"})
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_STEP = re.compile(r"\.?([^.\[\]'\"]+)|\[(\*|-?\d+|\"[^\"]*\"|'[^']*')\]")


# -- options ---------------------------------------------------------------------------------
class Spec(BaseModel):
    """Where one observation field comes from: exactly one of column, field or value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = Field(None, min_length=1)
    field: str | None = Field(None, min_length=1)
    value: Any = None

    @field_validator("value")
    @classmethod
    def _scalar(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float | None):
            raise ValueError("a constant is a string or a number")
        return value

    @model_validator(mode="after")
    def _one(self) -> Spec:
        given = [k for k in ("column", "field", "value") if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(f"give exactly one of column, field or value (got {given or 'none'})")
        return self


class FeedOptions(DocumentOptions):
    model_config = ConfigDict(extra="forbid")
    SELECTOR: ClassVar[str]

    # Settings first: the constants among the mappings below are checked with them.
    scale: Scale | None = None
    decimal: str = Field(".", pattern=r"^[.,]$")
    time_format: str = "iso8601"
    timezone: str = "UTC"
    timestamp_kind: str = Field("reported", min_length=1, max_length=50)
    model: Spec
    benchmark: Spec
    metric: Spec
    value: Spec
    stderr: Spec | None = None
    n: Spec | None = None
    time: Spec | None = None
    attributes: dict[str, Spec | str] = Field(default_factory=dict)

    @field_validator("time_format")
    @classmethod
    def _time_format(cls, text: str) -> str:
        if text not in ("iso8601", "epoch_seconds", "epoch_milliseconds") and "%" not in text:
            raise ValueError("iso8601, epoch_seconds, epoch_milliseconds or a strptime pattern")
        return text

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as UTC)") from exc
        return name

    @field_validator("model", "benchmark", "metric", "value", "stderr", "n", "time")
    @classmethod
    def _kind(cls, spec: Spec | None, info: ValidationInfo) -> Spec | None:
        if spec is not None:
            _check_spec(cls.SELECTOR, spec)
            if "value" in spec.model_fields_set and info.field_name is not None:
                _constant(info.field_name, spec.value, info.data)
        return spec

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, attributes: dict[str, Spec | str]) -> dict[str, Spec | str]:
        for name, spec in attributes.items():
            if name in RESERVED or not 0 < len(name) <= 100 or not name.isprintable():
                raise ValueError(f"{name!r} cannot be an attribute name (reserved or not an id)")
            if isinstance(spec, Spec):
                _check_spec(cls.SELECTOR, spec)
            elif cls.SELECTOR == "field":
                parse_path(spec, wildcards=False)
        return attributes

    def specs(self) -> dict[str, Spec]:
        """Every mapped observation field and attribute, by name (attributes last)."""
        out = {
            k: spec
            for k in ("model", "benchmark", "metric", "value", "stderr", "n", "time")
            if (spec := getattr(self, k)) is not None
        }
        for name, given in self.attributes.items():
            out[f"attributes.{name}"] = (
                given if isinstance(given, Spec) else Spec.model_validate({self.SELECTOR: given})
            )
        return out


def _check_spec(selector: str, spec: Spec) -> None:
    other = "field" if selector == "column" else "column"
    if getattr(spec, other) is not None:
        raise ValueError(f"this feed takes {{{selector}: ...}} or {{value: ...}}, not {other}")
    if selector == "field" and spec.field is not None:
        parse_path(spec.field, wildcards=False)


def _constant(name: str, value: Any, data: Mapping[str, Any]) -> None:
    """Check a constant as a cell of its field would be checked."""
    try:
        if missing(value):
            raise Bad("missing_field", "a constant cannot be empty")
        if name == "time":
            to_time(value, data.get("time_format", "iso8601"), data.get("timezone", "UTC"))
        else:
            convert(name, value, data.get("decimal", "."), data.get("scale"))
    except Bad as exc:
        raise ValueError(exc.message) from exc


class CsvOptions(FeedOptions):
    SELECTOR = "column"
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    encoding: str = "utf-8"

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, name: str) -> str:
        try:
            codecs.lookup(name)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {name!r}") from exc
        return name


class JsonOptions(FeedOptions):
    SELECTOR = "field"
    records: str = "[*]"

    @field_validator("records")
    @classmethod
    def _records(cls, text: str) -> str:
        parse_path(text, wildcards=True)
        return text


# -- paths -----------------------------------------------------------------------------------
Step = str | int | None  # a key, an index, or None for [*]


def parse_path(text: str, *, wildcards: bool) -> tuple[Step, ...]:
    """The steps of a path (see the module docstring); ValueError when it is not one."""
    body = text.strip()
    body = body[1:] if body.startswith("$") else body
    steps: list[Step] = []
    pos = 0
    while pos < len(body):
        match = _STEP.match(body, pos)
        if match is None or (match.group(1) is not None and pos > 0 and body[pos] != "."):
            raise ValueError(f"path {text!r}: cannot read it from {body[pos:]!r}")
        key, bracket = match.group(1), match.group(2)
        if key is not None:
            steps.append(key)
        elif bracket == "*":
            if not wildcards:
                raise ValueError(f"path {text!r}: [*] is only allowed in records")
            steps.append(None)
        elif bracket[0] in "\"'":
            steps.append(bracket[1:-1])
        else:
            steps.append(int(bracket))
        pos = match.end()
    return tuple(steps)


def show(steps: tuple[Step, ...]) -> str:
    out = ""
    for s in steps:
        out += "[*]" if s is None else f"[{s}]" if isinstance(s, int) else f".{s}"
    return out.lstrip(".") or "$"


def find(doc: Any, steps: tuple[Step, ...]) -> Any:
    """The value at `steps` (no wildcards), or MISSING."""
    for s in steps:
        found = isinstance(s, str) and isinstance(doc, dict) and s in doc
        if found or (isinstance(s, int) and isinstance(doc, list) and -len(doc) <= s < len(doc)):
            doc = doc[s]
        else:
            return MISSING
    return doc


MISSING: Any = object()


def expand(
    doc: Any, steps: tuple[Step, ...], done: tuple[Step, ...] = ()
) -> Iterator[tuple[str, Any]]:
    """(concrete path, value) for each record `steps` reaches, or (path, Bad) for a branch that
    does not have it. Before the first wildcard a missing step raises Bad."""
    for i, s in enumerate(steps):
        if s is None:
            if not isinstance(doc, list):
                raise _lost(done, "a list", doc)
            for j, item in enumerate(doc):
                try:
                    yield from expand(item, steps[i + 1 :], (*done, j))
                except Bad as exc:
                    yield (show((*done, j)), exc)
            return
        found = find(doc, (s,))
        if found is MISSING:
            raise _lost(done, f"{show((s,))!r}", doc)
        doc, done = found, (*done, s)
    yield (show(done), doc)


def _lost(done: tuple[Step, ...], wanted: str, there: Any) -> Bad:
    what = f"an object with keys {sorted(there)[:20]}" if isinstance(there, dict) else None
    what = what or (f"a list of {len(there)}" if isinstance(there, list) else f"{there!r:.80}")
    return Bad("missing_field", f"expected {wanted} at {show(done)}, found {what}")


# -- values ----------------------------------------------------------------------------------
def convert(name: str, raw: Any, decimal: str, scale: str | None) -> Any:
    """`raw` (a cell's text or a JSON value) as observation field `name`; Bad when it is not."""
    if name in ("model", "benchmark", "metric"):
        return ident(raw)
    if name == "value":
        return number(raw, decimal, scale)
    if name == "stderr":
        stderr = number(raw, decimal, scale)
        if stderr < 0:
            raise Bad("invalid_value", f"stderr {stderr!r} is negative")
        return stderr
    if name == "n":
        return count(raw)
    raise ValueError(f"no conversion for {name!r}")


def ident(raw: Any) -> str:
    text = raw.strip() if isinstance(raw, str) else None
    if is_id(text):
        return text
    raise Bad(
        "invalid_value", f"expected an id (1 to {MAX_ID} printable characters), found {raw!r:.80}"
    )


def number(raw: Any, decimal: str = ".", scale: str | None = None) -> float:
    if isinstance(raw, bool):
        raise Bad("invalid_value", f"expected a number, found the boolean {raw!r}")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError as exc:
            raise Bad("invalid_value", "the number is out of range") from exc
    elif isinstance(raw, str):
        text = raw.strip()
        if scale == "percent" and text.endswith("%"):
            text = text[:-1].rstrip()
        if decimal == "," and "." not in text:
            text = text.replace(",", ".")
        if not _NUMBER.fullmatch(text):
            hint = " (thousands separators are not read)" if re.search(r"\d,\d", text) else ""
            raise Bad("invalid_value", f"expected a number, found {raw!r:.80}{hint}")
        value = float(text)
    else:
        raise Bad("invalid_value", f"expected a number, found {raw!r:.80}")
    if not math.isfinite(value):
        raise Bad("invalid_value", f"expected a finite number, found {raw!r:.80}")
    return value


def count(raw: Any) -> int:
    if isinstance(raw, str) and re.fullmatch(r"\s*\+?\d{1,12}\s*", raw):
        value: Any = int(raw)
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    else:
        value = raw
    checked = valid_count(value)
    if checked is None:
        raise Bad("invalid_value", f"expected a count from 0 to {MAX_COUNT}, found {raw!r:.80}")
    return checked


def attribute(name: str, raw: Any, decimal: str) -> Any:
    if name == "measured_by":
        word = str(raw).strip().lower()
        if word not in MEASURERS:
            raise Bad("invalid_value", f"expected one of {', '.join(MEASURERS)}, found {raw!r:.80}")
        return word
    if name in BOOL_ATTRIBUTES:
        word = str(raw).strip().lower()
        if isinstance(raw, bool) or word in ("true", "false", "yes", "no", "1", "0"):
            return raw if isinstance(raw, bool) else word in ("true", "yes", "1")
        raise Bad("invalid_value", f"expected true or false, found {raw!r:.80}")
    if name in NUMBER_ATTRIBUTES:
        return number(raw, decimal)
    if name == "release_date":
        try:
            return date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError as exc:
            raise Bad("invalid_value", f"expected an ISO date, found {raw!r:.80}") from exc
    if isinstance(raw, dict | list) or (isinstance(raw, str) and len(raw) > MAX_TEXT):
        raise Bad("invalid_value", f"expected a short text or a number, found {raw!r:.80}")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise Bad("invalid_value", f"expected a finite number, found {raw!r}")
    return raw.strip() if isinstance(raw, str) else raw


def missing(raw: Any) -> bool:
    return (
        raw is MISSING
        or raw is None
        or (isinstance(raw, str) and raw.strip().lower() in MISSING_MARKS)
    )


def to_time(raw: Any, time_format: str, timezone: str) -> tuple[datetime, bool]:
    """An aware UTC time from `raw`, and whether `timezone` had to be assumed."""
    try:
        if time_format.startswith("epoch_"):
            seconds = number(raw) / (1000 if time_format == "epoch_milliseconds" else 1)
            return datetime.fromtimestamp(seconds, UTC), False
        if not isinstance(raw, str):
            raise Bad("invalid_value", f"expected a time as text, found {raw!r:.80}")
        text = raw.strip()
        if time_format == "iso8601":
            when = datetime.fromisoformat(text)
        else:
            when = datetime.strptime(text, time_format)
        assumed = when.tzinfo is None or when.utcoffset() is None
        if assumed:
            when = when.replace(tzinfo=ZoneInfo(timezone))
        return when.astimezone(UTC), assumed
    except (ValueError, OverflowError, OSError) as exc:
        raise Bad("invalid_value", f"expected a time ({time_format}), found {raw!r:.80}") from exc

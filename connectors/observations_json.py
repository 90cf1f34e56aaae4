"""Warden's own observation schema: a JSON list of observations.

The same schema is the body of `POST /api/v1/observations`; this connector reads it from files
(`warden ingest FILE --connector observations_json`).

A file is read as a stream (`parse` is a generator): the list's elements are decoded one at a
time (connectors.json_stream.JsonArray) and validated `CHUNK` at a time, so memory holds the
file's bytes and about one chunk, not the whole document as Python objects (a 65 MB file of
485,000 observations decoded whole took over 1 GB). A batch is all or nothing, as a push is: a
bad record anywhere raises ParseError (naming the first bad record and field, and how many more
errors the file holds) after the observations before it were yielded, and ingest then stores
none of them (warden.ingest.feedrun). A top level that is not a list, or a file that is not
UTF-8, is read whole as before (a non-list of over `WHOLE_LIMIT` bytes is refused unread).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.documents import json_document
from connectors.json_stream import JsonArray
from connectors.source import Documents
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload
from warden.core.yamlfile import describe
from warden.ingest.connector import content_key


def _text_only(value: Any) -> Any:
    """Times arrive as RFC 3339 text; a bare number is not accepted as a Unix time."""
    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 string with an offset")
    return value


def _printable_id(value: str) -> str:
    if not value.isprintable():
        raise ValueError("ids hold printable characters only")
    return value


Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
# 1 to 200 printable characters (the store's width).
Id = Annotated[str, Strict(), Field(min_length=1, max_length=200), AfterValidator(_printable_id)]
Time = Annotated[AwareDatetime, BeforeValidator(_text_only)]


class ObservationIn(BaseModel):
    """One observation as pushed: `observed_at` is RFC 3339 with an offset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Id
    benchmark: Id
    metric: Id
    value: Number
    stderr: Annotated[float | None, Strict(), Field(None, ge=0, allow_inf_nan=False)] = None
    n: Annotated[int | None, Strict(), Field(None, ge=0, le=2**31 - 1)] = None
    observed_at: Time
    # Who measured it (default: this deployment, `own`); `vendor_reported: true` is `vendor`.
    measured_by: Literal["vendor", "independent", "own"] | None = None
    vendor_reported: Annotated[bool, Strict()] = False

    @model_validator(mode="after")
    def _one_measurer(self) -> ObservationIn:
        if self.vendor_reported and self.measured_by not in (None, "vendor"):
            raise ValueError(f"vendor_reported contradicts measured_by {self.measured_by!r}")
        return self

    @property
    def measurer(self) -> str:
        return self.measured_by or ("vendor" if self.vendor_reported else "own")

    @field_validator("observed_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # year 1 or 9999 pushed out of range by the offset
            raise ValueError("time is out of range in UTC") from exc

    def to_observation(self, source: str, content_hash: str) -> Observation:
        return Observation(
            subject=self.model,
            benchmark=self.benchmark,
            metric=self.metric,
            value=self.value,
            observed_at=self.observed_at,
            key=content_key(
                self.model,
                self.benchmark,
                self.metric,
                self.observed_at.isoformat(),
                self.value,
                self.stderr,
                self.n,
                # Not for `own`: the identity of observations pushed before it existed.
                *([self.measurer] if self.measurer != "own" else []),
            ),
            source=source,
            content_hash=content_hash,
            stderr=self.stderr,
            n=self.n,
            attributes={
                "measured_by": self.measurer,
                **({"vendor_reported": True} if self.measurer == "vendor" else {}),
            },
        )


Batch = TypeAdapter(list[ObservationIn])
MAX_MESSAGE = 500
CHUNK = 1000  # elements validated at a time
WHOLE_LIMIT = 2**20  # the largest document read whole when its top level is not a list
_LEAD = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*")  # a UTF-8 BOM and white space
_KINDS = {b"{": "an object", b'"': "a string", b"t": "a boolean", b"f": "a boolean", b"n": "null"}


def _printable(text: str) -> str:
    """`text` with control characters (a key may hold any) shown as `?`."""
    return "".join(c if c.isprintable() else "?" for c in text)


class ObservationsJson(Documents):
    name: ClassVar[str] = "observations_json"
    SUFFIXES = (".json",)
    WHAT = "observation files"

    def parse(self, payload: Payload) -> Iterator[Observation]:
        return observations(payload)

    @staticmethod
    def parse_batch(payload: Payload) -> list[Observation]:
        """A batch of observations in warden's own schema: what the push API reads too."""
        return parse_batch(payload)

    @staticmethod
    def batch_schema() -> dict[str, Any]:
        """The JSON schema of a batch, for the push API's OpenAPI document."""
        return {"type": "array", "items": ObservationIn.model_json_schema()}


def parse_batch(payload: Payload) -> list[Observation]:
    """The observations of a batch, all of them (a push's body, bounded by the API)."""
    return list(observations(payload))


def observations(payload: Payload) -> Iterator[Observation]:
    """The observations of a batch in turn, streamed from a list (see the module's docstring);
    ParseError, once reached, for a batch that is bad anywhere."""
    content = payload.content
    start = _LEAD.match(content)
    first = content[start.end() : start.end() + 1] if start else b""
    if first == b"[" and json.detect_encoding(content[:4]) in ("utf-8", "utf-8-sig"):
        return _streamed(payload)
    if (first in _KINDS or first.isdigit() or first == b"-") and len(content) > WHOLE_LIMIT:
        kind = _KINDS.get(first, "a number")
        message = f"the observation batch must be a JSON list; its top level is {kind}"
        raise ParseError("invalid_value", message, source=payload.source)
    return iter(_whole(payload))


def _streamed(payload: Payload) -> Iterator[Observation]:
    elements = JsonArray(io.BytesIO(payload.content), payload.source, len(payload.content))
    items = elements.items()
    offset, refused, errors = 0, None, 0
    while chunk := list(islice(items, CHUNK)):
        try:
            valid = Batch.validate_python(chunk)
        except ValidationError as exc:  # the rest is still read: for bad JSON, and the count
            refused = refused or (exc.errors()[0], offset)
            errors += exc.error_count()
        else:
            if refused is None:
                yield from _observed(valid, offset, payload)
        offset += len(chunk)
    if refused is not None:
        raise _refusal(payload.source, refused[0], refused[1], errors)


def _whole(payload: Payload) -> list[Observation]:
    """A batch decoded whole: not a list (refused with pydantic's reason), or not UTF-8."""
    raw = json_document(payload.content, payload.source, "the observation batch")
    try:
        items = Batch.validate_python(raw)
    except ValidationError as exc:
        raise _refusal(payload.source, exc.errors()[0], 0, exc.error_count()) from exc
    return list(_observed(items, 0, payload))


def _observed(items: list[ObservationIn], offset: int, payload: Payload) -> Iterator[Observation]:
    for i, item in enumerate(items, offset):
        o = item.to_observation(payload.source, payload.content_hash)
        o.attributes["record"] = str(i)  # its index in the batch, for per-record rejections
        yield o


def _refusal(source: str, first: Any, offset: int, count: int) -> ParseError:
    """The ParseError for a batch whose first bad record is described by the pydantic error
    `first` (its index `offset` on), with `count` errors in all."""
    loc = first["loc"]
    record = str(loc[0] + offset) if loc and isinstance(loc[0], int) else None
    field = _printable(".".join(str(p) for p in loc[1:])) or None
    reason = "missing_field" if first["type"] == "missing" else "invalid_value"
    more = f" (and {count - 1} more)" if count > 1 else ""
    if record is not None:  # the index in the whole batch, not in its chunk
        loc = (int(record), *loc[1:])
    message = _printable(describe({**first, "loc": loc}))
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return ParseError(reason, message + more, source=source, record=record, field=field)

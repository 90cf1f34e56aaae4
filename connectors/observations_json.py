"""Warden's own observation schema: a JSON list of observations.

The same schema is the body of `POST /api/v1/observations`; this connector reads it from files
(`warden ingest FILE --connector observations_json`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

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
)

from connectors.documents import json_document
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
            ),
            source=source,
            content_hash=content_hash,
            stderr=self.stderr,
            n=self.n,
        )


Batch = TypeAdapter(list[ObservationIn])
MAX_MESSAGE = 500


def _printable(text: str) -> str:
    """`text` with control characters (a key may hold any) shown as `?`."""
    return "".join(c if c.isprintable() else "?" for c in text)


class ObservationsJson(Documents):
    name: ClassVar[str] = "observations_json"
    SUFFIXES = (".json",)
    WHAT = "observation files"

    def parse(self, payload: Payload) -> list[Observation]:
        return parse_batch(payload)

    @staticmethod
    def parse_batch(payload: Payload) -> list[Observation]:
        """A batch of observations in warden's own schema: what the push API reads too."""
        return parse_batch(payload)

    @staticmethod
    def batch_schema() -> dict[str, Any]:
        """The JSON schema of a batch, for the push API's OpenAPI document."""
        return {"type": "array", "items": ObservationIn.model_json_schema()}


def parse_batch(payload: Payload) -> list[Observation]:
    raw = json_document(payload.content, payload.source, "the observation batch")
    try:
        items = Batch.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        record = str(loc[0]) if loc and isinstance(loc[0], int) else None
        field = _printable(".".join(str(p) for p in loc[1:])) or None
        reason = "missing_field" if first["type"] == "missing" else "invalid_value"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = _printable(describe(dict(first)))
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        raise ParseError(
            reason, message + more, source=payload.source, record=record, field=field
        ) from exc
    out = []
    for i, item in enumerate(items):
        o = item.to_observation(payload.source, payload.content_hash)
        o.attributes["record"] = str(i)  # its index in the batch, for per-record rejections
        out.append(o)
    return out

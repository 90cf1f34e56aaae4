"""The bodies of the HTTP API as pydantic models: what requests send and what answers hold. The
OpenAPI schema (`/openapi.json`, `/docs`, `/redoc`) is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# --- errors -------------------------------------------------------------------------------


class ProblemDetail(BaseModel):
    message: str
    reason: str | None = None
    record: str | None = None
    field: str | None = None


class Problem(BaseModel):
    """Every error answers this shape (docs/reference/http-api.md#status-codes)."""

    detail: ProblemDetail


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of an endpoint's error statuses, each answering a Problem."""
    why = {
        400: "The body is not JSON",
        401: "No bearer token, or one no configured token matches",
        403: "The token's role is too low, or no token is configured",
        404: "What the request names does not exist",
        409: "Its state does not allow the request",
        413: "The body is over the endpoint's limit",
        422: "The request cannot be carried out as asked",
        429: "Too many failed authentications from this address",
        503: "The store is unavailable; try again later",
    }
    return {s: {"model": Problem, "description": why[s]} for s in statuses}


AUTH_ERRORS = (401, 403, 429, 503)

# --- writes -------------------------------------------------------------------------------


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: str | None = None
    subject: str | None = None
    trigger: int | None = Field(None, ge=1)
    # With a named token the author is the token's name: `by`, if given, must be it. With the
    # shared `api_token` it names who acknowledges (required).
    by: str | None = Field(None, min_length=1)
    note: str = ""


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    duration: str | None = None
    created_by: str | None = Field(None, min_length=1)  # as AckIn.by
    comment: str = Field(min_length=1)
    # Add it even if a matcher names a label no alert has, or a value none takes.
    force: bool = False


class AckOut(BaseModel):
    trigger: int = Field(description="The seq of the `ack` entry in the trigger log")


class SilenceCreated(BaseModel):
    id: int
    trigger: int


class SilenceEnded(BaseModel):
    trigger: int


class SilenceOut(BaseModel):
    id: int
    match: dict[str, str]
    match_re: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    expired_by: str | None = None


class RejectedItem(BaseModel):
    record: str | None
    field: str | None
    reason: str
    message: str


class PushOut(BaseModel):
    ingested: int
    duplicates: int
    rejected: list[RejectedItem] | None = None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    detail: str


# --- the trigger log ------------------------------------------------------------------------


class TriggerSummary(BaseModel):
    """One entry of the trigger log, as listed."""

    seq: int
    at: datetime
    kind: str = Field(description="transition, catalog, ack, silence, delivery or assessment")
    threshold: str
    threshold_version: str
    subject: str
    from_state: str
    to_state: str
    hash: str
    prev_hash: str
    epoch: int | None = Field(
        None,
        description="The leadership epoch it was written under (several replicas on "
        "PostgreSQL); not part of the hashed content; null on SQLite and for entries written "
        "before it was recorded",
    )
    title: str | None = None
    severity: str | None = None
    verdict: str | None = None
    value: float | None = None
    reason: str | None = None
    actor: str | None = None
    action: str | None = None


class TriggerPage(BaseModel):
    items: list[TriggerSummary]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next page (same filters); null on the last page"
    )
    next: str | None = Field(description="The next page's path and query, or null")


class StoredEvidence(BaseModel):
    """An observation as the store holds it now."""

    feed: str
    subject: str
    benchmark: str
    metric: str
    value: float
    stderr: float | None
    n: int | None
    observed_at: datetime
    source: str
    content_hash: str
    key: str
    ingested_at: datetime | None
    provenance: dict[str, Any] = Field(
        description="The observation's attributes: who measured it (vendor_reported), org, "
        "scaffold, elicitation, timestamp kind, ..."
    )


class EvidenceItem(BaseModel):
    """One observation behind a trigger: as the trigger log recorded it, and as stored."""

    observation: int
    feed: str
    model: str
    benchmark: str
    metric: str
    value: float
    stderr: float | None
    n: int | None
    observed_at: datetime
    source: str
    content_hash: str
    stored: StoredEvidence | None = Field(description="null when the store no longer has it")
    changed: list[str] = Field(description="Fields whose stored value differs from the log's")


class ThresholdAtVersion(BaseModel):
    version: str
    stored: bool = Field(description="Whether the full definition is kept under this version")
    definition: dict[str, Any] | None = Field(
        description="The full definition (canonical form) the version hashes; null if not kept"
    )


class DeliveryTry(BaseModel):
    attempt: int
    outcome: str
    error: str | None
    started_at: datetime


class DeliveryOut(BaseModel):
    sink: str
    status: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    last_error: str | None
    tries: list[DeliveryTry]


class SilenceInForce(BaseModel):
    id: int
    match: dict[str, str]
    match_re: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str


class TriggerDetail(BaseModel):
    entry: TriggerSummary
    content: dict[str, Any] = Field(description="The hashed canonical content, parsed")
    evidence: list[EvidenceItem]
    threshold: ThresholdAtVersion | None
    deliveries: list[DeliveryOut]
    acks: list[TriggerSummary] = Field(description="Acknowledgements of this alert episode")
    silences: list[SilenceInForce] = Field(
        description="The silences that held its notification back (as the entry recorded)"
    )


class Difference(BaseModel):
    what: str
    recorded: Any = None
    replayed: Any = None


class Verdict(BaseModel):
    verdict: str
    value: float | None
    confirmations: int
    to_state: str | None
    reason: str


class ReplayOut(BaseModel):
    seq: int
    outcome: str = Field(
        description="reproduced, evidence changed, definition missing, definition changed, "
        "verdict changed or not replayable"
    )
    reproduced: bool
    recorded: Verdict | None
    replayed: Verdict | None
    differences: list[Difference]
    notes: list[str]
    epoch: int | None = Field(
        None, description="The leadership epoch the entry was written under (null: none kept)"
    )


class VerifyOut(BaseModel):
    ok: bool
    entries: int
    head: str | None
    broken_at: int | None = None
    why: str | None = None


# --- alerts, catalog, feeds, forecasts, rejects ----------------------------------------------


class AlertOut(BaseModel):
    threshold: str
    subject: str
    state: str
    since: datetime
    threshold_version: str
    title: str | None
    domain: str | None
    level: str | None
    severity: str | None
    mitigations: list[str]
    acked_by: str | None
    acked_at: datetime | None
    ack_note: str | None
    last_trigger: int | None


class Citation(BaseModel):
    title: str
    url: str


class ProvenanceOut(BaseModel):
    kind: str = Field(description="source: the framework's own number; proxy: chosen by us")
    note: str


class ThresholdOut(BaseModel):
    id: str
    title: str
    domain: str
    level: str
    scope: str
    organisation: str | None
    version: str
    condition: dict[str, Any]
    warn_at: float | None
    for_: int = Field(alias="for")
    severity: str
    mitigations: list[str]
    safeguards: list[str]
    runbook: str | None
    labels: dict[str, str]
    sources: list[Citation]
    provenance: dict[str, ProvenanceOut]

    model_config = ConfigDict(populate_by_name=True)


class FeedOut(BaseModel):
    feed: str
    connector: str
    schedule: str
    state: str = Field(description="ok, failing (REASON), silent, never run")
    stale_after: float | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    observations: int
    open_rejects: int
    failed_runs: int
    last_error: str | None


class ForecastOut(BaseModel):
    threshold: str
    benchmark: str
    metric: str
    op: str
    value: float
    stale: bool
    change: str | None
    trigger: dict[str, Any]
    warning: dict[str, Any] | None
    fit: dict[str, Any]
    frontier: dict[str, Any]
    details: dict[str, Any] = Field(description="The whole forecast, as `warden forecast --json`")


class RejectOut(BaseModel):
    id: int
    feed: str
    source: str
    content_hash: str
    record: str | None
    field: str | None
    reason: str
    message: str
    created_at: datetime
    resolved_at: datetime | None
    dismissed_by: str | None
    dismiss_reason: str | None


class RejectPage(BaseModel):
    items: list[RejectOut]
    next_cursor: int | None
    next: str | None

"""Internal values that flow between the stages. Data only: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple

# The registry's benchmark and metric that carry a model's training compute (re-assessment
# triggers and compute conditions read it).
COMPUTE = ("training_compute", "flop")

# Who measured an observation (its `measured_by` attribute): the model's developer (a model
# card, a lab's table), an independent evaluator (Epoch, METR, HELM, a leaderboard), or this
# deployment's own runs (Inspect and lm-eval logs, pushes). Not the catalog's `provenance`,
# which says where a threshold's numbers come from.
MEASURERS = ("vendor", "independent", "own")
MeasuredBy = Literal["vendor", "independent", "own"]


def measured_by(attributes: Mapping[str, Any], default: str = "own") -> str:
    """Who measured an observation with these attributes: its `measured_by` attribute, else
    `vendor` when it is `vendor_reported`, else `default`."""
    given = attributes.get("measured_by")
    if isinstance(given, str) and given in MEASURERS:
        return given
    return "vendor" if attributes.get("vendor_reported") is True else default


@dataclass(frozen=True)
class Observation:
    """One normalised measurement. `key` is the content identity within its feed."""

    subject: str  # the model id
    benchmark: str
    metric: str
    value: float
    observed_at: datetime
    key: str
    source: str  # path or URL
    content_hash: str  # sha256 of the bytes read
    stderr: float | None = None
    n: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # Set by the registry at ingest: False when the id was kept raw because it is not known.
    benchmark_known: bool | None = None
    model_known: bool | None = None


@dataclass(frozen=True)
class Payload:
    """Raw bytes a connector fetched, with where they came from."""

    source: str
    content: bytes
    content_hash: str
    member: str | None = None
    # Identity of the underlying file or response, so unchanged inputs can be skipped.
    version: str | None = None
    # When the bytes were obtained (a file's modification time, a response's arrival): the
    # observed_at of sources that give no measurement time of their own (METR's release dates).
    fetched_at: datetime | None = None

    def record(self, record: str | None) -> str | None:
        """Where a record of this payload is, for a reject: within its archive member when it
        is one (`gpqa_diamond.csv:33`, or the member alone), else the record as given."""
        if self.member is None or (record or "").startswith(self.member):
            return record
        return self.member if record is None else f"{self.member}:{record}"


@dataclass(frozen=True)
class Rejection:
    """Bad input found while fetching (before parsing): a truncated zip, a file too large."""

    source: str
    reason: str
    message: str
    content_hash: str = ""
    record: str | None = None
    field: str | None = None
    version: str | None = None  # set when re-reading the same input would give the same result


@dataclass(frozen=True)
class Pending:
    """Input that is not finished yet (an Inspect log still running): read it again later."""

    source: str
    why: str


@dataclass(frozen=True)
class Ignored:
    """A file of a source folder that the connector passes over unread, by its name or suffix
    (not one of the files it reads): counted and listed, so "0 new" has its reason."""

    source: str
    why: str


# What a connector's `fetch` yields.
Fetched = Payload | Rejection | Pending | Ignored


class Point(NamedTuple):
    """What evaluation reads of a stored observation. A named tuple, not a dataclass: a full
    evaluation cycle makes one per series, and tuples are several times cheaper to build."""

    id: int
    subject: str
    value: float
    observed_at: datetime | None  # None when the read did not ask for it (no staleness rules)
    key: str  # content identity: the same measurement read by two feeds has one key
    stderr: float | None = None
    n: int | None = None
    feed: str = ""
    # The setting the model ran at (an effort level, a scaffold): one series per variant, and
    # evaluation reads each model's most capable variant. "" when the source names none.
    variant: str = ""
    # Who measured it (MEASURERS): a series is also per measurer, and a threshold's `evidence`
    # says which it reads. "" when the read did not say.
    measured_by: str = ""


# Where an observation's `observed_at` is not a measurement time: a fetch time (METR's files)
# or a release date (Epoch's rows without a run time). Frontier series and backtests place those
# at the model's release date instead.
NO_TIME_KINDS = frozenset({"fetched", "release_date"})
Basis = Literal["observed_at", "release_date"]


@dataclass(frozen=True)
class StoredObservation:
    """An observation as read back from the store, whole: the evidence behind a trigger, a
    point of a frontier series, a step of a backtest."""

    id: int
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
    key: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    ingested_at: datetime | None = None

    @property
    def variant(self) -> str:
        """The setting the model ran at (`xhigh`, a scaffold), "" when the source names none."""
        variant = self.attributes.get("variant")
        return variant if isinstance(variant, str) else ""

    @property
    def measured_by(self) -> str:
        """Who measured it: vendor, independent or own (see `measured_by`)."""
        return measured_by(self.attributes)

    def run(self) -> dict[str, str]:
        """Which variant and which run this is, as far as the source says: `variant`, `run_id`
        / `eval_id` (the source's ids of the run), `record` (row, entry or folder) and
        `measured_by` (who measured it), those it has."""
        out = {}
        for name in ("variant", "run_id", "eval_id", "record", "measured_by"):
            value = self.attributes.get(name)
            if isinstance(value, str) and value:
                out[name] = value
        return out

    @property
    def undated(self) -> bool:
        """Its observed_at is not a measurement time (a fetch time, or a release date)."""
        return self.attributes.get("timestamp_kind") in NO_TIME_KINDS

    def time(self, basis: Basis) -> datetime | None:
        """Its time on `basis`, or None when it has none there."""
        if basis == "observed_at":
            return None if self.attributes.get("timestamp_kind") == "fetched" else self.observed_at
        released = self.attributes.get("release_date")
        if isinstance(released, str):
            try:
                day = date.fromisoformat(released[:10])  # an ISO date (or a time on it)
            except ValueError:
                return None
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        return self.observed_at if self.attributes.get("timestamp_kind") == "release_date" else None


@dataclass(frozen=True)
class Assessment:
    """A model's last full capability assessment, as recorded by `warden assess record`."""

    model: str
    at: datetime
    by: str
    compute: float | None = None  # training compute (FLOP) of the model assessed
    note: str = ""


class Verdict(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    UNKNOWN = "unknown"
    ERROR = "error"


class State(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    WARNING = "warning"
    FIRING = "firing"
    RESOLVED = "resolved"
    NODATA = "nodata"
    ERROR = "error"


# Transitions into these states are handed to the sinks; the others are only logged.
NOTIFY_STATES = frozenset({State.FIRING, State.WARNING, State.RESOLVED, State.NODATA, State.ERROR})
# An alert in one of these states is over: its acknowledgement and notices are cleared, and a
# later transition starts a new episode.
QUIET_STATES = frozenset({State.RESOLVED, State.INACTIVE})


class Evaluation(NamedTuple):
    """The evaluator's output for one threshold x subject (a named tuple for the same reason
    as `Point`: a full cycle makes one per threshold x model)."""

    threshold: str
    subject: str
    verdict: Verdict
    value: float | None = None
    confirmations: int = 0
    evidence: tuple[Point, ...] = ()
    reason: str = ""  # set for unknown and error; comparisons are explained on demand
    # Set when the verdict is a projected crossing (`projected:`): the forecast it rests on.
    projection: dict[str, Any] | None = None


@dataclass(frozen=True)
class Transition:
    """A change of alert state: what the state machine hands to the trigger log."""

    threshold: str
    threshold_version: str
    subject: str
    from_state: State
    to_state: State
    evaluation: Evaluation

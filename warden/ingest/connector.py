"""The Connector protocol: code that understands one feed format.

`fetch` does the I/O and yields raw payloads (or rejections for input that cannot even be read,
`Pending` for input not finished yet, `Ignored` for a folder's files it does not read by name);
`parse` is pure and turns one payload into observations, raising `ParseError` for bad input or
`NotReady` for input that is not finished yet. A problem confined to one record (a row with a
NaN, a model entry without a name) is not a reason to lose the rest: `parse` then returns a
`Rejection` for that record (see `rejected`) among the observations, and the rest is stored.

`parse` returns a list, or an iterator (a generator) for formats whose files may be large
(`observations_json`): ingest then reads it a chunk at a time and never holds it whole
(warden.ingest.feedrun). Raising from the iterator, at any point, means what raising from
`parse` means: the payload is rejected whole (or skipped, for `NotReady`) and nothing it
yielded is stored. An iterator is read once; a list is what the other connectors return.
Connectors are found through the `warden.connectors` entry points, built-ins included.

Observation attributes connectors set (all optional; thresholds and the registry read them):

- `scale`: the scale `value` and `stderr` are in as the source gives them (a registry scale:
  fraction, percent, minutes, hours, seconds, points, flop, elo). The registry converts them to
  the metric's canonical scale at ingest; without `scale` the value must be canonical already.
- `organisation`, `open_weights` (bool), `release_date` (ISO date), `training_compute_flop`,
  `scaffold` (the agent scaffold or harness), `measured_by` (who measured it: `vendor`, the
  model's developer, as in model cards and lab tables; `independent`, an outside evaluator such
  as Epoch, METR, HELM or a leaderboard; `own`, this deployment's runs and pushes; the default
  is `own`, or `vendor` when `vendor_reported`), `vendor_reported` (bool: the older spelling of
  `measured_by: vendor`), `ci_low` / `ci_high` / `ci_level` (an interval as given).
- provenance beyond the observation's `source` and `content_hash`: `source_version` (a version,
  commit or date of the source), `record` (row number, run folder or entry id), `member` (the
  archive member), `timestamp_kind` (run_start, run_end, release_date, fetched, ...).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from warden.core.errors import ParseError
from warden.core.model import Fetched, Observation, Payload, Rejection


@dataclass
class Cursor:
    """What a feed has already handled: source -> version (size and mtime, or an ETag)."""

    versions: dict[str, str] = field(default_factory=dict)

    def unchanged(self, source: str, version: str | None) -> bool:
        return version is not None and self.versions.get(source) == version


class Connector(Protocol):
    name: ClassVar[str]

    def fetch(self, cursor: Cursor) -> Iterator[Fetched]: ...

    def parse(self, payload: Payload) -> Iterable[Observation | Rejection]: ...


def rejected(payload: Payload, error: ParseError) -> Rejection:
    """A rejection of one record of `payload`, for `parse` to return among its observations."""
    return Rejection(
        payload.source, error.reason, error.detail, payload.content_hash, error.record, error.field
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_key(*parts: object) -> str:
    """A stable identity for one observation within its feed."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()

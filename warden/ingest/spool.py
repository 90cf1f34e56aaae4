"""A payload's observations staged on disk while its stream is read, so a large file is held
as a few chunks in memory, never whole.

A connector whose `parse` yields (a generator) may give any number of observations from one
payload. Ingest reads them `batch` at a time, normalises and checks each chunk, and appends it
to a `Spool` (pickled chunks in a temporary file, in memory while small). Only once the stream
has ended without error does ingest store the payload, chunk by chunk in one transaction
(warden.ingest.feedrun.save_streamed): a stream that fails halfway (a bad record at the end of
the file, malformed JSON, a connector bug) leaves nothing stored, as a list that fails does, and
the database's write lock is held for the inserts only, not while the file is parsed.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from itertools import islice
from operator import attrgetter
from types import TracebackType
from typing import IO, TYPE_CHECKING, Generic, TypeVar

from warden.catalog.registry import Registry
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.settings import TimeBounds

SPOOL_MEMORY = 8 * 2**20  # bytes of pickled chunks kept in memory before they go to disk

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class Spool(Generic[T]):
    """Chunks of dataclass values of `kind` in a temporary file: `add` a chunk, then read them
    back, in order, as often as needed (`chunks`, or one value at a time by iterating). `len`
    is the values' count. Values are pickled as tuples of their fields (a dataclass pickles
    its `__dict__`, about three times slower) and rebuilt with `kind(*fields)`."""

    def __init__(self, kind: type[T]) -> None:
        self._kind = kind
        self._fields = attrgetter(*(f.name for f in fields(kind)))
        # Closed by close(), which Streamed's context and ingest's error paths call.
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_MEMORY)  # noqa: SIM115
        self._chunks = 0
        self._count = 0

    def add(self, chunk: Sequence[T]) -> None:
        if chunk:
            self._file.seek(0, 2)
            rows = [self._fields(value) for value in chunk]
            pickle.dump(rows, self._file, pickle.HIGHEST_PROTOCOL)
            self._chunks += 1
            self._count += len(chunk)

    def chunks(self) -> Iterator[list[T]]:
        self._file.seek(0)
        kind = self._kind
        for _ in range(self._chunks):
            rows = pickle.load(self._file)  # our own file, just written
            yield [kind(*row) for row in rows]

    def __iter__(self) -> Iterator[T]:
        for chunk in self.chunks():
            yield from chunk

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._file.close()


@dataclass
class Streamed:
    """A payload read from a stream: its observations and its refused records, spooled."""

    payload: Payload
    observations: Spool[Observation] = field(default_factory=lambda: Spool(Observation))
    rejections: Spool[Rejection] = field(default_factory=lambda: Spool(Rejection))

    def close(self) -> None:
        self.observations.close()
        self.rejections.close()

    def __enter__(self) -> Streamed:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def checked(
    payload: Payload,
    parsed: Iterable[Observation | Rejection],
    now: datetime,
    registry: Registry | None,
    bounds: TimeBounds,
) -> tuple[list[Observation], list[Rejection]]:
    """`parsed` split into observations (normalised through `registry`) and rejections (the
    connector's, the registry's and those dated outside `bounds` at `now`), recording nothing."""
    out: list[Observation] = []
    refused: list[Rejection] = []
    for o in parsed:
        if isinstance(o, Observation) and (why := bounds.problem(o.observed_at, now)):
            o = Rejection(
                payload.source,
                "invalid_value",
                why,
                payload.content_hash,
                o.attributes.get("record"),
                "observed_at",
            )
        if isinstance(o, Observation) and registry is not None:
            try:
                o = registry.normalise(o)
            except ParseError as exc:
                o = Rejection(
                    payload.source,
                    exc.reason,
                    exc.detail,
                    payload.content_hash,
                    exc.record or o.attributes.get("record"),
                    exc.field,
                )
        if isinstance(o, Rejection):
            refused.append(replace(o, record=payload.record(o.record)))
        else:
            out.append(o)
    return out, refused


def spooled(
    payload: Payload,
    stream: Iterator[Observation | Rejection],
    batch: int,
    now: datetime,
    registry: Registry | None,
    bounds: TimeBounds,
) -> list[Observation | Rejection] | Streamed:
    """What `stream` yields: a list when it ends within `batch` values (staged as a list is),
    else all of it checked and spooled `batch` at a time (the spool is closed if the stream
    raises). At most two chunks are held at once: the one being read and the one before."""
    chunk = list(islice(stream, batch))
    if len(chunk) < batch:
        return chunk
    streamed = Streamed(payload)
    try:
        while chunk:
            good, refused = checked(payload, chunk, now, registry, bounds)
            streamed.observations.add(good)
            streamed.rejections.add(refused)
            del good, refused
            chunk = list(islice(stream, batch))
    except BaseException:
        streamed.close()
        raise
    return streamed

"""Where a frontier places an observation in time, and which of a model's estimates counts. Pure.

- Release dates: the registry's (it wins, as at ingest), else the observation's own
  `release_date` attribute (METR's files, Epoch's hub rows and model tables), else Epoch's model
  tables joined by name: a `training_compute` observation gives its model's release date under
  its name and under each of its `model_versions` (the hub's `Model version` spellings).
- The basis: `release_date` when most observations of a series have a release date or have no
  measurement time of their own; there, an observation without a release date but with a
  measurement time is placed at that time (and counted so), one without either is left out.
- A model's estimate on the release-date basis: the newest, where "newest" follows the source's
  own version before the fetch time. Observations whose `source_version` names a versioned
  source (`METR-Horizon-v1.1`: a name and a dotted number) are superseded by those of a higher
  version of the same source, then of a newer `source_date` (the file's own date), whatever
  order the files were copied or fetched in; the rest are ordered by observed_at.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime

from warden.catalog.registry import Registry
from warden.core.model import COMPUTE, Basis, StoredObservation

Released = Mapping[str, date]  # a model name (casefolded) -> its release date
VERSIONED = re.compile(r"\A(?P<name>.*[a-z])[-_ .]*(?P<number>\d+(?:\.\d+)*)\Z", re.IGNORECASE)
SUPERSEDED = "superseded by a newer version of their source"
OLDER = "older estimates of a model"


def release_table(records: Iterable[StoredObservation]) -> dict[str, date]:
    """Release dates from Epoch's model tables (`training_compute` observations with a
    `release_date`): by model name and by each of its `model_versions`."""
    out: dict[str, date] = {}
    for r in records:
        if (r.benchmark, r.metric) != COMPUTE:
            continue
        day = _day(r.attributes.get("release_date"))
        if day is None:
            continue
        names = [r.subject, r.attributes.get("raw_model")]
        versions = r.attributes.get("model_versions")
        if isinstance(versions, str):
            names += versions.split(",")
        for name in names:
            if isinstance(name, str) and name.strip():
                out.setdefault(name.strip().casefold(), day)
    return out


def released_on(r: StoredObservation, registry: Registry, table: Released) -> datetime | None:
    """The model's release date (midnight UTC): registry, attribute, then the model tables."""
    model = registry.models.get(r.subject)
    day = model.release_date if model and model.release_date else None
    day = day or _day(r.attributes.get("release_date"))
    if day is None and table:
        raw = r.attributes.get("raw_model")
        for name in (r.subject, raw if isinstance(raw, str) else None):
            if name is not None and (day := table.get(name.casefold())) is not None:
                break
    if day is None:
        kind = r.attributes.get("timestamp_kind")
        return r.observed_at if kind == "release_date" else None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def measured_at(r: StoredObservation) -> datetime | None:
    """Its time on the observation-time basis: observed_at, unless that is a fetch time."""
    return r.time("observed_at")


def pick_basis(
    records: Sequence[StoredObservation], registry: Registry, table: Released | None = None
) -> Basis:
    """`release_date` when most observations have a release date or no measurement time."""
    if not records:
        return "observed_at"
    undated = sum(1 for r in records if r.undated)
    dated = sum(1 for r in records if released_on(r, registry, table or {}) is not None)
    return "release_date" if max(undated, dated) * 2 >= len(records) else "observed_at"


def newest_estimates(
    records: Sequence[StoredObservation],
) -> tuple[list[StoredObservation], dict[str, int]]:
    """Each model's newest estimate, and how many were passed over, by why."""
    by_subject: dict[str, list[StoredObservation]] = defaultdict(list)
    for r in records:
        by_subject[r.subject].append(r)
    out = []
    dropped = {SUPERSEDED: 0, OLDER: 0}
    for rs in by_subject.values():
        best: dict[str, tuple[tuple[int, ...], str]] = {}
        for r in rs:
            if (line := lineage(r)) is not None:
                name, rank = line
                best[name] = max(best.get(name, rank), rank)
        kept = [r for r in rs if (line := lineage(r)) is None or best[line[0]] == line[1]]
        dropped[SUPERSEDED] += len(rs) - len(kept)
        dropped[OLDER] += len(kept) - 1
        out.append(max(kept, key=lambda r: (r.observed_at, r.id)))
    return out, dropped


def lineage(r: StoredObservation) -> tuple[str, tuple[tuple[int, ...], str]] | None:
    """(source name, (version, source date)) of a versioned source's observation, else None."""
    version = r.attributes.get("source_version")
    if not isinstance(version, str):
        return None
    m = VERSIONED.match(version.strip())
    if m is None:
        return None
    number = tuple(int(x) for x in m["number"].split("."))
    while len(number) > 1 and number[-1] == 0:
        number = number[:-1]  # v1 and v1.0 are one version
    when = r.attributes.get("source_date")
    return m["name"].casefold(), (number, when if isinstance(when, str) else "")


def _day(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None

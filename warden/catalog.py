"""The catalog: if-then thresholds read from YAML, with errors located at `file:line`.

A catalog file holds a top-level `thresholds:` list and optionally a `benchmarks:` list declaring
in-house benchmarks. Every problem in a file is reported at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from warden.errors import CatalogError, Problem
from warden.yamlfile import LocatedYaml, YamlError, problems_from

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$"

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


class Level(StrEnum):
    EARLY_WARNING = "early_warning"
    HIGH = "high"
    CRITICAL = "critical"


class Scope(StrEnum):
    PER_MODEL = "per_model"
    FRONTIER = "frontier"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    title: str = Field(min_length=1)
    url: HttpUrl


class Condition(_Strict):
    benchmark: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    op: Literal[">=", ">", "<=", "<"]
    value: float = Field(allow_inf_nan=False)

    @cached_property
    def compare(self) -> Callable[[float, float], bool]:
        """The comparison `op` as a function (value, limit) -> bool."""
        return OPS[self.op]

    def holds(self, value: float, against: float | None = None) -> bool:
        return self.compare(value, self.value if against is None else against)

    @property
    def higher_is_more(self) -> bool:
        return self.op in (">=", ">")


class Then(_Strict):
    severity: Literal["info", "warning", "critical"]
    mitigations: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class Threshold(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    level: Level
    sources: list[Source] = Field(min_length=1)
    when: Condition
    scope: Scope = Scope.PER_MODEL
    warn_at: float | None = Field(None, allow_inf_nan=False)
    for_: int = Field(1, alias="for", ge=1)
    stale_after: float | None = Field(None, gt=0, description="seconds; older evidence is unknown")
    then: Then

    @model_validator(mode="after")
    def _warn_below_trigger(self) -> Threshold:
        if self.warn_at is not None and self.when.holds(self.warn_at):
            raise ValueError(
                f"warn_at {self.warn_at!r} must lie on the safe side of "
                f"{self.when.op} {self.when.value!r} (it is an early warning)"
            )
        return self

    @property
    def version(self) -> str:
        """SHA-256 of the threshold's canonical content; stored with every trigger."""
        body = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


class Benchmark(_Strict):
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)


class CatalogFile(_Strict):
    benchmarks: list[Benchmark] = Field(default_factory=list)
    thresholds: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [] if value is None else value


@dataclass(frozen=True)
class Catalog:
    thresholds: tuple[Threshold, ...]
    benchmarks: dict[str, Benchmark]
    files: tuple[Path, ...]

    @cached_property
    def _index(self) -> dict[str, Threshold]:
        return {t.id: t for t in self.thresholds}

    def by_id(self, threshold_id: str) -> Threshold:
        return self._index[threshold_id]

    def touching(self, pairs: Iterable[tuple[str, str]]) -> list[Threshold]:
        """Thresholds whose condition reads one of the (benchmark, metric) pairs."""
        wanted = set(pairs)
        return [t for t in self.thresholds if (t.when.benchmark, t.when.metric) in wanted]


def catalog_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders to their `*.yaml`/`*.yml` files (sorted, not recursive)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                problems.append(Problem(str(path), "catalog folder holds no *.yaml file"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), "catalog path not found"))
    if problems:
        raise CatalogError(problems)
    return files


def load_catalog(paths: Iterable[Path]) -> Catalog:
    """Load every threshold from `paths` (files or folders). Raises CatalogError with every
    problem of every file, each at `file:line` and naming the threshold id."""
    files = catalog_files(paths)
    problems: list[Problem] = []
    thresholds: list[Threshold] = []
    benchmarks: dict[str, Benchmark] = {}
    where_defined: dict[str, str] = {}
    for file in files:
        doc, parsed = _read_file(file, problems)
        if doc is None or parsed is None:
            continue
        for b in parsed.benchmarks:
            benchmarks[b.id] = b
        for index, raw in enumerate(parsed.thresholds):
            loc: list[str | int] = ["thresholds", index]
            tid = raw.get("id") if isinstance(raw, dict) else None
            subject = tid if isinstance(tid, str) else None
            try:
                threshold = Threshold.model_validate(raw)
            except ValidationError as exc:
                for p in problems_from(exc, doc, loc):
                    problems.append(Problem(p.where, p.message, subject))
                continue
            if threshold.id in where_defined:
                problems.append(
                    Problem(
                        doc.where(loc),
                        f"duplicate threshold id, first defined at {where_defined[threshold.id]}",
                        threshold.id,
                    )
                )
                continue
            where_defined[threshold.id] = doc.where(loc)
            thresholds.append(threshold)
    for t in thresholds:
        if t.when.benchmark not in benchmarks:
            problems.append(
                Problem(
                    where_defined[t.id],
                    f"unknown benchmark {t.when.benchmark!r}; declare it under `benchmarks:`",
                    t.id,
                )
            )
    if problems:
        raise CatalogError(problems)
    return Catalog(tuple(thresholds), benchmarks, tuple(files))


def _read_file(file: Path, problems: list[Problem]) -> tuple[LocatedYaml | None, Any]:
    try:
        doc = LocatedYaml.read(file)
    except YamlError as exc:
        problems.extend(exc.problems)
        return None, None
    if doc.data is None:
        return doc, CatalogFile()
    if not isinstance(doc.data, dict):
        problems.append(
            Problem(doc.where([]), "a catalog file must be a mapping with `thresholds:`")
        )
        return None, None
    try:
        return doc, CatalogFile.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(problems_from(exc, doc))
        return None, None


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))

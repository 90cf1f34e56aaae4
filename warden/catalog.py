"""The catalog: if-then thresholds read from YAML, with errors located at `file:line`.

A catalog file holds a top-level `thresholds:` list and optionally `benchmarks:` and `models:`
lists adding in-house entries to the registry (warden/registry.py). Every problem in a file is
reported at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal, TypeGuard

from pydantic import (
    Field,
    HttpUrl,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from warden.errors import CatalogError, Problem
from warden.registry import BOUNDS, BenchmarkSpec, ModelSpec, Registry, Source, Strict, add_file
from warden.yamlfile import LocatedYaml, YamlError, problems_from, yaml_files

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
    FRONTIER = "frontier"  # the best model; its one subject is named "frontier"
    OPEN_WEIGHTS_FRONTIER = "open_weights_frontier"  # the best model with open weights


class Condition(Strict):
    benchmark: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    op: Literal[">=", ">", "<=", "<"]
    value: float = Field(allow_inf_nan=False)
    # Set when the condition was written as a ratio to a human baseline: `value` is then
    # ratio x the baseline's value from the registry.
    ratio: float | None = Field(None, gt=0, allow_inf_nan=False)
    baseline: str | None = None

    @cached_property
    def compare(self) -> Callable[[float, float], bool]:
        """The comparison `op` as a function (value, limit) -> bool."""
        return OPS[self.op]

    def holds(self, value: float, against: float | None = None) -> bool:
        return self.compare(value, self.value if against is None else against)

    @property
    def higher_is_more(self) -> bool:
        return self.op in (">=", ">")


class Then(Strict):
    severity: Literal["info", "warning", "critical"]
    mitigations: list[str] = Field(default_factory=list)
    safeguards: list[str] = Field(default_factory=list)  # labels, e.g. ASL-3, SL-3
    runbook: HttpUrl | None = None
    labels: dict[str, str] = Field(default_factory=dict)  # for routing
    annotations: dict[str, str] = Field(default_factory=dict)  # free text shown with the alert


class Threshold(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    level: Level
    sources: list[Source] = Field(min_length=1)
    when: Condition
    scope: Scope = Scope.PER_MODEL
    # Only models of this organisation (from the registry). `scope: {organisation: NAME}` is
    # short for `scope: frontier` with this filter.
    organisation: str | None = Field(None, min_length=1)
    warn_at: float | None = Field(None, allow_inf_nan=False)
    for_: int = Field(1, alias="for", ge=1)
    # `for: "6h"` (s, m, h, d): breached continuously that long, as pending, before firing.
    for_seconds: float | None = Field(None, gt=0)
    # A firing alert stays firing this long after the last evaluation that found it breached.
    keep_firing_for: float | None = Field(None, gt=0)
    # Hysteresis: once firing, the alert holds until the value is past this recovery level.
    clear_at: float | None = Field(None, allow_inf_nan=False)
    # Uncertainty: breach only when the confidence interval's bound (the lower one for >=) meets
    # the condition; an observation without stderr counts by its point value, or not at all.
    confidence: float | None = Field(None, gt=0, lt=1)
    missing_uncertainty: Literal["point", "ignore"] = "point"
    # Observations with fewer samples (or no sample count) do not count.
    min_samples: int | None = Field(None, ge=1)
    stale_after: float | None = Field(None, gt=0, description="seconds; older evidence is unknown")
    then: Then

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any, info: ValidationInfo) -> Any:
        """Shorthands, rewritten to the one form evaluation reads: `scope: {organisation: N}`,
        `when: {ratio: r}` (to a registry baseline), the grey zone `when: {rule_out, rule_in}`
        and `warn_at: {margin: m}`."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        scope = data.get("scope")
        if isinstance(scope, dict):
            if set(scope) != {"organisation"} or "organisation" in data:
                raise ValueError("scope: a scope name, or {organisation: NAME}")
            data.update(scope=Scope.FRONTIER.value, organisation=scope["organisation"])
        if isinstance(data.get("for"), str):
            data.update(_duration_for(data["for"]))
        if isinstance(data.get("keep_firing_for"), str):
            data["keep_firing_for"] = _duration(data["keep_firing_for"], "keep_firing_for")
        if isinstance(data.get("when"), dict) and "ratio" in data["when"]:
            registry = (info.context or {}).get("registry")
            data.update(_baseline_ratio(data["when"], data.get("warn_at"), registry))
        if isinstance(data.get("when"), dict) and {"rule_in", "rule_out"} & set(data["when"]):
            data.update(_grey_zone(data["when"], "warn_at" in data))
        if isinstance(data.get("warn_at"), dict) and isinstance(data.get("when"), dict):
            data["warn_at"] = _margin(data["warn_at"], data["when"])
        return data

    @model_validator(mode="after")
    def _warn_below_trigger(self) -> Threshold:
        if self.warn_at is not None and self.when.holds(self.warn_at):
            raise ValueError(
                f"warn_at {self.warn_at!r} must lie on the safe side of "
                f"{self.when.op} {self.when.value!r} (it is an early warning)"
            )
        if self.clear_at is not None and (
            self.when.holds(self.clear_at) or self.clear_at == self.when.value
        ):
            raise ValueError(
                f"clear_at {self.clear_at!r} must lie on the safe side of "
                f"{self.when.op} {self.when.value!r} (it is the recovery level)"
            )
        return self

    @cached_property
    def z(self) -> float | None:
        """The normal quantile of the two-sided `confidence` interval (1.96 for 0.95)."""
        return None if self.confidence is None else NormalDist().inv_cdf((1 + self.confidence) / 2)

    def compared(self, value: float, stderr: float | None) -> float:
        """What the condition compares: the value, or the bound of its confidence interval on
        the less capable side."""
        if self.z is None or stderr is None:
            return value
        return value - self.z * stderr if self.when.higher_is_more else value + self.z * stderr

    @property
    def is_frontier(self) -> bool:
        """One subject, the best model (named after the scope), rather than one per model."""
        return self.scope is not Scope.PER_MODEL

    @property
    def version(self) -> str:
        """SHA-256 of the threshold's canonical content; stored with every trigger."""
        body = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()




def _metric_problems(t: Threshold, registry: Registry) -> list[str]:
    """A threshold's metric must be one its benchmark declares (when it declares any), by its
    canonical name, with values its scale can take."""
    spec = registry.benchmarks[t.when.benchmark]
    if not spec.metrics:
        return []
    name, metric = registry.metric(t.when.benchmark, t.when.metric)
    if metric is None:
        return [
            f"when.metric {t.when.metric!r}: {t.when.benchmark} declares {sorted(spec.metrics)}"
        ]
    if name != t.when.metric:
        return [f"when.metric {t.when.metric!r} is an alias: use the canonical name {name!r}"]
    low, high = BOUNDS.get(metric.scale, (0.0, math.inf))
    return [
        f"{field} {value!r} is impossible for a {metric.scale} (must be in [{low:g}, {high:g}])"
        for field, value in (("when.value", t.when.value), ("warn_at", t.warn_at))
        if value is not None and not low <= value <= high
    ]


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str, field: str) -> float:
    """Seconds in a duration such as '30m', '6h', '2d'."""
    number, unit = text.strip()[:-1], text.strip()[-1:]
    try:
        seconds = float(number) * _UNITS[unit]
    except (KeyError, ValueError) as exc:
        what = "a count of observations, or a duration" if field == "for" else "a duration"
        raise ValueError(f"{field}: {what} such as '30m', '6h', '2d' (got {text!r})") from exc
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{field}: the duration must be positive (got {text!r})")
    return seconds


def _duration_for(text: str) -> dict[str, Any]:
    """`for: "6h"` is a duration: `for_seconds: 21600` (and one confirming observation)."""
    return {"for": 1, "for_seconds": _duration(text, "for")}


def _grey_zone(when: dict[str, Any], has_warn_at: bool) -> dict[str, Any]:
    """`when: {rule_out: a, rule_in: b}` is `op: ">="` (`"<="` when b < a), `value: b`,
    `warn_at: a`."""
    if "op" in when or "value" in when:
        raise ValueError("when: give either op and value, or rule_out and rule_in")
    if has_warn_at:
        raise ValueError("warn_at: a grey zone's rule_out is its early warning already")
    rest = {k: v for k, v in when.items() if k not in ("rule_in", "rule_out")}
    rule_in, rule_out = when.get("rule_in"), when.get("rule_out")
    if not (_number(rule_in) and _number(rule_out)):
        raise ValueError("when: rule_out and rule_in must both be numbers")
    if rule_in == rule_out:
        raise ValueError(f"when: rule_out and rule_in are both {rule_in!r}: no grey zone")
    op = ">=" if rule_in > rule_out else "<="
    return {"when": {**rest, "op": op, "value": rule_in}, "warn_at": rule_out}


def _margin(warn_at: dict[str, Any], when: dict[str, Any]) -> Any:
    """`warn_at: {margin: m}` is the trigger value less m (plus m for `<=`/`<`)."""
    margin, value, op = warn_at.get("margin"), when.get("value"), when.get("op")
    if set(warn_at) != {"margin"} or not _number(margin) or margin <= 0:
        raise ValueError("warn_at: a number, or {margin: a positive number}")
    if not (_number(value) and op in OPS):
        return warn_at  # the condition's own errors are reported for `when`
    return value - margin if op in (">=", ">") else value + margin


def _baseline_ratio(
    when: dict[str, Any], warn_at: Any, registry: Registry | None
) -> dict[str, Any]:
    """`when: {ratio: r, baseline: NAME?}` as an absolute value: r x the registry's baseline
    (the metric's first one unless named). A plain-number `warn_at` is a ratio too."""
    if "value" in when:
        raise ValueError("when: give either value, or ratio (to a human baseline)")
    ratio = when.get("ratio")
    if not _number(ratio) or ratio <= 0:
        raise ValueError("when.ratio: a positive number")
    benchmark, metric = when.get("benchmark"), when.get("metric")
    spec = None
    if registry is not None and isinstance(benchmark, str) and isinstance(metric, str):
        spec = registry.metric(registry.benchmark_id(benchmark) or benchmark, metric)[1]
    values = {b.name: b.value for b in spec.baselines} if spec else {}
    if not values:
        raise ValueError(f"when.ratio: the registry has no human baseline for {benchmark}/{metric}")
    name = when.get("baseline", next(iter(values)))
    if name not in values:
        raise ValueError(f"when.baseline: {name!r} is not one of {sorted(values)}")
    base = values[name]
    out: dict[str, Any] = {"when": {**when, "value": ratio * base, "baseline": name}}
    if _number(warn_at):
        out["warn_at"] = warn_at * base
    return out


Benchmark = BenchmarkSpec  # a catalog's `benchmarks:` entries are registry entries


class CatalogFile(Strict):
    benchmarks: list[BenchmarkSpec] = Field(default_factory=list)
    models: list[ModelSpec] = Field(default_factory=list)
    thresholds: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [] if value is None else value


@dataclass(frozen=True)
class Catalog:
    thresholds: tuple[Threshold, ...]
    files: tuple[Path, ...] = ()
    registry: Registry = field(default_factory=Registry)

    @property
    def benchmarks(self) -> dict[str, BenchmarkSpec]:
        return self.registry.benchmarks

    @cached_property
    def _index(self) -> dict[str, Threshold]:
        return {t.id: t for t in self.thresholds}

    def by_id(self, threshold_id: str) -> Threshold:
        return self._index[threshold_id]

    def touching(self, pairs: Iterable[tuple[str, str]]) -> list[Threshold]:
        """Thresholds whose condition reads one of the (benchmark, metric) pairs."""
        wanted = set(pairs)
        return [t for t in self.thresholds if (t.when.benchmark, t.when.metric) in wanted]


def load_catalog(paths: Iterable[Path], registry_paths: Iterable[Path] = ()) -> Catalog:
    """Load every threshold from `paths` (files or folders), on top of the registry read from
    `registry_paths`. Raises CatalogError with every problem of every file, each at `file:line`
    and naming the threshold id."""
    files = yaml_files(paths)
    problems: list[Problem] = []
    registry = Registry()
    for file in yaml_files(registry_paths):
        add_file(registry, file, problems)
    thresholds: list[Threshold] = []
    where_defined: dict[str, str] = {}
    read = []
    for file in files:  # first every file's registry entries, which any threshold may use
        doc, parsed = _read_file(file, problems)
        if doc is None or parsed is None:
            continue
        read.append((doc, parsed))
        for i, b in enumerate(parsed.benchmarks):
            registry.add_benchmark(b, doc.where(["benchmarks", i]), problems)
        for i, m in enumerate(parsed.models):
            registry.add_model(m, doc.where(["models", i]), problems)
    for doc, parsed in read:
        for index, raw in enumerate(parsed.thresholds):
            loc: list[str | int] = ["thresholds", index]
            tid = raw.get("id") if isinstance(raw, dict) else None
            subject = tid if isinstance(tid, str) else None
            try:
                threshold = Threshold.model_validate(raw, context={"registry": registry})
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
    organisations = {m.organisation for m in registry.models.values()}
    for t in thresholds:
        if t.organisation is not None and t.organisation not in organisations:
            problems.append(
                Problem(
                    where_defined[t.id],
                    f"organisation {t.organisation!r} has no model in the registry",
                    t.id,
                )
            )
        canonical = registry.benchmark_id(t.when.benchmark)
        if canonical is None:
            why = (
                f"unknown benchmark {t.when.benchmark!r}: in no registry file; declare it "
                "under `benchmarks:`"
            )
        elif canonical != t.when.benchmark:
            why = f"benchmark {t.when.benchmark!r} is an alias: use the canonical id {canonical!r}"
        else:
            problems.extend(
                Problem(where_defined[t.id], w, t.id) for w in _metric_problems(t, registry)
            )
            continue
        problems.append(Problem(where_defined[t.id], why, t.id))
    if problems:
        raise CatalogError(problems)
    return Catalog(tuple(thresholds), tuple(files), registry)


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

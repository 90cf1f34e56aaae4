"""The catalog: if-then thresholds read from YAML, with errors located at `file:line`.

A catalog file holds a top-level `thresholds:` list and optionally `benchmarks:` and `models:`
lists adding in-house entries to the registry (`warden.catalog.registry`). Every problem in a
file is reported at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from statistics import NormalDist
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    HttpUrl,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from warden.catalog.conditions import (
    Combination,
    Comparison,
    Condition,
    Conflict,
    Divergence,
    Part,
    Reassessment,
    When,
    rewrite,
)
from warden.catalog.disagreement import Evidence
from warden.catalog.provenance import Provenance, check_provenance, critical_problem
from warden.catalog.provenance import numbers as numbers  # where the threshold tests read it
from warden.catalog.registry import BOUNDS, BenchmarkSpec, ModelSpec, Registry, Source, add_file
from warden.core.basis import Basis, basis
from warden.core.config import Duration, Strict, parse_duration
from warden.core.declarations import CANDIDATE
from warden.core.errors import CatalogError, Problem
from warden.core.model import COMPUTE
from warden.core.suggest import did_you_mean
from warden.core.yamlfile import LocatedYaml, YamlError, problems_from, yaml_files

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$"


class Level(StrEnum):
    EARLY_WARNING = "early_warning"
    HIGH = "high"
    CRITICAL = "critical"


class Scope(StrEnum):
    PER_MODEL = "per_model"
    FRONTIER = "frontier"  # the best model; its one subject is named "frontier"
    OPEN_WEIGHTS_FRONTIER = "open_weights_frontier"  # the best model with open weights


class Then(Strict):
    severity: Literal["info", "warning", "critical"]
    mitigations: list[str] = Field(default_factory=list)
    safeguards: list[str] = Field(default_factory=list)  # labels, e.g. ASL-3, SL-3
    runbook: HttpUrl | None = None
    labels: dict[str, str] = Field(default_factory=dict)  # for routing
    annotations: dict[str, str] = Field(default_factory=dict)  # free text shown with the alert


class Projected(Strict):
    """`projected: {within_days: N, probability: p}`: an early warning ahead of the data, when
    the trend of the frontier is projected to cross the trigger value within N days with at
    least probability p (warden/forecasting/fit.py)."""

    within_days: float = Field(gt=0, le=3650)
    probability: float = Field(gt=0, le=1)


WINDOW_PATTERN = re.compile(r"\A(all|\d{4}-\d{2}-\d{2}|[1-9]\d{0,2}[yd])\Z")


def window_spec(value: Any) -> Any:
    """A fit window's start as written: `all`, a date (`2010-01-01`, YAML's unquoted date too),
    `Ny` (the last N calendar years of the data) or `Nd` (its last N days); as canonical text."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and 1900 <= value <= 9999:
        return f"{value}-01-01"  # a bare year: `since: 2010`
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d{4}", text):
            text = f"{text}-01-01"
        if WINDOW_PATTERN.match(text) and (len(text) != 10 or _is_date(text)):
            return text
    raise ValueError(
        f"{value!r}: a window start is `all`, a date (2010-01-01), a year (2010), the last N "
        "years of the data (2y) or its last N days (730d)"
    )


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


WindowSpec = Annotated[str, BeforeValidator(window_spec)]


class Forecast(Strict):
    """`forecast: {since, recent, min_points, min_span, method, max_age}`: how the trend of a
    threshold's frontier is fitted (warden/forecasting/window.py). Unset fields take the
    defaults of the metric's scale (compute: since 2010; time horizons and scores: the whole
    history; the last 2 years beside; data older than 270 days, 365 for compute, are stale)."""

    since: WindowSpec | None = None  # the window projections use
    recent: WindowSpec | None = None  # the window shown beside it ("all" shows the whole)
    min_points: int | None = Field(None, ge=3, le=1000)
    min_span: Duration | None = Field(None, gt=0)  # seconds the used points must span
    method: Literal["theil_sen", "ols"] | None = None
    max_age: Duration | None = Field(None, gt=0)  # newest data older than this: stale


class Threshold(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    level: Level
    sources: list[Source] = Field(min_length=1)
    when: When
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
    # Results the model's developer reported about its own model (model cards) do not count:
    # `evidence: any` without the vendor's numbers.
    exclude_vendor_reported: bool = False
    # Which evidence the threshold reads, by who measured it (warden/catalog/disagreement.py):
    # any (default), independent, vendor, own, max (the most capable measurer decides) or min
    # (the least capable decides). Lab declarations are read whatever this says.
    evidence: Evidence = "any"
    stale_after: float | None = Field(None, gt=0, description="seconds; older evidence is unknown")
    projected: Projected | None = None
    forecast: Forecast | None = None
    # Per number of the threshold (`when.value`, `warn_at`, `when.of[0].value`, ...): taken from
    # the source, or a proxy chosen by us.
    provenance: dict[str, Provenance] = Field(default_factory=dict)
    then: Then
    # The canonical scale of each series read ("bench/metric" -> "fraction"), from the registry
    # the threshold was loaded with: how its numbers are shown to people. Not part of `version`.
    _scales: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any, info: ValidationInfo) -> Any:
        """Shorthands, rewritten to the one form evaluation reads: `scope: {organisation: N}`,
        durations, and those of `when` (warden/catalog/conditions.py)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        check_provenance(data)
        scope = data.get("scope")
        if isinstance(scope, dict):
            if set(scope) != {"organisation"} or "organisation" in data:
                raise ValueError("scope: a scope name, or {organisation: NAME}")
            data.update(scope=Scope.FRONTIER.value, organisation=scope["organisation"])
        if isinstance(data.get("for"), str):
            data.update(_duration_for(data["for"]))
        if isinstance(data.get("keep_firing_for"), str):
            data["keep_firing_for"] = parse_duration(data["keep_firing_for"], "keep_firing_for")
        return rewrite(data, (info.context or {}).get("registry"))

    @model_validator(mode="after")
    def _scales_from_registry(self, info: ValidationInfo) -> Threshold:
        registry = (info.context or {}).get("registry")
        if isinstance(registry, Registry):
            for c in self.conditions:
                spec = registry.metric(registry.benchmark_id(c.benchmark) or c.benchmark, c.metric)
                if spec[1] is not None:
                    self._scales[f"{c.benchmark}/{c.metric}"] = spec[1].scale
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Threshold:
        when = self.when
        if self.exclude_vendor_reported and self.evidence == "vendor":
            raise ValueError("exclude_vendor_reported: contradicts evidence: vendor")
        if isinstance(when, Conflict | Divergence):
            name = "conflict" if isinstance(when, Conflict) else "diverges"
            unfit = ["warn_at", "clear_at", "projected"]
            unfit += ["confidence"] if isinstance(when, Conflict) else []
            for key in unfit:
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: does not apply to {name}")
            if self.scope is not Scope.PER_MODEL:
                raise ValueError(f"scope: {name} is judged per model")
        if isinstance(when, Reassessment):
            for name in ("confidence", "min_samples", "clear_at"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}: does not apply to since_assessment")
            if self.scope is not Scope.PER_MODEL:
                raise ValueError("scope: since_assessment is judged per model")
        if self.projected is not None and not (
            isinstance(when, Condition) and self.scope is not Scope.PER_MODEL
        ):
            raise ValueError(
                "projected: needs a single benchmark condition and a frontier scope (the trend "
                "is that of the frontier)"
            )
        if self.forecast is not None and not self.conditions:
            raise ValueError("forecast: needs a benchmark condition (a trend to fit)")
        if not isinstance(when, Comparison):
            return self
        if self.warn_at is not None and when.holds(self.warn_at):
            raise ValueError(
                f"warn_at {self.warn_at!r} must lie on the safe side of "
                f"{when.op} {when.value!r} (it is an early warning)"
            )
        if self.clear_at is not None and (when.holds(self.clear_at) or self.clear_at == when.value):
            raise ValueError(
                f"clear_at {self.clear_at!r} must lie on the safe side of "
                f"{when.op} {when.value!r} (it is the recovery level)"
            )
        return self

    @cached_property
    def z(self) -> float | None:
        """The normal quantile of the two-sided `confidence` interval (1.96 for 0.95)."""
        return None if self.confidence is None else NormalDist().inv_cdf((1 + self.confidence) / 2)

    def compared(self, value: float, stderr: float | None, higher_is_more: bool = True) -> float:
        """What a condition compares: the value, or the bound of its confidence interval on
        the less capable side."""
        if self.z is None or stderr is None:
            return value
        return value - self.z * stderr if higher_is_more else value + self.z * stderr

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """The benchmark comparisons this threshold makes (none for since_assessment)."""
        return self.when.conditions

    @cached_property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The (benchmark, metric) series this threshold reads."""
        return self.when.pairs

    @property
    def scales(self) -> dict[str, str]:
        """The canonical scale of each series the threshold reads, `{"bench/metric": scale}`
        (empty when it was validated without a registry)."""
        return dict(self._scales)

    @cached_property
    def basis(self) -> Basis:
        """What its trigger level rests on: a framework's own number or a proxy chosen by the
        catalog, with its sources (warden.core.basis)."""
        return basis(
            {k: v.model_dump() for k, v in self.provenance.items()},
            self.when.model_dump(mode="json"),
            [{"title": s.title, "url": str(s.url)} for s in self.sources],
        )

    @property
    def is_frontier(self) -> bool:
        """One subject, the best model (named after the scope), rather than one per model."""
        return self.scope is not Scope.PER_MODEL

    @property
    def version(self) -> str:
        """SHA-256 of the threshold's canonical content; stored with every trigger. Fields left
        at their defaults are left out, so a new language feature does not change the version
        of thresholds that do not use it."""
        content = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _metric_problems(
    c: Condition, where: str, warn_at: float | None, registry: Registry
) -> list[str]:
    """A condition's metric must be one its benchmark declares (when it declares any), by its
    canonical name, with values its scale can take."""
    spec = registry.benchmarks[c.benchmark]
    if not spec.metrics:
        return []
    name, metric = registry.metric(c.benchmark, c.metric)
    if metric is None:
        return [f"{where}.metric {c.metric!r}: {c.benchmark} declares {sorted(spec.metrics)}"]
    if name != c.metric:
        return [f"{where}.metric {c.metric!r} is an alias: use the canonical name {name!r}"]
    low, high = BOUNDS.get(metric.scale, (0.0, math.inf))
    warn_field = f"{where}.warn_at" if isinstance(c, Part) else "warn_at"
    return [
        f"{field} {value!r} is impossible for a {metric.scale} (must be in [{low:g}, {high:g}])"
        for field, value in ((f"{where}.value", c.value), (warn_field, warn_at))
        if value is not None and not low <= value <= high
    ]


def _duration_for(text: str) -> dict[str, Any]:
    """`for: "6h"` is a duration: `for_seconds: 21600` (and one confirming observation)."""
    return {"for": 1, "for_seconds": parse_duration(text, "for")}


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

    def has(self, threshold_id: str) -> bool:
        return threshold_id in self._index

    def touching(self, pairs: Iterable[tuple[str, str]]) -> list[Threshold]:
        """Thresholds whose condition reads one of the (benchmark, metric) pairs."""
        wanted = set(pairs)
        return [t for t in self.thresholds if wanted.intersection(t.pairs)]


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
            why = threshold.then.severity == "critical" and critical_problem(
                threshold.when, {k: v.model_dump() for k, v in threshold.provenance.items()}
            )
            if why:
                where = doc.where([*loc, "then", "severity"])
                problems.append(Problem(where, f"then.severity: {why}", threshold.id))
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
        where = where_defined[t.id]
        problems.extend(Problem(where, w, t.id) for w in _condition_problems(t, registry))
    if problems:
        raise CatalogError(problems)
    return Catalog(tuple(thresholds), tuple(files), registry)


def _condition_problems(t: Threshold, registry: Registry) -> list[str]:
    """Each condition must name a benchmark of the registry by its canonical id, and a metric it
    declares; since_assessment's compute ratio needs the registry's training compute."""
    out = []
    if any(registry.benchmark_id(b) == CANDIDATE for b, _ in t.pairs):
        out.append(f"when: reads {CANDIDATE!r}: candidate declarations count only once "
                   "confirmed: warden declarations confirm")  # fmt: skip
    needs_compute = isinstance(t.when, Reassessment) and t.when.since == "compute_ratio"
    if needs_compute and registry.metric(*COMPUTE)[1] is None:
        out.append(
            "when.since_assessment.compute_ratio: the registry has no benchmark "
            f"{COMPUTE[0]!r} with metric {COMPUTE[1]!r} to read training compute from"
        )
    checked: list[tuple[str, Condition]] = [
        (f"when.of[{i}]" if isinstance(t.when, Combination) else "when", c)
        for i, c in enumerate(t.conditions)
    ]
    if isinstance(t.when, Conflict):  # a benchmark metric to check like a condition's
        w = t.when
        checked.append(("when.conflict", Condition(benchmark=w.benchmark, metric=w.metric,
                                                   op=">=", value=0)))  # fmt: skip
    if isinstance(t.when, Divergence):
        checked = [("when.diverges", t.when.condition)]
    for where, c in checked:
        canonical = registry.benchmark_id(c.benchmark)
        if canonical is None:
            near = did_you_mean(c.benchmark, registry.benchmarks)
            out.append(
                f"{where}: unknown benchmark {c.benchmark!r}: in no registry file{near}; "
                "declare it under `benchmarks:`"
            )
        elif canonical != c.benchmark:
            out.append(
                f"{where}: benchmark {c.benchmark!r} is an alias: use the canonical id "
                f"{canonical!r}"
            )
        else:
            warn_at = c.warn_at if isinstance(c, Part) else t.warn_at
            out.extend(_metric_problems(c, where, warn_at, registry))
    return out


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

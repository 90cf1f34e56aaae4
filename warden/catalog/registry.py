"""The registry: one name per benchmark and per model.

Canonical benchmark ids with the aliases each source spells them with, per metric its direction,
scale and human baselines; canonical model ids with aliases, organisation, open-weights flag and
release date. Read from YAML (`thresholds/registry/` and any registry files in the config) and
extended by catalog files (`benchmarks:` and `models:`). Observations are normalised through it at
ingest; ids it does not know are kept raw and counted, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

from pydantic import Field, HttpUrl, ValidationError

from warden.core.config import Strict
from warden.core.errors import CatalogError, ParseError, Problem
from warden.core.model import Observation
from warden.core.suggest import did_you_mean
from warden.core.yamlfile import LocatedYaml, YamlError, problems_from, yaml_files

Scale = Literal["fraction", "percent", "minutes", "hours", "seconds", "points", "flop", "elo"]


class Source(Strict):
    """A citation: where a threshold or a baseline comes from."""

    title: str = Field(min_length=1)
    url: HttpUrl


class Baseline(Strict):
    name: str = Field(min_length=1)
    value: float = Field(allow_inf_nan=False)
    source: Source


class MetricSpec(Strict):
    aliases: list[str] = Field(default_factory=list)
    direction: Literal["higher", "lower"] = "higher"
    scale: Scale = "fraction"
    baselines: list[Baseline] = Field(default_factory=list)


class BenchmarkSpec(Strict):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1)
    # Source spellings (Inspect task names, lm-eval tasks, Epoch/METR names); case-insensitive.
    aliases: list[str] = Field(default_factory=list)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)


class ModelSpec(Strict):
    id: str = Field(min_length=1, max_length=200)
    aliases: list[str] = Field(default_factory=list)
    organisation: str | None = None
    open_weights: bool | None = None
    release_date: date | None = None
    # The line of models it belongs to (`claude-opus`, `gpt-4o`, `o-series`): a model's
    # predecessor is the newest of its family released before it (the `predecessor_drop` sign,
    # warden/evaluation/signs.py). Only where the line is unambiguous; None: no predecessor.
    family: str | None = Field(None, min_length=1, max_length=100)


class RegistryFile(Strict):
    benchmarks: list[BenchmarkSpec] = Field(default_factory=list)
    models: list[ModelSpec] = Field(default_factory=list)
    # More spellings for models defined before (the bundled registry, an earlier file or this
    # one's `models:`): canonical id -> aliases. What `warden registry suggest` writes.
    model_aliases: dict[str, list[str]] = Field(default_factory=dict)


@dataclass
class Registry:
    benchmarks: dict[str, BenchmarkSpec] = field(default_factory=dict)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    _benchmark_alias: dict[str, str] = field(default_factory=dict)
    _model_alias: dict[str, str] = field(default_factory=dict)
    _where: dict[str, str] = field(default_factory=dict)

    def add_benchmark(self, spec: BenchmarkSpec, where: str, problems: list[Problem]) -> None:
        known = self.benchmarks.get(spec.id)
        if known is not None:
            # A catalog may declare a benchmark the registry already knows: the richer one wins.
            if spec.metrics or spec.aliases:
                if known.metrics or known.aliases:
                    problems.append(
                        Problem(
                            where,
                            f"benchmark {spec.id!r} is already defined at {self._where[spec.id]}",
                        )
                    )
                    return
            else:
                return
        self.benchmarks[spec.id] = spec
        self._where[spec.id] = where
        _claim(self._benchmark_alias, "benchmark", spec.id, spec.aliases, where, problems)

    def add_model(self, spec: ModelSpec, where: str, problems: list[Problem]) -> None:
        first = self._where.get(f"model {spec.id}")
        if first is not None:
            problems.append(Problem(where, f"model {spec.id!r} is already defined at {first}"))
            return
        self.models[spec.id] = spec
        self._where[f"model {spec.id}"] = where
        _claim(self._model_alias, "model", spec.id, spec.aliases, where, problems)

    def add_model_aliases(
        self, model: str, aliases: list[str], where: str, problems: list[Problem]
    ) -> None:
        """More spellings for a model already defined (by its canonical id)."""
        spec = self.models.get(model)
        if spec is None:
            hint = did_you_mean(model, self.models)
            problems.append(Problem(where, f"model_aliases: unknown model {model!r}{hint}"))
            return
        new = [a for a in aliases if self._model_alias.get(_fold(a)) != model]
        self.models[model] = spec.model_copy(update={"aliases": [*spec.aliases, *new]})
        _claim(self._model_alias, "model", model, new, where, problems)

    def benchmark_id(self, raw: str) -> str | None:
        return self._benchmark_alias.get(_fold(raw))

    def model(self, raw: str) -> ModelSpec | None:
        canonical = self._model_alias.get(_fold(raw))
        return None if canonical is None else self.models[canonical]

    def metric(self, benchmark: str, raw: str) -> tuple[str, MetricSpec | None]:
        """The canonical metric name for `raw` on a canonical `benchmark`, and its spec."""
        spec = self.benchmarks.get(benchmark)
        if spec is None:
            return raw, None
        for name, metric in spec.metrics.items():
            if _fold(raw) in {_fold(a) for a in (name, *metric.aliases)}:
                return name, metric
        return raw, None

    def normalise(self, o: Observation) -> Observation:
        """`o` with canonical ids where the registry knows them (the raw ids move to its
        attributes), the model's organisation, open-weights status and release date added, and
        `benchmark_known` / `model_known` saying what was not found. The value (and stderr) is
        converted from the source's `scale` attribute to the metric's canonical scale; a value
        its scale cannot take raises ParseError."""
        benchmark = self.benchmark_id(o.benchmark)
        metric = self.metric(benchmark, o.metric)[0] if benchmark else o.metric
        model = self.model(o.subject)
        attributes = dict(o.attributes)
        for key, raw, new in (
            ("raw_benchmark", o.benchmark, benchmark),
            ("raw_metric", o.metric, metric),
            ("raw_model", o.subject, model.id if model else None),
        ):
            if new is not None and new != raw:
                attributes[key] = raw
        spec = self.metric(benchmark, metric)[1] if benchmark else None
        value, stderr = o.value, o.stderr
        if stderr is None and spec is not None:
            stderr = _stderr_from_interval(o.value, attributes, spec.direction)
        if spec is not None:
            value, stderr = convert(o.value, stderr, attributes.get("scale"), spec.scale)
            if attributes.get("scale", spec.scale) != spec.scale:
                attributes["raw_value"], attributes["raw_scale"] = o.value, attributes["scale"]
            attributes["scale"] = spec.scale
        if model is not None:
            # The registry's facts win; what it leaves unset, the source may still say.
            known = {
                "organisation": model.organisation,
                "open_weights": model.open_weights,
                "release_date": model.release_date and model.release_date.isoformat(),
            }
            attributes.update({k: v for k, v in known.items() if v is not None})
        return replace(
            o,
            benchmark=benchmark or o.benchmark,
            metric=metric,
            subject=model.id if model else o.subject,
            value=value,
            stderr=stderr,
            attributes=attributes,
            benchmark_known=benchmark is not None,
            model_known=model is not None,
        )


# Scales that convert into one another: the factor to the family's first scale.
_FACTORS: dict[str, tuple[str, float]] = {
    "fraction": ("fraction", 1.0),
    "percent": ("fraction", 0.01),
    "minutes": ("minutes", 1.0),
    "hours": ("minutes", 60.0),
    "seconds": ("minutes", 1 / 60),
}
# The values a scale can take; a value outside is a mistake (a percentage read as a fraction).
BOUNDS: dict[str, tuple[float, float]] = {"fraction": (0.0, 1.0), "percent": (0.0, 100.0)}
_NON_NEGATIVE = {"minutes", "hours", "seconds", "flop"}


def convert(
    value: float, stderr: float | None, scale: object, canonical: str
) -> tuple[float, float | None]:
    """`value` (and `stderr`) from the source's `scale` (None: canonical already) into the
    metric's `canonical` scale. Raises ParseError (invalid_value, field value) for scales that do
    not convert into each other and for values the scale cannot take."""
    source = canonical if scale is None else str(scale)
    if source != canonical:
        have, want = _FACTORS.get(source), _FACTORS.get(canonical)
        if have is None or want is None or have[0] != want[0]:
            raise ParseError(
                "invalid_value",
                f"a value in {source} cannot be converted to this metric's {canonical} scale",
                field="scale",
            )
        factor = have[1] / want[1]
        _in_range(value, source)
        value, stderr = value * factor, None if stderr is None else stderr * factor
    _in_range(value, canonical, declared=scale is not None)
    return value, stderr


def _in_range(value: float, scale: str, declared: bool = True) -> None:
    low, high = BOUNDS.get(scale, (0.0 if scale in _NON_NEGATIVE else -math.inf, math.inf))
    if low <= value <= high:
        return
    hint = ""
    if scale == "fraction" and 1 < value <= 100 and not declared:
        hint = " (a percentage? the source must declare scale: percent)"
    raise ParseError(
        "invalid_value",
        f"{value:g} is impossible on a {scale} scale (must be in [{low:g}, {high:g}]){hint}",
        field="value",
    )


def _stderr_from_interval(value: float, attributes: dict[str, Any], direction: str) -> float | None:
    """A stderr for an observation that gives a confidence interval instead (METR's time
    horizons): the distance to the bound on the less capable side over the interval's z, so
    that a `confidence:` at the interval's own level compares exactly that bound (and other
    levels a normal approximation of it). Noted in the attribute `stderr_from`."""
    given = [attributes.get(k) for k in ("ci_low", "ci_high", "ci_level")]
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in given):
        return None
    low, high, level = (float(x) for x in given)  # type: ignore[arg-type]
    if not (math.isfinite(low) and math.isfinite(high) and 0 < level < 1):
        return None
    side = value - low if direction == "higher" else high - value
    if side < 0:
        return None
    attributes["stderr_from"] = "ci_low" if direction == "higher" else "ci_high"
    return side / NormalDist().inv_cdf((1 + level) / 2)


def _claim(
    names: dict[str, str],
    kind: str,
    canonical: str,
    aliases: list[str],
    where: str,
    problems: list[Problem],
) -> None:
    """Point `canonical` and its aliases at it; a name another entry owns stays with it."""
    for name in (canonical, *aliases):
        owner = names.setdefault(_fold(name), canonical)
        if owner != canonical:
            problems.append(
                Problem(where, f"alias {name!r} of {kind} {canonical!r} already names {owner!r}")
            )


def _fold(name: str) -> str:
    return name.strip().casefold()


def add_file(registry: Registry, file: Path, problems: list[Problem]) -> None:
    """Add the `benchmarks:`, `models:` and `model_aliases:` of one registry file."""
    try:
        doc = LocatedYaml.read(file)
    except YamlError as exc:
        problems.extend(exc.problems)
        return
    if doc.data is None:
        return
    try:
        parsed = RegistryFile.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(problems_from(exc, doc))
        return
    for i, b in enumerate(parsed.benchmarks):
        registry.add_benchmark(b, doc.where(["benchmarks", i]), problems)
    for i, m in enumerate(parsed.models):
        registry.add_model(m, doc.where(["models", i]), problems)
    for model, aliases in parsed.model_aliases.items():
        registry.add_model_aliases(model, aliases, doc.where(["model_aliases", model]), problems)


def load_registry(paths: Iterable[Path]) -> Registry:
    """The registry read from the registry files `paths` (files or folders) alone, without the
    catalog's `benchmarks:` and `models:`. Raises CatalogError with every problem."""
    problems: list[Problem] = []
    registry = Registry()
    for file in yaml_files(paths):
        add_file(registry, file, problems)
    if problems:
        raise CatalogError(problems)
    return registry

"""Signs of under-elicitation: `when: {sign: {rule, benchmark, metric, drop, z, tolerance,
direction, against}}`, a result that looks lower than the model's capability, for a person to
check before it is read as that capability (sandbagging, a broken harness, a weaker run).

Rules (evaluated in warden/evaluation/signs.py):

- `predecessor_drop`: the model's best result (its most capable variant, as the threshold's
  `evidence:` reads it) is below that of its predecessor: the newest model of the same registry
  `family` released before it with a result on the benchmark metric.
- `elicitation_drop`: the model's newest result (one variant, one measurer) is below the one
  before it, and the newest ran with fewer samples (`n`: a sample limit, a partial run).
- `below_vendor`: an independent (or own) result below the vendor's, one-directional: the
  evidence conflict (warden/catalog/conditions.py, `Conflict`) where the vendor is higher.

A drop is a sign when it exceeds `drop` (the metric's canonical unit; 0: any) and, where both
sides have a stderr, is `z` combined standard errors or more; where a side has none it must
exceed `tolerance` (default: `drop`; with neither such a pair cannot be judged).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from warden.catalog.registry import Registry
from warden.core.config import Strict

RULES = ("predecessor_drop", "elicitation_drop", "below_vendor")


class Sign(Strict):
    """A sign of under-elicitation (see the module's docstring)."""

    # Required, not defaulted: a stored definition (warden/catalog/definitions.py) leaves
    # defaults out, and replay tells the kinds apart by it.
    kind: Literal["sign"]
    rule: Literal["predecessor_drop", "elicitation_drop", "below_vendor"]
    benchmark: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    drop: float = Field(0.0, ge=0, allow_inf_nan=False)
    z: float = Field(2.0, gt=0, allow_inf_nan=False)
    tolerance: float | None = Field(None, gt=0, allow_inf_nan=False)
    # Which way is more capable (a drop is a move the other way).
    direction: Literal["higher", "lower"] = "higher"
    # below_vendor: whose results are held against the vendor's.
    against: tuple[Literal["independent", "own"], ...] = Field(("independent", "own"), min_length=1)

    @model_validator(mode="after")
    def _against_for_below_vendor(self) -> Sign:
        if self.rule != "below_vendor" and "against" in self.model_fields_set:
            raise ValueError(f"against: only below_vendor compares measurers (rule {self.rule})")
        return self

    @property
    def without_stderr(self) -> float | None:
        """The least drop where a side has no stderr: `tolerance`, else `drop`, else none."""
        return self.tolerance if self.tolerance is not None else (self.drop or None)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return ((self.benchmark, self.metric),)

    @property
    def conditions(self) -> tuple[()]:
        return ()


# Threshold fields a sign has no use for: it compares two results, not one with a level.
_UNFIT = ("warn_at", "clear_at", "projected", "confidence")


def sign(when: dict[str, Any], registry: Registry | None, data: dict[str, Any]) -> dict[str, Any]:
    """`when: {sign: {...}}` as the `Sign` kind; with a registry, its benchmark must be one the
    registry knows by its canonical id (a misspelt one would never raise a sign). `data`, the
    threshold's other fields: those a sign cannot honour are refused rather than ignored."""
    if set(when) != {"sign"}:
        raise ValueError("when: sign stands alone")
    for key in _UNFIT:
        if data.get(key) is not None:
            raise ValueError(f"{key}: does not apply to sign")
    if data.get("scope", "per_model") != "per_model":
        raise ValueError("scope: a sign is judged per model")
    count = data.get("for")
    if isinstance(count, int) and not isinstance(count, bool) and count > 1:
        raise ValueError(
            "for: a sign is one comparison, not consecutive observations; give a duration "
            '(for: "1d") to wait before it fires'
        )
    spec = when["sign"]
    if not isinstance(spec, dict):
        raise ValueError(
            "when.sign: {rule, benchmark, metric, drop?, z?, tolerance?, direction?, against?}"
        )
    if spec.get("rule") not in RULES:
        raise ValueError(f"when.sign.rule: one of {', '.join(RULES)} (got {spec.get('rule')!r})")
    benchmark, metric = spec.get("benchmark"), spec.get("metric")
    if registry is not None and isinstance(benchmark, str) and isinstance(metric, str):
        canonical = registry.benchmark_id(benchmark)
        if canonical is None:
            raise ValueError(f"when.sign.benchmark: {benchmark!r} is in no registry file")
        if canonical != benchmark:
            raise ValueError(
                f"when.sign.benchmark: {benchmark!r} is an alias: use the canonical id "
                f"{canonical!r}"
            )
        known = registry.benchmarks[canonical].metrics
        if known and metric not in known:
            raise ValueError(f"when.sign.metric: {metric!r} is not one of {sorted(known)}")
    return {"kind": "sign", **spec}

"""A threshold's `when`: one comparison, a combination of comparisons, or a re-assessment rule.

- `Condition`: a benchmark metric compared with a value in the metric's canonical unit
  (`{benchmark, metric, op, value}`); shorthands: a grey zone `{rule_out, rule_in}` and a ratio
  to a human baseline `{ratio, baseline?}`.
- `Combination`: `{all: [...]}`, `{any: [...]}` or `{at_least: K, of: [...]}` over conditions,
  each on its own benchmark and each with an optional early warning `warn_at` of its own.
- `Reassessment`: `{since_assessment: {days: N}}` (the model's last recorded assessment is that
  old) or `{since_assessment: {compute_ratio: R}}` (its newest training compute is R times the
  compute at that assessment): the frameworks' re-assessment triggers.
- `Conflict`, `{conflict: {benchmark, metric, z, tolerance}}`, and `Divergence`,
  `{diverges: {declared: {...}, benchmark, metric, op, value}}`: evidence that disagrees
  (warden/catalog/disagreement.py); `{declared: {framework, level, domain, status}}` is a
  `Condition` on a lab's declarations (the `declaration` benchmark).
- `Sign`, `{sign: {rule, benchmark, metric, drop, z, tolerance}}`: a result that looks below the
  model's capability (a possible under-elicitation; warden/catalog/signs.py).

Shorthands are rewritten here to the one form evaluation reads.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import cached_property
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import Discriminator, Field, Tag, model_validator

from warden.catalog.disagreement import (
    DECLARATION,
    MEASURER_ORDER,
    conflict,
    declared,
    divergence,
)
from warden.catalog.registry import Registry
from warden.catalog.signs import Sign, sign
from warden.core.config import Strict
from warden.core.model import COMPUTE

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}

# Training compute, read by `since_assessment: {compute_ratio: R}`.


class Comparison(Strict):
    """What every kind of condition offers the rest of warden: an operator and a trigger value."""

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


class Condition(Comparison):
    benchmark: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    # Set when the condition was written as a ratio to a human baseline: `value` is then
    # ratio x the baseline's value from the registry.
    ratio: float | None = Field(None, gt=0, allow_inf_nan=False)
    baseline: str | None = None

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return ((self.benchmark, self.metric),)

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return (self,)


class Part(Condition):
    """One condition of a combination, with its own early warning."""

    warn_at: float | None = Field(None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _warn_on_safe_side(self) -> Part:
        if self.warn_at is not None and self.holds(self.warn_at):
            raise ValueError(
                f"warn_at {self.warn_at!r} must lie on the safe side of "
                f"{self.op} {self.value!r} (it is an early warning)"
            )
        return self


class Combination(Strict):
    """`all`, `any` or `at_least: k` of its parts."""

    mode: Literal["all", "any", "at_least"]
    k: int = Field(ge=1)
    of: tuple[Part, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _k_fits(self) -> Combination:
        if self.k > len(self.of):
            raise ValueError(f"at_least: {self.k} of only {len(self.of)} conditions can never hold")
        return self

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict.fromkeys(p for c in self.of for p in c.pairs))

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.of

    @property
    def needed(self) -> int:
        """How many parts must hold."""
        return len(self.of) if self.mode == "all" else self.k


class Reassessment(Comparison):
    """Due for a new assessment: `days` since the last one, or training compute grown by a
    `compute_ratio` since. `op` is `>=` and `value` the days or the ratio."""

    since: Literal["days", "compute_ratio"]

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return (COMPUTE,) if self.since == "compute_ratio" else ()

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return ()


class SilentFeed(Comparison):
    """A feed silent too long: `value` seconds or more since its last successful run (or, if it
    never succeeded, since its first attempt). Warden makes one for each feed with a
    `stale_after` (`warden.catalog.feedhealth`); its subject is the feed."""

    feed: str = Field(min_length=1)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return ()

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return ()


class Conflict(Strict):
    """Evidence that disagrees: for one model, the newest results of two measurers (vendor,
    independent, own; each its most capable variant) on one benchmark metric differ by `z`
    combined standard errors or more (|a - b| / sqrt(se_a^2 + se_b^2) >= z), or, where either
    side has no stderr, by more than `tolerance` (in the metric's canonical unit; without one
    such a pair cannot be judged). `between` limits the measurers compared."""

    # Required, not defaulted (as `Sign`'s): a stored definition leaves defaults out, and
    # replay tells the kinds apart by it.
    kind: Literal["conflict"]
    benchmark: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    z: float = Field(3.0, gt=0, allow_inf_nan=False)
    tolerance: float | None = Field(None, gt=0, allow_inf_nan=False)
    between: tuple[Literal["vendor", "independent", "own"], ...] = Field(
        MEASURER_ORDER, min_length=2
    )
    # Which way is more capable: each measurer's most capable variant is compared.
    direction: Literal["higher", "lower"] = "higher"

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return ((self.benchmark, self.metric),)

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return ()


class Divergence(Strict):
    """A lab's declaration against the evidence, both ways: `condition` (the benchmark
    comparison that operationalises the declared level) met by the evidence the threshold
    reads while the lab's newest declaration for `declaration` (a `declaration` benchmark
    metric, `<framework>.<level>.<domain>`) is `below` or `early_warning_reached`; or the lab
    declaring `could_not_rule_out` or `crossed` while that evidence does not meet it (or there
    is none). `direction` keeps one of the two."""

    kind: Literal["divergence"]  # required: see `Conflict`
    declaration: str = Field(min_length=1)
    condition: Condition
    direction: Literal["both", "evidence_above", "declaration_above"] = "both"

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return (*self.condition.pairs, (DECLARATION, self.declaration))

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return (self.condition,)


def _kind(data: Any) -> str:
    if isinstance(data, dict):
        if "mode" in data:
            return "<combination>"
        if "since" in data:
            return "<reassessment>"
        if "feed" in data:
            return "<silence>"
        if data.get("kind") in ("conflict", "divergence", "sign"):
            return f"<{data['kind']}>"
    for kind, name in (
        (Combination, "<combination>"),
        (Reassessment, "<reassessment>"),
        (SilentFeed, "<silence>"),
        (Conflict, "<conflict>"),
        (Divergence, "<divergence>"),
        (Sign, "<sign>"),
    ):
        if isinstance(data, kind):
            return name
    return "<condition>"


# Tags in angle brackets: error locations leave them out (warden/core/yamlfile.py).
When = Annotated[
    Annotated[Condition, Tag("<condition>")]
    | Annotated[Combination, Tag("<combination>")]
    | Annotated[Reassessment, Tag("<reassessment>")]
    | Annotated[SilentFeed, Tag("<silence>")]
    | Annotated[Conflict, Tag("<conflict>")]
    | Annotated[Divergence, Tag("<divergence>")]
    | Annotated[Sign, Tag("<sign>")],
    Discriminator(_kind),
]


def number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


_MODES = ("all", "any", "at_least")


def rewrite(data: dict[str, Any], registry: Registry | None) -> dict[str, Any]:
    """A threshold's raw mapping with its `when` (and `warn_at`) shorthands rewritten."""
    when = data.get("when")
    if not isinstance(when, dict):
        return data
    if set(_MODES) & set(when):
        for key in ("warn_at", "clear_at"):
            if data.get(key) is not None:
                raise ValueError(f"{key}: a combination's early warnings are per condition")
        return {**data, "when": _combination(when, registry)}
    if "since_assessment" in when:
        return {**data, "when": _reassessment(when)}
    if "conflict" in when:
        return {**data, "when": conflict(when)}
    if "diverges" in when:
        return {**data, "when": divergence(when)}
    if "sign" in when:
        return {**data, "when": sign(when, registry, data)}
    if "declared" in when:
        when = declared(when)
    return {**data, **_single(when, data.get("warn_at"), "warn_at" in data, registry)}


def _single(
    when: dict[str, Any], warn_at: Any, has_warn_at: bool, registry: Registry | None
) -> dict[str, Any]:
    """`when` (and `warn_at`) of one condition, shorthands rewritten."""
    out: dict[str, Any] = {"when": when}
    if has_warn_at:
        out["warn_at"] = warn_at
    if "ratio" in when:
        out.update(_baseline_ratio(out["when"], out.get("warn_at"), registry))
    if {"rule_in", "rule_out"} & set(out["when"]):
        out.update(_grey_zone(out["when"], has_warn_at))
    if isinstance(out.get("warn_at"), dict):
        out["warn_at"] = _margin(out["warn_at"], out["when"])
    return out


def _combination(when: dict[str, Any], registry: Registry | None) -> dict[str, Any]:
    modes = [m for m in _MODES if m in when]
    if len(modes) > 1:
        raise ValueError(f"when: one of all, any, at_least (got {', '.join(modes)})")
    mode = modes[0]
    allowed = {"at_least", "of"} if mode == "at_least" else {mode}
    if set(when) - allowed:
        extra = ", ".join(sorted(set(when) - allowed))
        raise ValueError(f"when: {extra} not allowed with {mode}")
    parts = when.get("of") if mode == "at_least" else when[mode]
    k = when["at_least"] if mode == "at_least" else 1
    if mode == "at_least" and not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
        raise ValueError("when.at_least: a count of conditions, 1 or more")
    if not isinstance(parts, list) or not parts:
        where = "when.of" if mode == "at_least" else f"when.{mode}"
        raise ValueError(f"{where}: a non-empty list of conditions")
    rewritten = []
    for part in parts:
        if isinstance(part, dict) and set(_MODES) & set(part):
            raise ValueError("when: combinations do not nest; list the conditions in one")
        if isinstance(part, dict) and "declared" in part:
            part = declared(part)
        if isinstance(part, dict):
            single = _single(
                {k2: v for k2, v in part.items() if k2 != "warn_at"},
                part.get("warn_at"),
                "warn_at" in part,
                registry,
            )
            part = dict(single["when"])
            if "warn_at" in single:
                part["warn_at"] = single["warn_at"]
        rewritten.append(part)
    return {"mode": mode, "k": k, "of": rewritten}


def _reassessment(when: dict[str, Any]) -> dict[str, Any]:
    rule = when["since_assessment"]
    if set(when) != {"since_assessment"}:
        raise ValueError("when: since_assessment stands alone")
    if not isinstance(rule, dict) or len(rule) != 1 or set(rule) - {"days", "compute_ratio"}:
        raise ValueError("when.since_assessment: {days: N} or {compute_ratio: R}")
    ((since, value),) = rule.items()
    if not number(value) or value <= 0 or (since == "compute_ratio" and value <= 1):
        least = "above 1" if since == "compute_ratio" else "positive"
        raise ValueError(f"when.since_assessment.{since}: a number {least} (got {value!r})")
    return {"since": since, "op": ">=", "value": value}


def _grey_zone(when: dict[str, Any], has_warn_at: bool) -> dict[str, Any]:
    """`when: {rule_out: a, rule_in: b}` is `op: ">="` (`"<="` when b < a), `value: b`,
    `warn_at: a`."""
    if "op" in when or "value" in when:
        raise ValueError("when: give either op and value, or rule_out and rule_in")
    if has_warn_at:
        raise ValueError("warn_at: a grey zone's rule_out is its early warning already")
    rest = {k: v for k, v in when.items() if k not in ("rule_in", "rule_out")}
    rule_in, rule_out = when.get("rule_in"), when.get("rule_out")
    if not (number(rule_in) and number(rule_out)):
        raise ValueError("when: rule_out and rule_in must both be numbers")
    if rule_in == rule_out:
        raise ValueError(f"when: rule_out and rule_in are both {rule_in!r}: no grey zone")
    op = ">=" if rule_in > rule_out else "<="
    return {"when": {**rest, "op": op, "value": rule_in}, "warn_at": rule_out}


def _margin(warn_at: dict[str, Any], when: dict[str, Any]) -> Any:
    """`warn_at: {margin: m}` is the trigger value less m (plus m for `<=`/`<`)."""
    margin, value, op = warn_at.get("margin"), when.get("value"), when.get("op")
    if set(warn_at) != {"margin"} or not number(margin) or margin <= 0:
        raise ValueError("warn_at: a number, or {margin: a positive number}")
    if not (number(value) and op in OPS):
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
    if not number(ratio) or ratio <= 0:
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
    if number(warn_at):
        out["warn_at"] = warn_at * base
    return out

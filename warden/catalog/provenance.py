"""Where a threshold's numbers come from (`provenance`), and what that earns it.

Each number of a threshold (`when.value`, `warn_at`, `when.of[0].value`, ...) may be tagged
`{kind: source|proxy, note}`: taken from the cited source, or a proxy chosen by the catalog.
`numbers` lists the paths a threshold's raw mapping sets; `check_provenance` refuses a tag for a
number the threshold does not have.

What earns a threshold `then.severity: critical`:

A proxy (a level a framework states in words, turned into a benchmark number by the catalog) on
a single benchmark does not page as critical on its own. Critical needs one of:

- a trigger level that is the framework's own number (`provenance: {kind: source}`), or one the
  catalog does not tag (it makes no claim either way);
- corroboration: `all` of, or `at_least: K` (K of 2 or more) of, conditions on independent
  benchmarks (each on its own benchmark), so that no single benchmark fires it;
- a human assessment: `since_assessment` rules read the assessments people record
  (`warden assess record`), not a benchmark;
- a feed's silence (warden's own operational rule).

`critical_problem` says why a threshold does not earn it, or None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from warden.catalog.conditions import Combination, Condition, When, number
from warden.core.basis import basis
from warden.core.config import Strict


class Provenance(Strict):
    """Where one number of a threshold comes from: the source itself, or a proxy value chosen by
    us (and why)."""

    kind: Literal["source", "proxy"]
    note: str = Field(min_length=1)


def numbers(raw: dict[str, Any]) -> list[str]:
    """The paths of the numbers a threshold's raw mapping sets in `when`, `warn_at` and
    `clear_at`: what `provenance` accounts for."""
    out = [k for k in ("warn_at", "clear_at") if number(raw.get(k))]
    if isinstance(raw.get("projected"), dict):
        out += [f"projected.{k}" for k, v in raw["projected"].items() if number(v)]
    if isinstance(raw.get("warn_at"), dict) and number(raw["warn_at"].get("margin")):
        out.append("warn_at.margin")

    def walk(node: Any, path: str) -> None:
        if number(node):
            out.append(path)
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(raw.get("when"), "when")
    when = raw.get("when")
    declared = when.get("declared") if isinstance(when, dict) else None
    if isinstance(declared, dict) and isinstance(declared.get("status"), str):
        out.append("when.declared.status")  # a lab's status is the level such a condition sets
    return out


def check_provenance(raw: dict[str, Any]) -> None:
    given = raw.get("provenance")
    if not isinstance(given, dict):
        return
    known = numbers(raw)
    unknown = sorted(str(k) for k in given if k not in known)
    if unknown:
        raise ValueError(
            f"provenance: {', '.join(unknown)} is not a number of this threshold "
            f"(its numbers: {', '.join(known) or 'none'})"
        )


def critical_problem(when: When, provenance: Mapping[str, Any]) -> str | None:
    """Why a threshold with this `when` and these `provenance` tags (path -> {kind, note})
    may not be `then.severity: critical`, or None when it may."""
    if not isinstance(when, Condition | Combination):
        return None  # a human assessment rule, or a feed's silence
    b = basis(provenance, when.model_dump(mode="json"))
    if isinstance(when, Condition):
        parts: tuple[Condition, ...] = (when,)
        needed = 1
    else:
        parts, needed = when.of, when.needed
        if needed >= 2 and len({c.benchmark for c in parts}) == len(parts):
            return None  # corroborated: at least two independent benchmarks must agree
    single = isinstance(when, Condition)
    proxies = [(i, c) for i, c in enumerate(parts) if b.of(None if single else i) == "proxy"]
    if not proxies or (needed >= 2 and len(proxies) < needed):
        return None
    i, c = proxies[0]
    tag = next(n for n in b.numbers if not n.warning and (n.part is None or n.part == i))
    alone = "on its own" if needed == 1 else "without another benchmark agreeing"
    return (
        f"critical rests on a proxy over one benchmark ({c.benchmark}/{c.metric}: {tag.path} is "
        f"tagged proxy), which would page {alone}; a proxy alone does not page as critical: "
        "lower it to `warning`, or corroborate it with `all` or `at_least: 2` of conditions on "
        "independent benchmarks"
    )

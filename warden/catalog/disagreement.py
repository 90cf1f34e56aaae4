"""The catalog's words for evidence that disagrees, and for what the labs declare.

- Who measured an observation (`measured_by`: vendor, independent, own) and which of it a
  threshold reads (`evidence:`): `any` (every measurer, the newest result deciding: the
  default), one measurer (`independent`, `vendor`, `own`), `max` (each measurer judged on its
  own, the most capable deciding) or `min` (the least capable deciding: every measurer must
  agree). `exclude_vendor_reported: true` is `any` without the vendor's numbers.
- Lab declarations are observations of the `declaration` benchmark: metric
  `<framework>.<level>.<domain>` (e.g. `anthropic-rsp.asl-3.cbrn`), value the ordinal of the
  status (`below` 0, `early_warning_reached` 1, `could_not_rule_out` 2, `crossed` 3).
- `{declared: {framework, level, domain, status}}` is a condition on them: the newest
  declaration is at least `status` (at most, for `below`).
- `{conflict: {benchmark, metric, z, tolerance, between, direction}}` and
  `{diverges: {declared: {framework, level, domain}, benchmark, metric, op, value,
  direction}}` are rewritten here to the kinds warden/catalog/conditions.py validates.

Not the catalog's `provenance` (warden/catalog/provenance.py), which says where a threshold's
own numbers come from.
"""

from __future__ import annotations

from typing import Any, Literal

from warden.core.declarations import (
    DECLARATION,
    STATUSES,
    declaration_metric,
    status_name,
    status_value,
)
from warden.core.model import MEASURERS

MEASURER_ORDER: tuple[Literal["vendor", "independent", "own"], ...] = (
    "vendor",
    "independent",
    "own",
)
assert MEASURER_ORDER == MEASURERS
EVIDENCE = ("any", "independent", "vendor", "own", "max", "min")
Evidence = Literal["any", "independent", "vendor", "own", "max", "min"]
__all__ = ["DECLARATION", "STATUSES", "declaration_metric", "status_name", "status_value"]


def _target(spec: Any, where: str, *, status: bool) -> tuple[str, int | None]:
    """(metric, status value) of a `declared:` mapping."""
    allowed = {"framework", "level", "domain", *({"status"} if status else set())}
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: a mapping of {', '.join(sorted(allowed))}")
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ValueError(f"{where}: {', '.join(extra)} not allowed (only {sorted(allowed)})")
    missing = [k for k in ("framework", "level", "domain") if not isinstance(spec.get(k), str)]
    if missing:
        raise ValueError(f"{where}: {', '.join(missing)} missing (a text each)")
    metric = declaration_metric(spec["framework"], spec["level"], spec["domain"])
    if not status:
        return metric, None
    if not isinstance(spec.get("status"), str):
        raise ValueError(f"{where}.status: one of {', '.join(STATUSES)}")
    return metric, status_value(spec["status"])


def declared(when: dict[str, Any]) -> dict[str, Any]:
    """`{declared: {framework, level, domain, status}}` as a condition on the `declaration`
    benchmark (other keys, such as a combination part's `warn_at`, are kept)."""
    metric, value = _target(when["declared"], "when.declared", status=True)
    assert value is not None
    rest = {k: v for k, v in when.items() if k != "declared"}
    clash = sorted({"benchmark", "metric", "op", "value"} & set(rest))
    if clash:
        raise ValueError(f"when: declared sets {', '.join(clash)} itself")
    op = "<=" if value == 0 else ">="  # `below`: at most below; the others: at least
    return {**rest, "benchmark": DECLARATION, "metric": metric, "op": op, "value": value}


def conflict(when: dict[str, Any]) -> dict[str, Any]:
    if set(when) != {"conflict"}:
        raise ValueError("when: conflict stands alone")
    spec = when["conflict"]
    if not isinstance(spec, dict):
        raise ValueError("when.conflict: {benchmark, metric, z?, tolerance?, between?}")
    return {"kind": "conflict", **spec}


def divergence(when: dict[str, Any]) -> dict[str, Any]:
    if set(when) != {"diverges"}:
        raise ValueError("when: diverges stands alone")
    spec = when["diverges"]
    if not isinstance(spec, dict) or "declared" not in spec:
        raise ValueError(
            "when.diverges: {declared: {framework, level, domain}, benchmark, metric, op, "
            "value, direction?}"
        )
    metric, _ = _target(spec["declared"], "when.diverges.declared", status=False)
    condition = {k: v for k, v in spec.items() if k not in ("declared", "direction")}
    out: dict[str, Any] = {"kind": "divergence", "declaration": metric, "condition": condition}
    if "direction" in spec:
        out["direction"] = spec["direction"]
    return out

"""Judging one model's evidence on one condition: per variant (and, when the threshold's
`evidence` is `max` or `min`, per measurer), newest first; the most capable group decides (the
frameworks assess capability at maximum elicitation), or under `evidence: min` the least
capable measurer. Pure."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from warden.catalog.conditions import Condition
from warden.catalog.disagreement import DECLARATION
from warden.catalog.thresholds import Threshold
from warden.core.model import Evaluation, Point, Verdict

RANK = {Verdict.OK: 0, Verdict.WARNING: 1, Verdict.BREACHED: 2}
BY_RANK = {rank: verdict for verdict, rank in RANK.items()}


def measurer(p: Point) -> str:
    """Who measured `p` ("" reads as this deployment's own)."""
    return p.measured_by or "own"


def by_variant(obs: Sequence[Point]) -> dict[str, list[Point]]:
    """A model's points by variant, each newest first (in the order given)."""
    out: dict[str, list[Point]] = {}
    for o in obs:
        out.setdefault(o.variant, []).append(o)
    return out


def _groups(obs: Sequence[Point], key: Callable[[Point], str]) -> dict[str, list[Point]]:
    out: dict[str, list[Point]] = {}
    for o in obs:
        out.setdefault(key(o), []).append(o)
    return out


def most_capable(
    threshold: Threshold,
    subject: str,
    obs: Sequence[Point],
    when: Condition,
    warn_at: float | None,
) -> Evaluation:
    """The verdict that decides for one model: that of its most capable variant; under
    `evidence: max` the most capable of every measurer's, under `evidence: min` the least
    capable measurer's (each at its most capable variant). Lab declarations are one series."""
    choice = "any" if when.benchmark == DECLARATION else threshold.evidence
    if choice not in ("max", "min"):
        return _best_variant(threshold, subject, obs, when, warn_at)
    measurers = _groups(obs, measurer)
    judged = [
        _best_variant(threshold, subject, measurers[m], when, warn_at) for m in sorted(measurers)
    ]
    if choice == "max":
        return max(judged, key=lambda e: capability(threshold, when, e))
    return min(judged, key=lambda e: capability(threshold, when, e))


def _best_variant(
    threshold: Threshold,
    subject: str,
    obs: Sequence[Point],
    when: Condition,
    warn_at: float | None,
) -> Evaluation:
    if len(obs) == 1:  # the common case (one variant, one result): no grouping
        return judge(threshold, subject, obs, when, warn_at)
    groups = by_variant(obs)
    if len(groups) == 1:
        return judge(threshold, subject, obs, when, warn_at)
    judged = [judge(threshold, subject, groups[v], when, warn_at) for v in sorted(groups)]
    return max(judged, key=lambda e: capability(threshold, when, e))  # the first of equals


def capability(threshold: Threshold, when: Condition, e: Evaluation) -> tuple[int, int, float]:
    """How strongly `e` shows the capability: verdict, confirmations, then the value compared
    (its bound under a confidence level), signed so that higher is more capable."""
    newest = e.evidence[0]
    higher = when.higher_is_more
    compared = threshold.compared(newest.value, newest.stderr, higher)
    return RANK[e.verdict], e.confirmations, compared if higher else -compared


def judge(
    threshold: Threshold,
    subject: str,
    obs: Sequence[Point],
    when: Condition,
    warn_at: float | None,
) -> Evaluation:
    meets, limit, higher = when.compare, when.value, when.higher_is_more
    confirmations = 0
    if threshold.z is None:
        for o in obs:
            if not meets(o.value, limit):
                break
            confirmations += 1
    else:
        for o in obs:
            if not meets(threshold.compared(o.value, o.stderr, higher), limit):
                break
            confirmations += 1
    value = obs[0].value
    if confirmations:
        verdict = Verdict.BREACHED
    elif warn_at is not None and meets(value, warn_at):
        verdict = Verdict.WARNING
    else:
        verdict = Verdict.OK
    evidence = tuple(obs[: max(confirmations, 1)])
    return Evaluation(threshold.id, subject, verdict, value, confirmations, evidence)

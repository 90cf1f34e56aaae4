"""Which evidence a threshold reads, and evidence that disagrees. Pure.

- `chosen`: a series as the threshold's `evidence:` reads it. The store gives each variant's
  newest observations per measurer (vendor, independent, own), newest first whoever measured
  them; `any` (the default) keeps the newest of them all, as if there were one measurer;
  `independent`, `vendor`, `own` keep that measurer's; `exclude_vendor_reported` drops the
  vendor's; `max` and `min` keep all, and judging (warden.evaluation.judge) lets the most, or
  least, capable measurer decide. A lab's declarations are read whatever `evidence:` says.
- `conflicts` (`when: {conflict: ...}`): per model, each measurer's newest result at its most
  capable variant; two measurers conflict when |a - b| / sqrt(se_a^2 + se_b^2) >= z, or, when
  either has no stderr, when |a - b| > tolerance. The verdict is `breached` with the widest
  conflicting pair as evidence (both sides, each with its source and date in the trigger log),
  `ok` when every pair that can be judged agrees, `unknown` when none can be judged. A model
  measured by one measurer only has nothing to disagree with: no verdict (`unknown` once it
  has an alert state).
- `divergences` (`when: {diverges: ...}`): a lab's newest declaration against the evidence,
  both ways (see warden/catalog/conditions.py, `Divergence`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

from warden.catalog.conditions import Condition, Conflict, Divergence
from warden.catalog.disagreement import DECLARATION, status_name
from warden.catalog.thresholds import Threshold
from warden.core.model import Evaluation, Point, Verdict
from warden.evaluation.judge import by_variant, measurer, most_capable

SubjectSeries = Mapping[str, Sequence[Point]]


def chosen(threshold: Threshold, benchmark: str, series: SubjectSeries) -> SubjectSeries:
    """`series` (one benchmark metric) as the threshold's `evidence:` reads it."""
    if benchmark == DECLARATION:
        return series
    choice = threshold.evidence
    keep: set[str] | None = None
    if choice in ("independent", "vendor", "own"):
        keep = {choice}
    elif threshold.exclude_vendor_reported:
        keep = {"independent", "own"}
    out: dict[str, Sequence[Point]] = {}
    for subject, obs in series.items():
        if keep is None and len(obs) == 1:
            out[subject] = obs  # one result, whoever measured it: nothing to choose
            continue
        points = [p for p in obs if keep is None or measurer(p) in keep]
        if choice not in ("max", "min"):
            points = _newest(points, threshold.for_)
        if points:
            out[subject] = points
    return out


def measured_text(threshold: Threshold, newest: Point | None) -> str:
    """ "; measured by independent (evidence: max)": which evidence decided, when the threshold
    chooses its evidence or the vendor's number decided; else nothing."""
    if newest is None or (
        isinstance(threshold.when, Condition) and threshold.when.benchmark == DECLARATION
    ):
        return ""
    who = measurer(newest)
    if threshold.evidence != "any":
        return f"; measured by {who} (evidence: {threshold.evidence})"
    if threshold.exclude_vendor_reported:
        return f"; measured by {who} (vendor's numbers excluded)"
    return "; measured by vendor" if who == "vendor" else ""


def _newest(obs: Sequence[Point], least: int) -> list[Point]:
    """Per variant, the newest observations whoever measured them: as many as the fullest
    measurer's (the store's read depth), at least `least`; one measurement counted once."""
    if len(obs) <= 1 or len({measurer(p) for p in obs}) == 1:
        return list(obs)
    out: list[Point] = []
    for points in by_variant(obs).values():
        counts: dict[str, int] = {}
        for p in points:
            counts[measurer(p)] = counts.get(measurer(p), 0) + 1
        depth, keys = max(least, *counts.values()), set[str]()
        for p in points:
            if p.key not in keys and len(keys) < depth:
                keys.add(p.key)
                out.append(p)
    return out


def side(direction: str, obs: Sequence[Point]) -> Point:
    """A measurer's newest result at its most capable variant (`direction`: which way is more
    capable, "higher" or "lower")."""
    newest = [points[0] for points in by_variant(obs).values()]
    sign = 1 if direction == "higher" else -1
    return max(newest, key=lambda p: sign * p.value)


def text(p: Point) -> str:
    """One result as an explanation shows it: who, value ± stderr, variant, feed and date."""
    value = f"{p.value:g}" + ("" if p.stderr is None else f" ± {p.stderr:g}")
    where = [f"feed {p.feed}"] if p.feed else []
    where += [p.observed_at.date().isoformat()] if p.observed_at is not None else []
    variant = f" (variant {p.variant})" if p.variant else ""
    return f"{measurer(p)} {value}{variant}" + (f" [{', '.join(where)}]" if where else "")


def pair(z: float, tolerance: float | None, a: Point, b: Point) -> tuple[bool | None, float, str]:
    """Whether `a` and `b` are apart beyond their uncertainty: `z` combined standard errors or
    more, or, where a side has no stderr, more than `tolerance`. (apart?, how far apart in z or
    tolerance units, why); None when it cannot be judged. Conflicts and signs
    (warden.evaluation.signs) judge their pairs with it."""
    gap = abs(a.value - b.value)
    if a.stderr is not None and b.stderr is not None and (a.stderr or b.stderr):
        zs = gap / math.hypot(a.stderr, b.stderr)
        met = zs >= z
        return (
            met,
            zs / z,
            f"gap {gap:g} = {zs:.3g} combined stderr ({'' if met else 'not '}>= z {z:g})",
        )
    if a.stderr == 0 and b.stderr == 0 and tolerance is None:
        met = gap > 0
        return met, math.inf if met else 0.0, f"gap {gap:g} between exact results"
    if tolerance is None:
        return None, 0.0, "a side has no stderr and the threshold no tolerance"
    met = gap > tolerance
    return (
        met,
        gap / tolerance,
        f"gap {gap:g} ({'' if met else 'not '}> tolerance {tolerance:g}; a side has no stderr)",
    )


def conflicts(
    threshold: Threshold, when: Conflict, series: SubjectSeries, known_subjects: Iterable[str]
) -> list[Evaluation]:
    """Per model, whether its measurers disagree (see the module's docstring)."""
    out = []
    judged_subjects = set()
    for subject, obs in sorted(series.items()):
        sides = {}
        for m in when.between:
            mine = [p for p in obs if measurer(p) == m]
            if mine:
                sides[m] = side(when.direction, mine)
        if len(sides) < 2:
            continue
        judged_subjects.add(subject)
        results = []
        for x, y in combinations([m for m in when.between if m in sides], 2):
            met, far, why = pair(when.z, when.tolerance, sides[x], sides[y])
            results.append((met, far, f"{text(sides[x])} vs {text(sides[y])}: {why}", x, y))
        decided = [r for r in results if r[0] is not None]
        if not decided:
            reason = "cannot judge: " + "; ".join(r[2] for r in results)
            out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=reason))
            continue
        worst = max(decided, key=lambda r: (bool(r[0]), r[1]))
        met, _, _, x, y = worst
        gap = abs(sides[x].value - sides[y].value)
        verdict = Verdict.BREACHED if met else Verdict.OK
        head = "evidence conflict: " if met else "evidence agrees: "
        reason = head + "; ".join(r[2] for r in sorted(results, key=lambda r: r[0] is not True))
        out.append(
            Evaluation(
                threshold.id, subject, verdict, gap, int(bool(met)), (sides[x], sides[y]), reason
            )
        )
    for subject in sorted(set(known_subjects) - judged_subjects):
        why = "no two measurers to compare" if subject in series else "no evidence"
        out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=why))
    return out


def divergences(
    threshold: Threshold,
    when: Divergence,
    evidence: SubjectSeries,
    declarations: SubjectSeries,
    known_subjects: Iterable[str],
) -> list[Evaluation]:
    """Per model with a declaration for `when.declaration`: whether it and the evidence the
    threshold reads diverge (see `Divergence`)."""
    c = when.condition
    out = []
    for subject, decl in sorted(declarations.items()):
        declared = decl[0]  # the newest: a later declaration supersedes an earlier one
        status = status_name(declared.value)
        obs = evidence.get(subject, ())
        met = None if not obs else most_capable(threshold, subject, obs, c, None)
        meets = met is not None and met.verdict is Verdict.BREACHED
        shown = (
            "no evidence"
            if met is None
            else f"{met.value:g} {'' if meets else 'not '}{c.op} {c.value:g}"
            + (f" (variant {met.evidence[0].variant})" if met.evidence[0].variant else "")
            + f", measured by {measurer(met.evidence[0])}"
        )
        what = f"{c.benchmark}/{c.metric} {shown}; declared {status} ({when.declaration})"
        points = (declared, *(met.evidence if met is not None else ()))
        if (
            met is not None
            and meets
            and declared.value <= 1
            and when.direction != "declaration_above"
        ):
            reason = f"evidence above the declaration: {what}"
            out.append(
                Evaluation(threshold.id, subject, Verdict.BREACHED, met.value, met.confirmations,
                           points, reason)
            )  # fmt: skip
        elif declared.value >= 2 and not meets and when.direction != "evidence_above":
            reason = f"declaration above the evidence (an evidence gap): {what}"
            value = met.value if met is not None else None
            out.append(
                Evaluation(threshold.id, subject, Verdict.BREACHED, value, 1, points, reason)
            )
        else:
            value = met.value if met is not None else None
            reason = f"declaration and evidence agree: {what}"
            out.append(Evaluation(threshold.id, subject, Verdict.OK, value, 0, points, reason))
    for subject in sorted(set(known_subjects) - set(declarations)):
        out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason="no declaration"))
    return out

"""Signs of under-elicitation (`when: {sign: ...}`, warden/catalog/signs.py). Pure.

A sign is `breached` for a person to check, with both points as its evidence (the model's own
first, then what it fell below) and the rule named in the explanation: "possible
under-elicitation (<rule>): ...". Its value is the drop. `ok` when the comparison the rule
makes could be judged and shows no sign; `unknown` when it cannot be judged (no stderr on a side
and no tolerance, no sample counts). A model the rule has nothing to compare with (no
predecessor, no earlier run, no vendor number) gets no verdict (`unknown` once it has an alert
state), as a conflict needs two measurers.

- `predecessor_drop`: each model's best result (the newest per variant, as the threshold's
  `evidence:` reads it; the most capable variant, and under `evidence: min` the least capable
  measurer) against that of its predecessor: of the models of its registry `family` released
  before it that have a result here, those of the newest release date (the most capable of
  them, when several share it).
- `elicitation_drop`: per variant and measurer, the newest result against the one before it,
  when the newest has fewer samples (`n`). Fewer epochs leave `n` unchanged (it counts samples,
  not sample-epochs) and no connector records tools: those changes are not seen.
- `below_vendor`: the vendor's newest result at its most capable variant against each of
  `against` (independent, own) at theirs; the pair judged as a conflict's
  (warden.evaluation.evidence.pair), but only the vendor being higher counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from warden.catalog.registry import ModelSpec
from warden.catalog.signs import Sign
from warden.catalog.thresholds import Threshold
from warden.core.model import Evaluation, Point, Verdict
from warden.evaluation.evidence import chosen, pair, side, text
from warden.evaluation.judge import by_variant, measurer

SubjectSeries = Mapping[str, Sequence[Point]]
HEAD = "possible under-elicitation"
# (sign?, drop, why, the model's point, the point it is compared with)
Judged = tuple[bool | None, float, str, Point, Point]


def signs(
    threshold: Threshold,
    when: Sign,
    series: SubjectSeries,
    known_subjects: Iterable[str],
    models: Mapping[str, ModelSpec],
) -> list[Evaluation]:
    """Per model, whether `when.rule` sees a sign (see the module's docstring). `series`: the
    fresh evidence in the threshold's scope, each model's newest first per variant."""
    if when.rule == "predecessor_drop":
        judged = _predecessors(threshold, when, chosen(threshold, when.benchmark, series), models)
    elif when.rule == "elicitation_drop":
        judged = _elicitation(threshold, when, series)
    else:
        judged = _below_vendor(when, series)
    out = [
        _verdict(threshold, when, subject, results) for subject, results in sorted(judged.items())
    ]
    for subject in sorted(set(known_subjects) - set(judged)):
        why = _nothing[when.rule] if subject in series else "no evidence"
        out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=why))
    return out


_nothing = {
    "predecessor_drop": "no predecessor of its family with a result to compare with",
    "elicitation_drop": "no earlier result of the same variant and measurer to compare with",
    "below_vendor": "no vendor result and independent or own result to compare",
}


def dropped(when: Sign, reference: Point, p: Point) -> tuple[bool | None, float, str]:
    """Whether `p` is below `reference` (the less capable way) beyond `when`'s `drop` and the
    pair's uncertainty: (sign?, drop, why); None when it cannot be judged."""
    drop = (reference.value - p.value) * (1 if when.direction == "higher" else -1)
    if drop <= 0:
        return False, drop, f"not below it ({p.value:g} vs {reference.value:g})"
    if drop <= when.drop:
        return False, drop, f"drop {drop:g} (not > drop {when.drop:g})"
    met, _, why = pair(when.z, when.without_stderr, reference, p)
    floor = f"drop {drop:g} > {when.drop:g}; " if when.drop else ""
    return met, drop, f"{floor}{why}"


def _verdict(threshold: Threshold, when: Sign, subject: str, results: list[Judged]) -> Evaluation:
    decided = [r for r in results if r[0] is not None]
    lines = [r[2] for r in sorted(results, key=lambda r: r[0] is not True)]
    if not decided:
        reason = f"cannot judge ({when.rule}): " + "; ".join(lines)
        return Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=reason)
    met, drop, _, p, reference = max(decided, key=lambda r: (bool(r[0]), r[1]))
    if met:
        reason = f"{HEAD} ({when.rule}): " + "; ".join(lines)
        return Evaluation(threshold.id, subject, Verdict.BREACHED, drop, 1, (p, reference), reason)
    reason = f"no sign ({when.rule}): " + "; ".join(lines)
    return Evaluation(threshold.id, subject, Verdict.OK, drop, 0, (p, reference), reason)


def best(threshold: Threshold, when: Sign, obs: Sequence[Point]) -> Point:
    """A model's best result as the threshold reads it: the newest of each variant, the most
    capable variant; under `evidence: max`/`min` per measurer, the most/least capable."""
    if threshold.evidence not in ("max", "min"):
        return side(when.direction, obs)
    per: dict[str, list[Point]] = {}
    for p in obs:
        per.setdefault(measurer(p), []).append(p)
    sides = [side(when.direction, mine) for mine in per.values()]
    sign = 1 if when.direction == "higher" else -1
    if threshold.evidence == "min":
        return min(sides, key=lambda p: sign * p.value)
    return max(sides, key=lambda p: sign * p.value)


def _predecessors(
    threshold: Threshold, when: Sign, series: SubjectSeries, models: Mapping[str, ModelSpec]
) -> dict[str, list[Judged]]:
    families: dict[str, list[tuple[date, str, Point]]] = {}
    for subject, obs in series.items():
        spec = models.get(subject)
        if obs and spec is not None and spec.family and spec.release_date is not None:
            entry = (spec.release_date, subject, best(threshold, when, obs))
            families.setdefault(spec.family, []).append(entry)
    sign = 1 if when.direction == "higher" else -1
    out: dict[str, list[Judged]] = {}
    for family, members in families.items():
        for released, subject, p in members:
            earlier = [m for m in members if m[0] < released]
            if not earlier:
                continue
            newest = max(m[0] for m in earlier)
            _, before, reference = max(
                (m for m in earlier if m[0] == newest), key=lambda m: (sign * m[2].value, m[1])
            )
            met, drop, why = dropped(when, reference, p)
            shown = (
                f"{subject} {text(p)} (released {released.isoformat()}) vs its predecessor in "
                f"family {family} {before} {text(reference)} (released {newest.isoformat()}): "
                f"{why}"
            )
            out[subject] = [(met, drop, shown, p, reference)]
    return out


def _elicitation(
    threshold: Threshold, when: Sign, series: SubjectSeries
) -> dict[str, list[Judged]]:
    choice = threshold.evidence
    keep = {choice} if choice in ("independent", "vendor", "own") else None
    if threshold.exclude_vendor_reported:
        keep = (keep or {"independent", "own"}) - {"vendor"}
    out: dict[str, list[Judged]] = {}
    for subject, obs in series.items():
        results: list[Judged] = []
        for points in by_variant(obs).values():
            per: dict[str, list[Point]] = {}
            for p in points:
                if keep is None or measurer(p) in keep:
                    per.setdefault(measurer(p), []).append(p)
            for mine in per.values():
                if len(mine) < 2:
                    continue
                newest, before = mine[0], mine[1]
                shown = f"newest {text(newest)} vs before {text(before)}"
                if newest.n is None or before.n is None:
                    results.append((None, 0.0, f"{shown}: no sample count to compare", newest,
                                    before))  # fmt: skip
                    continue
                if newest.n >= before.n:
                    why = f"the newest ran on as many samples or more (n {newest.n} >= {before.n})"
                    drop = (before.value - newest.value) * (1 if when.direction == "higher" else -1)
                    results.append((False, drop, f"{shown}: {why}", newest, before))
                    continue
                met, drop, why = dropped(when, before, newest)
                fewer = f"fewer samples (n {newest.n} < {before.n})"
                results.append((met, drop, f"{shown}: {fewer}; {why}", newest, before))
        if results:
            out[subject] = results
    return out


def _below_vendor(when: Sign, series: SubjectSeries) -> dict[str, list[Judged]]:
    out: dict[str, list[Judged]] = {}
    for subject, obs in series.items():
        vendor = [p for p in obs if measurer(p) == "vendor"]
        if not vendor:
            continue
        theirs = side(when.direction, vendor)
        results: list[Judged] = []
        for m in when.against:
            mine = [p for p in obs if measurer(p) == m]
            if not mine:
                continue
            p = side(when.direction, mine)
            met, drop, why = dropped(when, theirs, p)
            results.append((met, drop, f"{text(p)} vs {text(theirs)}: {why}", p, theirs))
        if results:
            out[subject] = results
    return out

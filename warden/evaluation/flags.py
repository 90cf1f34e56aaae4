"""A result a sign flags is never read as a model's capability without saying so. Pure.

A sign of under-elicitation (`when: {sign: ...}`, warden/evaluation/signs.py) names the result
it doubts: the first point of its evidence (the model's own result below its predecessor's,
below the vendor's, or a newest run on fewer samples). Any other threshold of the same cycle
whose verdict rests on that very observation (its evidence holds the same stored row) is still
decided on it, as the frameworks' numbers are, but its explanation says that the result is
flagged and by which sign, so the alert, `warden evaluate`, the web view and the trigger log
show the doubt beside the number. Replay compares verdicts, values and states, not
explanations, so a flag never makes a trigger irreproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from warden.catalog.signs import Sign
from warden.catalog.thresholds import Threshold
from warden.core.model import Evaluation, Verdict
from warden.evaluation.evaluate import explain

Evaluated = Sequence[tuple[Threshold, list[Evaluation]]]


def flagged(evaluated: Evaluated) -> list[list[Evaluation]]:
    """Each threshold's evaluations, in order; those resting on a result a breached sign of
    `evaluated` names carry the flag in their explanation."""
    flags: dict[int, list[str]] = {}
    for threshold, evaluations in evaluated:
        if not isinstance(threshold.when, Sign):
            continue
        for ev in evaluations:
            if ev.verdict is Verdict.BREACHED and ev.evidence:
                flags.setdefault(ev.evidence[0].id, []).append(
                    f"{threshold.id} ({threshold.when.rule})"
                )
    if not flags:
        return [evaluations for _, evaluations in evaluated]
    return [
        evaluations
        if isinstance(threshold.when, Sign)
        else [_flag(threshold, ev, flags) for ev in evaluations]
        for threshold, evaluations in evaluated
    ]


def _flag(threshold: Threshold, ev: Evaluation, flags: Mapping[int, list[str]]) -> Evaluation:
    signs = [s for p in ev.evidence for s in flags.get(p.id, ())]
    if not signs:
        return ev
    base = explain(threshold, ev)
    note = (
        f"flagged as possible under-elicitation by {', '.join(dict.fromkeys(signs))}: "
        "this result may understate the model's capability"
    )
    return ev._replace(reason=f"{base}; {note}" if base else note)

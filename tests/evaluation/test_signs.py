"""Signs of under-elicitation (`sign:`), pure evaluation on constructed series: how each rule
picks what it compares, and what it cannot judge. The store and the cycle are in
tests/alerting/test_elicitation_signs.py; the catalog's side in tests/catalog/test_signs.py."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.support.factories import T0, obs, series
from warden.catalog.registry import ModelSpec
from warden.catalog.thresholds import Threshold
from warden.core.model import Point, Verdict
from warden.evaluation.evaluate import depth, evaluate_threshold, explain

NOW = T0 + timedelta(days=1)
PAIR = ("bench", "acc")
MODELS = {
    m.id: m
    for m in (
        ModelSpec(id="a/1", family="a", release_date=date(2025, 1, 1)),
        ModelSpec(id="a/2", family="a", release_date=date(2025, 5, 1)),
        ModelSpec(id="a/2-twin", family="a", release_date=date(2025, 5, 1)),
        ModelSpec(id="a/3", family="a", release_date=date(2025, 9, 1)),
        ModelSpec(id="a/undated", family="a"),
    )
}


def sign(rule: str, evidence: str = "any", **spec: Any) -> Threshold:
    return Threshold.model_validate(
        {
            "id": f"elicitation.bench.{rule}",
            "title": "Sign",
            "domain": "elicitation",
            "level": "early_warning",
            "sources": [{"title": "S", "url": "https://example.org/"}],
            "when": {"sign": {"rule": rule, "benchmark": "bench", "metric": "acc", **spec}},
            "evidence": evidence,
            "then": {"severity": "info"},
        }
    )


def p(subject: str, value: float, minutes: float, **kw: Any) -> Point:
    return obs(subject, value, minutes)._replace(**kw)


def run(t: Threshold, *points: Point, known: tuple[str, ...] = ()) -> dict[str, Any]:
    out = evaluate_threshold(t, {PAIR: series(*points)}, NOW, known, MODELS)
    return {e.subject: e for e in out}


def test_of_two_predecessors_released_the_same_day_the_more_capable_is_compared() -> None:
    t = sign("predecessor_drop", drop=0.05)
    got = run(t, p("a/2", 0.70, 1), p("a/2-twin", 0.90, 1), p("a/3", 0.80, 2))
    assert got["a/3"].verdict is Verdict.BREACHED
    assert "its predecessor in family a a/2-twin" in explain(t, got["a/3"])
    assert [e.subject for e in got["a/3"].evidence] == ["a/3", "a/2-twin"]
    # Twins are not each other's predecessor; a model without a release date has none.
    assert set(got) == {"a/3"}


def test_a_model_without_a_release_date_or_family_has_no_verdict_unless_known() -> None:
    t = sign("predecessor_drop", drop=0.05)
    got = run(t, p("a/1", 0.9, 1), p("a/undated", 0.1, 2), p("x/none", 0.1, 2),
              known=("a/undated", "gone"))  # fmt: skip
    assert got["a/undated"].verdict is Verdict.UNKNOWN
    assert got["a/undated"].reason == "no predecessor of its family with a result to compare with"
    assert (got["gone"].verdict, got["gone"].reason) == (Verdict.UNKNOWN, "no evidence")
    assert "x/none" not in got and "a/1" not in got


def test_the_best_result_is_the_most_capable_variant_as_evidence_chooses() -> None:
    points = (
        p("a/1", 0.80, 1, measured_by="independent"),
        p("a/2", 0.60, 2, measured_by="independent", variant="low"),
        p("a/2", 0.79, 2, measured_by="independent", variant="high"),
        p("a/2", 0.95, 3, measured_by="vendor"),
    )
    # any: the newest per variant (the vendor's 0.95 and high's 0.79): the best is 0.95.
    assert run(sign("predecessor_drop", drop=0.05), *points)["a/2"].verdict is Verdict.OK
    # independent: high's 0.79, 0.01 below: within the drop.
    independent = run(sign("predecessor_drop", "independent", drop=0.05), *points)["a/2"]
    assert (independent.verdict, independent.evidence[0].variant) == (Verdict.OK, "high")
    # min: the least capable measurer's best (independent 0.79) against a/1's.
    assert run(sign("predecessor_drop", "min", tolerance=0.005), *points)["a/2"].verdict is (
        Verdict.BREACHED
    )


def test_lower_is_more_capable_turns_the_drop_around() -> None:
    t = sign("predecessor_drop", drop=5, direction="lower")
    got = run(t, p("a/1", 30.0, 1), p("a/2", 45.0, 2))  # slower: a sign
    assert (got["a/2"].verdict, got["a/2"].value) == (Verdict.BREACHED, 15.0)
    assert run(t, p("a/1", 30.0, 1), p("a/2", 20.0, 2))["a/2"].verdict is Verdict.OK


def test_a_pair_without_stderr_and_no_drop_or_tolerance_cannot_be_judged() -> None:
    t = sign("below_vendor")
    got = run(t, p("m", 0.9, 1, measured_by="vendor"), p("m", 0.5, 2, measured_by="own",
                                                           stderr=0.02))  # fmt: skip
    assert got["m"].verdict is Verdict.UNKNOWN
    assert got["m"].reason.startswith("cannot judge (below_vendor): ")
    # `against` narrows whose results are held against the vendor's.
    only = sign("below_vendor", tolerance=0.05, against=["independent"])
    assert run(only, p("m", 0.9, 1, measured_by="vendor"), p("m", 0.5, 2, measured_by="own")) == {}


def test_elicitation_drop_reads_two_results_per_series() -> None:
    assert depth([sign("elicitation_drop")]) == 2
    assert depth([sign("predecessor_drop")]) == 1

"""Which evidence a threshold reads (`evidence:`), and evidence that disagrees (`conflict:`).
Pure evaluation on constructed series; the store and the cycle are in
tests/alerting/test_evidence_conflict.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.factories import T0, obs, series, threshold
from warden.catalog.thresholds import Threshold
from warden.core.errors import CatalogError
from warden.core.model import Point, Verdict
from warden.evaluation.evaluate import evaluate, evaluate_threshold, explain

NOW = T0 + timedelta(days=1)
PAIR = ("bench", "acc")


def by(measurer: str, subject: str, value: float, minutes: float, **kw: Any) -> Point:
    return obs(subject, value, minutes)._replace(measured_by=measurer, **kw)


# A lab's card says 0.95 (newest), an independent evaluator 0.70, our own run 0.62.
MIXED = (by("independent", "m", 0.70, 1), by("own", "m", 0.62, 2), by("vendor", "m", 0.95, 3))


@pytest.mark.parametrize(
    ("choice", "verdict", "value", "decided"),
    [
        ("any", Verdict.BREACHED, 0.95, "vendor"),  # the newest, whoever measured it
        ("independent", Verdict.WARNING, 0.70, "independent"),
        ("vendor", Verdict.BREACHED, 0.95, "vendor"),
        ("own", Verdict.OK, 0.62, "own"),
        ("max", Verdict.BREACHED, 0.95, "vendor"),
        ("min", Verdict.OK, 0.62, "own"),
    ],
)
def test_each_evidence_choice_reads_its_measurers(
    choice: str, verdict: Verdict, value: float, decided: str
) -> None:
    t = threshold(when={"value": 0.8}, warn_at=0.7, evidence=choice)
    (e,) = evaluate(t, series(*MIXED), NOW)
    assert (e.verdict, e.value, e.evidence[0].measured_by) == (verdict, value, decided)
    reason = explain(t, e)
    if choice == "any":
        assert reason == "0.95 >= 0.8; measured by vendor"
    else:
        assert reason.endswith(f"; measured by {decided} (evidence: {choice})")


def test_any_is_the_newest_result_as_before_measurers_existed() -> None:
    # The older vendor number does not decide under `any`: the newest does.
    s = series(by("vendor", "m", 0.95, 1), by("independent", "m", 0.70, 2))
    (e,) = evaluate(threshold(when={"value": 0.8}, warn_at=0.7), s, NOW)
    assert (e.verdict, e.value) == (Verdict.WARNING, 0.70)
    assert explain(threshold(when={"value": 0.8}, warn_at=0.7), e) == "0.7 >= warn_at 0.7"


def test_confirmations_under_any_count_the_newest_across_measurers() -> None:
    t = threshold(when={"value": 0.8}, **{"for": 2})
    s = series(by("vendor", "m", 0.9, 1), by("independent", "m", 0.85, 2),
               by("vendor", "m", 0.6, 0), by("independent", "m", 0.5, -1))  # fmt: skip
    (e,) = evaluate(t, s, NOW)
    assert (e.verdict, e.confirmations) == (Verdict.BREACHED, 2)
    assert [p.value for p in e.evidence] == [0.85, 0.9]


def test_exclude_vendor_reported_is_any_without_the_vendor() -> None:
    t = threshold(when={"value": 0.8}, warn_at=0.7, exclude_vendor_reported=True)
    (e,) = evaluate(t, series(*MIXED), NOW)
    assert (e.verdict, e.value) == (Verdict.OK, 0.62)  # own is newer than independent
    assert explain(t, e).endswith("; measured by own (vendor's numbers excluded)")


def test_a_model_with_only_excluded_evidence_has_no_verdict_not_ok() -> None:
    t = threshold(evidence="independent")
    assert evaluate(t, series(by("vendor", "m", 0.95, 1)), NOW) == []
    (e,) = evaluate(t, series(by("vendor", "m", 0.95, 1)), NOW, known_subjects=["m"])
    assert e.verdict is Verdict.UNKNOWN


def test_evidence_vendor_contradicts_excluding_the_vendor() -> None:
    with pytest.raises(ValueError, match="contradicts evidence: vendor"):
        threshold(evidence="vendor", exclude_vendor_reported=True)


# -- conflicts -----------------------------------------------------------------------------------
def conflict(**spec: Any) -> Threshold:
    return Threshold.model_validate(
        {
            "id": "evidence.bench.conflict",
            "title": "Evidence conflict",
            "domain": "evidence",
            "level": "early_warning",
            "sources": [{"title": "Source", "url": "https://example.org/"}],
            "when": {"conflict": {"benchmark": "bench", "metric": "acc", **spec}},
            "then": {"severity": "info"},
        }
    )


def judge(t: Threshold, *points: Point, known: tuple[str, ...] = ()) -> list[Any]:
    return evaluate_threshold(t, {PAIR: series(*points)}, NOW, known)


def test_the_issue_case_vendor_095_against_independent_070_conflicts() -> None:
    vendor = by("vendor", "m", 0.95, 2, stderr=0.01, feed="cards")
    independent = by("independent", "m", 0.70, 1, stderr=0.02, feed="epoch")
    (e,) = judge(conflict(z=3), vendor, independent)
    assert e.verdict is Verdict.BREACHED
    assert [p.measured_by for p in e.evidence] == ["vendor", "independent"]
    assert e.value == pytest.approx(0.25)
    assert e.reason.startswith("evidence conflict: vendor 0.95 ± 0.01 [feed cards, 2026-01-01]")
    assert "independent 0.7 ± 0.02 [feed epoch, 2026-01-01]" in e.reason
    assert "11.2 combined stderr (>= z 3)" in e.reason
    assert explain(conflict(z=3), e) == e.reason


def test_a_difference_inside_the_combined_uncertainty_is_no_conflict() -> None:
    # 0.74 vs 0.70 with stderrs 0.02: 1.41 combined stderr, under z = 3.
    vendor = by("vendor", "m", 0.74, 2, stderr=0.02)
    (e,) = judge(conflict(z=3), vendor, by("independent", "m", 0.70, 1, stderr=0.02))
    assert (e.verdict, e.confirmations) == (Verdict.OK, 0)
    assert "1.41 combined stderr (not >= z 3)" in e.reason


def test_without_stderr_the_tolerance_decides_and_without_one_it_cannot() -> None:
    a, b = by("vendor", "m", 0.80, 2), by("own", "m", 0.70, 1)
    (e,) = judge(conflict(tolerance=0.05), a, b)
    assert e.verdict is Verdict.BREACHED and "> tolerance 0.05" in e.reason
    (e,) = judge(conflict(tolerance=0.15), a, b)
    assert e.verdict is Verdict.OK
    (e,) = judge(conflict(), a, b)
    assert e.verdict is Verdict.UNKNOWN and "no tolerance" in e.reason


def test_one_measurer_has_nothing_to_disagree_with() -> None:
    points = (by("vendor", "m", 0.95, 2, stderr=0.01), by("vendor", "m", 0.10, 1, stderr=0.01))
    assert judge(conflict(), *points) == []
    (e,) = judge(conflict(), *points, known=("m",))
    assert (e.verdict, e.reason) == (Verdict.UNKNOWN, "no two measurers to compare")


def test_each_measurer_is_compared_at_its_most_capable_variant() -> None:
    vendor = by("vendor", "m", 0.90, 3, stderr=0.01, variant="max-effort")
    low = by("independent", "m", 0.50, 2, stderr=0.01, variant="low")
    high = by("independent", "m", 0.89, 1, stderr=0.01, variant="high")
    (e,) = judge(conflict(), vendor, low, high)
    assert e.verdict is Verdict.OK
    assert [p.variant for p in e.evidence] == ["max-effort", "high"]


def test_between_limits_the_measurers_compared() -> None:
    points = (by("vendor", "m", 0.95, 2, stderr=0.01), by("own", "m", 0.5, 1, stderr=0.01),
              by("independent", "m", 0.94, 0, stderr=0.01))  # fmt: skip
    (e,) = judge(conflict(between=["vendor", "independent"]), *points)
    assert e.verdict is Verdict.OK
    (e,) = judge(conflict(), *points)
    assert e.verdict is Verdict.BREACHED
    assert {p.measured_by for p in e.evidence} == {"vendor", "own"}


def test_a_conflict_threshold_refuses_what_does_not_apply() -> None:
    with pytest.raises(ValueError, match="warn_at: does not apply to conflict"):
        Threshold.model_validate(
            {**conflict().model_dump(mode="json", by_alias=True, exclude_defaults=True),
             "when": {"conflict": {"benchmark": "b", "metric": "m"}}, "warn_at": 0.1}
        )  # fmt: skip


def test_a_conflict_on_an_unknown_benchmark_is_a_catalog_error(tmp_path: Any) -> None:
    from warden.catalog.thresholds import load_catalog

    path = tmp_path / "c.yaml"
    path.write_text(
        "thresholds:\n  - id: e.c\n    title: t\n    domain: d\n    level: high\n"
        "    sources: [{title: s, url: 'https://example.org/'}]\n"
        "    when: {conflict: {benchmark: nope, metric: acc}}\n    then: {severity: info}\n"
    )
    with pytest.raises(CatalogError, match=r"when\.conflict: unknown benchmark 'nope'"):
        load_catalog([path])

"""Combinations of conditions (`all`, `any`, `at_least`) and `exclude_vendor_reported`: pure
evaluation, catalog errors, and a cycle on real stores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.support.factories import T0, obs, series, threshold
from warden.alerting.cycle import run_cycle
from warden.catalog.conditions import Combination
from warden.catalog.thresholds import Catalog, Threshold, load_catalog
from warden.core.errors import CatalogError
from warden.core.model import Observation, State, Verdict
from warden.evaluation.evaluate import evaluate_threshold, explain
from warden.store import Store
from warden.store import observations as obs_rows

NOW = T0 + timedelta(days=1)


def part(benchmark: str, value: float, **extra: Any) -> dict[str, Any]:
    return {"benchmark": benchmark, "metric": "acc", "op": ">=", "value": value, **extra}


def combined(when: dict[str, Any], **overrides: Any) -> Threshold:
    """A threshold on `when` as written (the factory would merge it into a single condition)."""
    base = threshold().model_dump(by_alias=True, mode="json", exclude={"when", "warn_at"})
    return Threshold.model_validate({**base, "when": when, **overrides})


def test_a_combination_is_normalised_from_each_spelling() -> None:
    t = combined({"at_least": 2, "of": [part("a", 0.5), part("b", 0.5), part("c", 0.5)]})
    assert isinstance(t.when, Combination) and (t.when.mode, t.when.needed) == ("at_least", 2)
    assert t.pairs == (("a", "acc"), ("b", "acc"), ("c", "acc"))
    t = combined(
        {
            "all": [
                part("a", 0.5),
                {"benchmark": "b", "metric": "acc", "rule_out": 0.2, "rule_in": 0.6},
            ]
        }
    )
    assert isinstance(t.when, Combination) and t.when.needed == 2
    grey = t.when.of[1]
    assert (grey.op, grey.value, grey.warn_at) == (">=", 0.6, 0.2)


def judge(t, evidence, known=()):  # type: ignore[no-untyped-def]
    return {e.subject: e for e in evaluate_threshold(t, evidence, NOW, known)}


def test_all_any_and_at_least_combine_per_model() -> None:
    parts = [part("a", 0.5, warn_at=0.4), part("b", 0.5), part("c", 0.5)]
    evidence = {
        ("a", "acc"): series(obs("m1", 0.6), obs("m2", 0.6), obs("m3", 0.45)),
        ("b", "acc"): series(obs("m1", 0.7), obs("m2", 0.1), obs("m3", 0.9)),
        ("c", "acc"): series(obs("m1", 0.2), obs("m2", 0.1), obs("m3", 0.9)),
    }
    every = judge(combined({"all": parts}), evidence)
    assert [every[m].verdict for m in ("m1", "m2", "m3")] == [Verdict.OK] * 2 + [Verdict.WARNING]
    some = judge(combined({"any": parts}), evidence)
    assert all(some[m].verdict is Verdict.BREACHED for m in ("m1", "m2", "m3"))
    two = judge(combined({"at_least": 2, "of": parts}), evidence)
    assert two["m1"].verdict is Verdict.BREACHED and two["m2"].verdict is Verdict.OK
    assert two["m3"].verdict is Verdict.BREACHED  # b and c; a is only at its warning
    t = combined({"at_least": 2, "of": parts})
    assert explain(t, two["m1"]) == (
        "2 of 3 met (at least 2): a/acc 0.6 >= 0.5; b/acc 0.7 >= 0.5; c/acc 0.2 not >= 0.5"
    )
    assert {p.value for p in two["m1"].evidence} == {0.6, 0.7, 0.2}


def test_missing_evidence_decides_only_when_it_could_change_the_verdict() -> None:
    parts = [part("a", 0.5), part("b", 0.5)]
    evidence = {("a", "acc"): series(obs("m1", 0.9), obs("m2", 0.1))}  # nothing on b
    every = judge(combined({"all": parts}), evidence, known=["m9"])
    assert every["m1"].verdict is Verdict.UNKNOWN  # b could go either way
    assert "b/acc: no evidence" in every["m1"].reason
    assert every["m2"].verdict is Verdict.OK  # a already fails: b cannot rescue it
    assert every["m9"].verdict is Verdict.UNKNOWN and every["m9"].reason == "no evidence"
    some = judge(combined({"any": parts}), evidence)
    assert some["m1"].verdict is Verdict.BREACHED and some["m2"].verdict is Verdict.UNKNOWN


def test_confirmations_are_those_of_the_weakest_needed_condition() -> None:
    t = combined({"all": [part("a", 0.5), part("b", 0.5)]}, **{"for": 2})
    evidence = {
        ("a", "acc"): series(obs("m", 0.6, 1), obs("m", 0.7, 2), obs("m", 0.8, 3)),
        ("b", "acc"): series(obs("m", 0.1, 1), obs("m", 0.9, 3)),
    }
    (e,) = evaluate_threshold(t, evidence, NOW)
    assert e.verdict is Verdict.BREACHED and e.confirmations == 1  # b: one breach in a row


def test_frontier_is_the_model_whose_combination_is_most_severe() -> None:
    t = combined({"all": [part("a", 0.5), part("b", 0.5)]}, scope="frontier")
    evidence = {
        ("a", "acc"): series(obs("m1", 0.9), obs("m2", 0.6)),  # m1 best on a alone
        ("b", "acc"): series(obs("m1", 0.1), obs("m2", 0.6)),
    }
    (e,) = evaluate_threshold(t, evidence, NOW)
    assert (e.subject, e.verdict) == ("frontier", Verdict.BREACHED)
    assert e.reason.startswith("best model: m2; 2 of 2 met (all)")
    (none,) = evaluate_threshold(t, {}, NOW)
    assert none.verdict is Verdict.UNKNOWN


@pytest.mark.parametrize(
    ("when", "extra", "message"),
    [
        ({"all": []}, {}, "when.all: a non-empty list of conditions"),
        ({"at_least": 3, "of": [part("a", 0.5), part("b", 0.5)]}, {}, "can never hold"),
        ({"at_least": 0, "of": [part("a", 0.5)]}, {}, "a count of conditions"),
        ({"all": [part("a", 0.5)], "any": [part("b", 0.5)]}, {}, "one of all, any, at_least"),
        ({"all": [{"any": [part("a", 0.5)]}]}, {}, "combinations do not nest"),
        ({"all": [part("a", 0.5)]}, {"warn_at": 0.4}, "warn_at: a combination's early warnings"),
        ({"all": [part("a", 0.5, warn_at=0.6)]}, {}, "must lie on the safe side"),
    ],
)
def test_bad_combinations_are_refused(
    when: dict[str, Any], extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        combined(when, **extra)


def test_each_condition_names_a_known_benchmark_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "benchmarks:\n"
        "  - {id: a, title: A, metrics: {acc: {scale: fraction}}}\n"
        "thresholds:\n"
        "  - id: lab.combo.high\n"
        "    title: T\n"
        "    domain: test\n"
        "    level: high\n"
        "    sources: [{title: S, url: 'https://example.org/'}]\n"
        "    when:\n"
        "      any:\n"
        "        - {benchmark: a, metric: acc, op: '>=', value: 1.5}\n"
        "        - {benchmark: nope, metric: acc, op: '>=', value: 0.5}\n"
        "    then: {severity: critical}\n"
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    text = str(caught.value)
    assert "when.of[0].value 1.5 is impossible for a fraction" in text
    assert "when.of[1]: unknown benchmark 'nope'" in text and "'lab.combo.high'" in text


def put(store: Store, benchmark: str, subject: str, value: float, key: str, **attrs: Any) -> None:
    o = Observation(subject, benchmark, "acc", value, T0, key, "test", "0" * 64, attributes=attrs)
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [o], T0)


def test_a_combination_fires_through_the_cycle(store: Store) -> None:
    t = combined({"all": [part("a", 0.5), part("b", 0.5)]})
    put(store, "a", "m", 0.7, "k1")
    r = run_cycle(store, Catalog((t,)), [], lambda: NOW)
    assert [e.verdict for e in r.evaluations] == [Verdict.UNKNOWN]
    put(store, "b", "m", 0.8, "k2")
    r = run_cycle(store, Catalog((t,)), [], lambda: NOW)
    ((_, transition),) = r.transitions
    assert (transition.subject, transition.to_state) == ("m", State.FIRING)


def test_vendor_reported_results_do_not_count_where_excluded(store: Store) -> None:
    strict = threshold(id="test.independent.high", exclude_vendor_reported=True, warn_at=None)
    lenient = threshold(id="test.any_source.high", warn_at=None)
    put(store, "bench", "m", 0.3, "k1")  # an independent run, older
    later = Observation("m", "bench", "acc", 0.9, T0 + timedelta(hours=1), "k2", "card", "1" * 64,
                        attributes={"vendor_reported": True})  # fmt: skip
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [later], T0)
    r = run_cycle(store, Catalog((strict, lenient)), [], lambda: NOW)
    got = {e.threshold: (e.verdict, e.value) for e in r.evaluations}
    assert got["test.independent.high"] == (Verdict.OK, 0.3)  # the card's 0.9 is left out
    assert got["test.any_source.high"] == (Verdict.BREACHED, 0.9)


def test_evidence_that_establishes_a_warning_is_reported_despite_gaps() -> None:
    parts = [part("a", 0.5, warn_at=0.3), part("b", 0.5)]
    evidence = {("a", "acc"): series(obs("m", 0.35))}  # a at its warning level, b unmeasured
    (e,) = evaluate_threshold(combined({"any": parts}), evidence, NOW)
    assert e.verdict is Verdict.WARNING  # b could only make it worse
    assert "b/acc: no evidence" in e.reason
    (e,) = evaluate_threshold(combined({"all": parts}), evidence, NOW)
    assert e.verdict is Verdict.UNKNOWN  # b could make it ok or breached

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.factories import T0, obs, series, threshold
from warden.catalog.registry import ModelSpec
from warden.core.model import Verdict
from warden.evaluation.evaluate import FRONTIER, evaluate, explain

NOW = T0 + timedelta(days=1)


def verdicts(t, s, now=NOW, known=()):  # type: ignore[no-untyped-def]
    return {e.subject: e for e in evaluate(t, s, now, known)}


def test_breached_warning_and_ok_per_model() -> None:
    t = threshold()
    got = verdicts(t, series(obs("a", 0.7), obs("b", 0.45), obs("c", 0.1)))
    assert got["a"].verdict is Verdict.BREACHED and got["a"].value == 0.7
    assert explain(t, got["a"]) == "0.7 >= 0.5"
    assert explain(t, got["c"]) == "0.1 not >= 0.5"
    assert got["b"].verdict is Verdict.WARNING
    assert got["c"].verdict is Verdict.OK


def test_newest_observation_decides_and_confirmations_count_consecutive_breaches() -> None:
    t = threshold(**{"for": 3})
    s = series(obs("a", 0.9, 1), obs("a", 0.2, 2), obs("a", 0.6, 3), obs("a", 0.8, 4))
    (e,) = evaluate(t, s, NOW)
    assert e.verdict is Verdict.BREACHED and e.value == 0.8
    assert e.confirmations == 2  # 0.8 and 0.6; the 0.2 breaks the run
    assert [o.value for o in e.evidence] == [0.8, 0.6]


def test_lower_is_more_capable_when_op_is_less_than() -> None:
    t = threshold(when={"op": "<=", "value": 10}, warn_at=20, scope="frontier")
    (e,) = evaluate(t, series(obs("a", 30), obs("b", 15), obs("c", 25)), NOW)
    assert e.subject == FRONTIER and e.value == 15 and e.verdict is Verdict.WARNING
    assert explain(t, e) == "best model: b; 15 <= warn_at 20"


def test_frontier_picks_the_best_model() -> None:
    t = threshold(scope="frontier")
    (e,) = evaluate(t, series(obs("a", 0.3), obs("b", 0.55), obs("c", 0.2)), NOW)
    assert (e.subject, e.verdict, e.value) == (FRONTIER, Verdict.BREACHED, 0.55)
    assert e.evidence[0].subject == "b"


def test_no_evidence_is_unknown_never_ok() -> None:
    t = threshold(scope="frontier")
    (e,) = evaluate(t, {}, NOW)
    assert e.verdict is Verdict.UNKNOWN
    got = verdicts(threshold(), {}, known=["gone-model"])
    assert got["gone-model"].verdict is Verdict.UNKNOWN


def test_stale_evidence_is_unknown() -> None:
    t = threshold(stale_after=3600)
    s = series(obs("old", 0.9, 0), obs("new", 0.9, 24 * 60 - 5))
    got = verdicts(t, s)
    assert got["old"].verdict is Verdict.UNKNOWN and "stale_after" in got["old"].reason
    assert got["new"].verdict is Verdict.BREACHED
    (f,) = evaluate(threshold(stale_after=60, scope="frontier"), s, NOW + timedelta(days=1))
    assert f.verdict is Verdict.UNKNOWN


values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), values, st.integers(0, 2000)), max_size=12
    ),
    stale=st.none() | st.integers(1, 3000),
    scope=st.sampled_from(["per_model", "frontier"]),
)
def test_missing_or_stale_data_never_yields_ok(points, stale, scope) -> None:  # type: ignore[no-untyped-def]
    t = threshold(stale_after=stale, scope=scope)
    s = series(*(obs(subj, v, m) for subj, v, m in points))
    now = T0 + timedelta(minutes=2000)
    for e in evaluate(t, s, now, ["a", "b", "c", "zz"]):
        if e.verdict in (Verdict.OK, Verdict.WARNING, Verdict.BREACHED):
            newest = e.evidence[0]
            assert stale is None or newest.observed_at >= now - timedelta(seconds=stale)
        else:
            assert e.verdict is Verdict.UNKNOWN and not e.evidence


MODELS = {
    "open/a": ModelSpec(id="open/a", organisation="Open Lab", open_weights=True),
    "open/b": ModelSpec(id="open/b", organisation="Open Lab", open_weights=True),
    "closed/c": ModelSpec(id="closed/c", organisation="Closed Lab", open_weights=False),
}


def test_open_weights_frontier_is_the_best_open_model() -> None:
    t = threshold(scope="open_weights_frontier")
    s = series(obs("open/a", 0.3), obs("open/b", 0.45), obs("closed/c", 0.9), obs("unknown", 0.95))
    (e,) = evaluate(t, s, NOW, (), MODELS)
    assert (e.subject, e.value, e.verdict) == ("open_weights_frontier", 0.45, Verdict.WARNING)
    assert explain(t, e) == "best model: open/b; 0.45 >= warn_at 0.4"
    (none,) = evaluate(t, series(obs("closed/c", 0.9)), NOW, (), MODELS)
    assert none.verdict is Verdict.UNKNOWN and "in scope" in none.reason


def test_organisation_filters_any_scope() -> None:
    per_model = threshold(organisation="Open Lab")
    s = series(obs("open/a", 0.7), obs("closed/c", 0.9), obs("unknown", 0.95))
    assert {e.subject for e in evaluate(per_model, s, NOW, (), MODELS)} == {"open/a"}
    frontier = threshold(organisation="Closed Lab", scope="frontier")
    (e,) = evaluate(frontier, s, NOW, (), MODELS)
    assert (e.subject, e.value) == ("frontier", 0.9)


def point(
    subject: str,
    value: float,
    stderr: float | None = None,
    n: int | None = None,
    minutes: float = 0,
):  # type: ignore[no-untyped-def]
    return obs(subject, value, minutes)._replace(stderr=stderr, n=n)


def test_confidence_breaches_only_when_the_lower_bound_clears() -> None:
    t = threshold(confidence=0.95)  # >= 0.5, warn_at 0.4; z = 1.96
    got = verdicts(
        t, series(point("sure", 0.7, 0.05), point("unsure", 0.6, 0.1), point("no-se", 0.55))
    )
    assert got["sure"].verdict is Verdict.BREACHED  # 0.7 - 0.098 = 0.602
    assert got["unsure"].verdict is Verdict.WARNING  # 0.6 - 0.196 = 0.404 < 0.5; point >= 0.4
    assert got["no-se"].verdict is Verdict.BREACHED  # missing_uncertainty: point (default)
    assert explain(t, got["sure"]) == "0.7 ± 0.05: lower 0.95 bound 0.602002 >= 0.5"
    assert explain(t, got["unsure"]).startswith("0.6 ± 0.1: lower 0.95 bound 0.404004 not >= 0.5")
    lower = threshold(confidence=0.95, when={"op": "<=", "value": 10}, warn_at=20)
    (e,) = evaluate(lower, series(point("m", 8, 0.5)), NOW)
    assert e.verdict is Verdict.BREACHED  # upper bound 8.98 <= 10
    (e,) = evaluate(lower, series(point("m", 8, 2)), NOW)
    assert e.verdict is Verdict.WARNING  # upper bound 11.9


def test_missing_uncertainty_ignore_and_min_samples_drop_evidence() -> None:
    t = threshold(confidence=0.9, missing_uncertainty="ignore")
    got = verdicts(t, series(point("no-se", 0.9), point("se", 0.9, 0.01)))
    assert got["no-se"].verdict is Verdict.UNKNOWN and "stderr" in got["no-se"].reason
    assert got["se"].verdict is Verdict.BREACHED
    few = threshold(min_samples=100)
    got = verdicts(
        few, series(point("small", 0.9, n=5), point("big", 0.9, n=500), point("unknown-n", 0.9))
    )
    assert got["small"].verdict is Verdict.UNKNOWN and "min_samples (100)" in got["small"].reason
    assert got["unknown-n"].verdict is Verdict.UNKNOWN
    assert got["big"].verdict is Verdict.BREACHED
    # the newest small run does not hide an older run that has enough samples
    mixed = series(point("m", 0.9, n=500, minutes=1), point("m", 0.1, n=3, minutes=2))
    (e,) = evaluate(few, mixed, NOW)
    assert e.verdict is Verdict.BREACHED and e.value == 0.9


def test_a_silent_feed_s_evidence_does_not_count_and_only_its_own() -> None:
    t = threshold()
    s = series(obs("m", 0.9, 0)._replace(feed="slow"), obs("n", 0.9, 0)._replace(feed="fresh"))
    later = T0 + timedelta(hours=2)
    got = {e.subject: e for e in evaluate(t, s, later, (), None, {"slow"})}
    assert got["m"].verdict is Verdict.UNKNOWN
    assert "succeeded within its stale_after (silent: slow)" in got["m"].reason
    assert got["n"].verdict is Verdict.BREACHED
    (f,) = evaluate(threshold(scope="frontier"), series(obs("m", 0.9, 0)._replace(feed="slow")),
                    later, (), None, {"slow"})  # fmt: skip
    assert f.verdict is Verdict.UNKNOWN and "(silent: slow)" in f.reason


def test_a_feed_is_silent_once_it_has_gone_its_stale_after_without_success() -> None:
    from warden.evaluation.evaluate import FeedRuns, silent_feeds

    hour = timedelta(hours=1)
    runs = {
        "ok": FeedRuns(T0, T0 + 3 * hour),  # succeeded an hour ago
        "late": FeedRuns(T0, T0),  # last success four hours ago
        "never_ok": FeedRuns(T0 + 2 * hour, None),  # failing for two hours, never succeeded
        "young": FeedRuns(T0 + 3 * hour, None),  # failing for an hour
    }
    stale = {"ok": 7200.0, "late": 7200.0, "never_ok": 7200.0, "young": 7200.0, "unrun": 60.0}
    assert silent_feeds(stale, runs, T0 + 4 * hour) == {"late", "never_ok"}

"""Variants and maximum elicitation: a model's runs at several settings (Epoch's effort
suffixes, scaffolds) are one subject; a threshold reads its most capable variant, and the alert
names the variant and the run that decided.

The first tests are pure evaluation; the last ones ingest an Epoch hub file (the project's own,
in the real file's shape) into a real store (SQLite, and PostgreSQL when
WARDEN_TEST_DATABASE_URL is set) and run the evaluation cycle on it."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.epoch_benchmarks import EpochBenchmarks
from tests.support.factories import T0, obs, series, threshold
from thresholds import bundled_registry
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog, Threshold, load_catalog
from warden.core.model import Point, State, Verdict
from warden.core.notification import Notification
from warden.delivery.sinks.render import view
from warden.evaluation.evaluate import FRONTIER, evaluate, evaluate_threshold, explain
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store, alerts
from warden.store import observations as obs_rows

NOW = T0 + timedelta(days=1)


def run(subject: str, variant: str, value: float, minutes: float, **kw: float) -> Point:
    return obs(subject, value, minutes)._replace(variant=variant, **kw)


def efforts(medium_last: bool = True) -> list[Point]:
    """acme at medium 0.6, high 0.75 and xhigh 0.85; the medium run is the newest."""
    return [
        run("acme", "xhigh", 0.85, 1),
        run("acme", "high", 0.75, 2),
        run("acme", "medium", 0.6, 3 if medium_last else 0),
    ]


def test_the_most_capable_variant_decides_not_the_newest_run() -> None:
    t = threshold(when={"value": 0.8}, warn_at=0.7)
    (e,) = evaluate(t, series(*efforts()), NOW)
    assert (e.subject, e.verdict, e.value) == ("acme", Verdict.BREACHED, 0.85)
    assert [(p.variant, p.value) for p in e.evidence] == [("xhigh", 0.85)]
    assert explain(t, e) == "0.85 >= 0.8 (variant xhigh)"


def test_lower_is_more_capable_for_a_less_than_condition() -> None:
    t = threshold(when={"op": "<=", "value": 10}, warn_at=20)
    s = series(run("m", "a", 30, 1), run("m", "b", 15, 2), run("m", "c", 25, 3))
    (e,) = evaluate(t, s, NOW)
    assert (e.verdict, e.value, e.evidence[0].variant) == (Verdict.WARNING, 15, "b")
    assert explain(t, e) == "15 <= warn_at 20 (variant b)"


def test_a_newer_run_of_a_variant_replaces_its_older_run_only() -> None:
    t = threshold(when={"value": 0.8}, warn_at=0.7)
    # xhigh was re-run: 0.78 now, not 0.85; high and medium still count as they were.
    (e,) = evaluate(t, series(*efforts(), run("acme", "xhigh", 0.78, 4)), NOW)
    assert (e.verdict, e.value, e.evidence[0].variant) == (Verdict.WARNING, 0.78, "xhigh")
    (e,) = evaluate(t, series(*efforts(), run("acme", "xhigh", 0.5, 4)), NOW)
    assert (e.verdict, e.value, e.evidence[0].variant) == (Verdict.WARNING, 0.75, "high")


def test_confirmations_count_within_one_variant() -> None:
    t = threshold(when={"value": 0.8}, **{"for": 2})
    s = series(
        run("m", "high", 0.82, 1),
        run("m", "xhigh", 0.7, 2),
        run("m", "high", 0.81, 3),
        run("m", "xhigh", 0.9, 4),
    )
    (e,) = evaluate(t, s, NOW)
    # xhigh's newest is higher, but only high has met the condition twice in a row.
    assert (e.verdict, e.confirmations, e.value) == (Verdict.BREACHED, 2, 0.81)
    assert [(p.variant, p.value) for p in e.evidence] == [("high", 0.81), ("high", 0.82)]


def test_a_confidence_level_compares_each_variants_bound() -> None:
    t = threshold(when={"value": 0.8}, warn_at=0.7, confidence=0.95)
    s = series(run("m", "xhigh", 0.85, 1, stderr=0.1), run("m", "high", 0.83, 2, stderr=0.01))
    (e,) = evaluate(t, s, NOW)
    assert (e.verdict, e.value, e.evidence[0].variant) == (Verdict.BREACHED, 0.83, "high")
    assert explain(t, e).endswith("(variant high)")


def test_equal_variants_choose_the_first_by_name_whatever_the_order() -> None:
    t = threshold()
    forward = series(run("m", "b", 0.6, 1), run("m", "a", 0.6, 2))
    backward = series(run("m", "a", 0.6, 1), run("m", "b", 0.6, 2))
    assert evaluate(t, forward, NOW)[0].evidence[0].variant == "a"
    assert evaluate(t, backward, NOW)[0].evidence[0].variant == "a"


def test_frontier_takes_the_best_variant_of_the_best_model() -> None:
    t = threshold(when={"value": 0.8}, scope="frontier")
    s = series(*efforts(), run("beta", "", 0.82, 5))
    (e,) = evaluate(t, s, NOW)
    assert (e.subject, e.value, e.evidence[0].subject) == (FRONTIER, 0.85, "acme")
    assert explain(t, e) == "best model: acme; 0.85 >= 0.8 (variant xhigh)"


def test_a_combination_judges_each_condition_on_the_most_capable_variant() -> None:
    base = threshold().model_dump(by_alias=True, mode="json", exclude={"when", "warn_at"})
    parts = [
        {"benchmark": "bench", "metric": "acc", "op": ">=", "value": 0.8},
        {"benchmark": "other", "metric": "acc", "op": ">=", "value": 0.5},
    ]
    t = Threshold.model_validate({**base, "when": {"all": parts}})
    evidence = {
        ("bench", "acc"): series(*efforts()),
        ("other", "acc"): series(run("acme", "scaffold-x", 0.55, 1)),
    }
    (e,) = evaluate_threshold(t, evidence, NOW)
    assert e.verdict is Verdict.BREACHED
    assert e.reason == (
        "2 of 2 met (all): bench/acc 0.85 >= 0.8 (variant xhigh); "
        "other/acc 0.55 >= 0.5 (variant scaffold-x)"
    )
    assert {(p.variant, p.value) for p in e.evidence} == {("xhigh", 0.85), ("scaffold-x", 0.55)}


def test_a_stale_variant_does_not_count_and_a_fresh_weaker_one_does() -> None:
    t = threshold(when={"value": 0.8}, warn_at=0.7, stale_after=3600)
    s = series(run("m", "xhigh", 0.9, 0), run("m", "high", 0.75, 24 * 60 - 5))
    (e,) = evaluate(t, s, NOW)
    assert (e.verdict, e.value, e.evidence[0].variant) == (Verdict.WARNING, 0.75, "high")


def test_results_without_variants_read_as_before() -> None:
    t = threshold()
    s = series(obs("a", 0.9, 1), obs("a", 0.2, 2))
    (e,) = evaluate(t, s, NOW)
    assert (e.verdict, e.value) == (Verdict.OK, 0.2)
    assert explain(t, e) == "0.2 not >= 0.5"


# -- through the store and the cycle ------------------------------------------------------------
HEADER = (
    "Model version,mean_score,Best score (across scorers),Release date,Organization,Country,"
    "Training compute (FLOP),Training compute notes,stderr,Log viewer,Logs,Started at,id"
)


def hub_row(version: str, score: float, started: str, run_id: str) -> str:
    return f"{version},{score},{score},2026-01-15,Acme AI,US,,,0.02,,,{started},{run_id}"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 23, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def ingest(store: Store, folder: Path, clock: Clock, *rows: str) -> None:
    (folder / "gpqa_diamond.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    result = run_feed(store, "epoch", EpochBenchmarks({"source": str(folder)}), Cursor(), clock)
    assert result.error is None and result.rejected == 0


def test_the_alert_fires_on_the_xhigh_run_and_names_it(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    rows = [
        hub_row("acme-large-2026-01-15_xhigh", 0.85, "2026-01-20T10:00:00Z", "run-xhigh"),
        hub_row("acme-large-2026-01-15_high", 0.75, "2026-01-21T10:00:00Z", "run-high"),
        hub_row("acme-large-2026-01-15_medium", 0.6, "2026-01-22T10:00:00Z", "run-medium"),
    ]
    ingest(store, tmp_path, clock, *rows)
    t = threshold(when={"benchmark": "gpqa_diamond", "metric": "mean_score", "value": 0.8})
    t = t.model_copy(update={"warn_at": 0.7})
    catalog = Catalog((t,))
    first = run_cycle(store, catalog, ["hook"], clock)
    (transition,) = [tr for _, tr in first.transitions]
    # One model, not three: the medium run is the newest, the xhigh run decides.
    assert (transition.subject, transition.to_state) == ("acme-large-2026-01-15", State.FIRING)
    with store.read() as conn:
        (entry,) = alerts.entries(conn)
    (evidence,) = entry.body["evidence"]
    assert (evidence["model"], evidence["value"]) == ("acme-large-2026-01-15", 0.85)
    assert (evidence["variant"], evidence["run_id"], evidence["record"]) == (
        "xhigh",
        "run-xhigh",
        "2",
    )
    assert entry.body["reason"] == "0.85 >= 0.8 (variant xhigh)"
    # What the sinks render from: the reason names the variant, the evidence its run.
    trigger = json.loads(entry.content)
    shown = view(Notification("k", "hook", entry.seq, entry.hash, trigger))
    assert "variant xhigh" in shown.reason
    assert shown.evidence[0].value.startswith("0.85")

    # A newer xhigh run (0.78) replaces the older xhigh run only: the model is now in the
    # warning band on it, while the high and medium runs still count as they were.
    clock.now += timedelta(days=2)
    newer = hub_row("acme-large-2026-01-15_xhigh", 0.78, "2026-01-24T10:00:00Z", "run-xhigh-2")
    ingest(store, tmp_path, clock, *rows, newer)
    second = run_cycle(store, catalog, ["hook"], clock)
    (transition,) = [tr for _, tr in second.transitions]
    assert transition.to_state is State.WARNING
    assert transition.evaluation.value == 0.78
    with store.read() as conn:
        last = list(alerts.entries(conn))[-1]
    assert [(e["variant"], e["run_id"]) for e in last.body["evidence"]] == [
        ("xhigh", "run-xhigh-2")
    ]


@pytest.mark.realdata
def test_real_epoch_runs_are_judged_at_their_most_capable_effort(
    store: Store, samples: Path, tmp_path: Path
) -> None:
    """Epoch's GPQA Diamond file: Claude Opus 4.5 ran at no budget (0.807), 32K (0.860) and,
    last, 16K (0.855). With `>= 0.86` the newest run would say no; the 32K run says yes."""
    shutil.copy(samples / "epoch" / "benchmark_data" / "gpqa_diamond.csv", tmp_path)
    registry = load_catalog([], [bundled_registry()]).registry
    clock = Clock()
    connector = EpochBenchmarks({"source": str(tmp_path)})
    result = run_feed(store, "epoch", connector, Cursor(), clock, registry)
    assert (result.ingested, result.rejected) == (145, 0)
    t = threshold(when={"benchmark": "gpqa_diamond", "metric": "accuracy", "value": 0.86})
    with store.read() as conn:
        found = obs_rows.series(conn, [("gpqa_diamond", "accuracy")], 1)
    opus = found[("gpqa_diamond", "accuracy")]["anthropic/claude-opus-4.5"]
    assert sorted(p.variant for p in opus) == ["", "16K", "32K"]
    first = run_cycle(store, Catalog((t,)), ["hook"], clock)
    fired = {tr.subject: tr for _, tr in first.transitions if tr.to_state is State.FIRING}
    assert "anthropic/claude-opus-4.5" in fired
    with store.read() as conn:
        entries = list(alerts.entries(conn))
    (entry,) = [e for e in entries if e.subject == "anthropic/claude-opus-4.5"]
    (evidence,) = entry.body["evidence"]
    assert (evidence["variant"], evidence["run_id"]) == ("32K", "Kwwo3UFcPDk6iLAeSeeRaa")
    assert evidence["value"] == pytest.approx(0.860479797979798)
    assert entry.body["reason"].endswith("(variant 32K)")
    # GPT-5.2 fires on its xhigh run; each model is one subject, whatever its efforts.
    assert fired["openai/gpt-5.2"].evaluation.evidence[0].variant == "xhigh"
    assert not any(s.endswith(("_high", "_xhigh", "_16K", "_32K")) for s in fired)

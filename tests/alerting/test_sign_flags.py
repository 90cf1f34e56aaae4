"""A result a sign of under-elicitation flags is never read as the model's capability without
saying so (issue 20, item 3): a capability threshold of the same cycle that rests on that very
result says, in its explanation and in the trigger log, that the result is flagged and by which
sign; its verdict is unchanged (it is still the evidence there is). Through the store and the
cycle, on SQLite, and PostgreSQL when WARDEN_TEST_DATABASE_URL is set."""

from __future__ import annotations

from datetime import timedelta

from tests.alerting.test_elicitation_signs import REGISTRY, T0, put, threshold
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.model import Verdict
from warden.store import Store, alerts

FLAG = "flagged as possible under-elicitation by elicitation.bench.{rule} ({rule})"


def capability(value: float) -> Threshold:
    return Threshold.model_validate(
        {
            "id": "cap.bench",
            "title": "bench at the level",
            "domain": "general",
            "level": "high",
            "sources": [{"title": "Source", "url": "https://example.org/"}],
            "when": {"benchmark": "bench", "metric": "acc", "op": ">=", "value": value},
            "then": {"severity": "warning"},
        }
    )


def reasons(
    store: Store, *ts: Threshold, at: int = 0
) -> dict[tuple[str, str], tuple[Verdict, str]]:
    catalog = Catalog(ts, registry=REGISTRY)
    result = run_cycle(store, catalog, ["hook"], lambda: T0 + timedelta(days=at))
    explained = dict(result.transitions)
    return {
        (e.threshold, e.subject): (e.verdict, e.reason or explained.get(e.threshold, ""))
        for e in result.evaluations
    }


def test_a_capability_reading_on_a_result_below_its_predecessor_says_it_is_flagged(
    store: Store,
) -> None:
    put(store, "epoch", "acme/big-1", 0.85, 0.02, 40)
    put(store, "epoch", "acme/big-2", 0.60, 0.02, 5)  # far below big-1
    sign, cap = threshold("predecessor_drop", drop=0.05, z=2), capability(0.8)
    out = reasons(store, sign, cap)
    assert out[(sign.id, "acme/big-2")][0] is Verdict.BREACHED
    verdict, reason = out[(cap.id, "acme/big-2")]
    assert verdict is Verdict.OK  # still decided on the evidence there is ...
    assert reason.startswith("0.6 not >= 0.8")  # ... with the comparison ...
    assert FLAG.format(rule="predecessor_drop") in reason  # ... and the doubt beside it
    verdict, reason = out[(cap.id, "acme/big-1")]
    assert verdict is Verdict.BREACHED and "flagged" not in reason


def test_an_alert_resolved_by_a_run_on_fewer_samples_says_the_run_is_flagged(
    store: Store,
) -> None:
    sign, cap = threshold("elicitation_drop", drop=0.05, z=2), capability(0.8)
    put(store, "inspect", "acme/big-2", 0.90, 0.01, 10, measured_by="own", n=500)
    assert reasons(store, sign, cap)[(cap.id, "acme/big-2")][0] is Verdict.BREACHED
    # A later run of the same model on a tenth of the samples, far lower: it resolves the
    # capability alert, and the resolution carries the flag into the trigger log.
    put(store, "inspect", "acme/big-2", 0.50, 0.05, 1, measured_by="own", n=50)
    out = reasons(store, sign, cap)
    assert out[(sign.id, "acme/big-2")][0] is Verdict.BREACHED
    verdict, reason = out[(cap.id, "acme/big-2")]
    assert verdict is Verdict.OK and FLAG.format(rule="elicitation_drop") in reason
    with store.read() as conn:
        logged = [e.body for e in alerts.entries(conn) if e.body.get("threshold") == cap.id]
    assert [b["to"] for b in logged] == ["firing", "resolved"]
    assert FLAG.format(rule="elicitation_drop") in logged[-1]["reason"]
    assert "flagged" not in logged[0]["reason"]


def test_without_a_sign_in_the_cycle_nothing_is_flagged(store: Store) -> None:
    put(store, "epoch", "acme/big-1", 0.85, 0.02, 40)
    put(store, "epoch", "acme/big-2", 0.60, 0.02, 5)
    cap = capability(0.8)
    out = reasons(store, cap)
    assert out[(cap.id, "acme/big-2")] == (Verdict.OK, "")

"""Signs of under-elicitation through the store and the evaluation cycle, on constructed series:
each rule fires outside the uncertainty and not inside it; the predecessor is found by the
registry's family and release date; a model with nothing to compare with gets no verdict. The
sign is logged with both points (who measured each, its source and date). On SQLite, and
PostgreSQL when WARDEN_TEST_DATABASE_URL is set."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest

from warden.alerting.cycle import run_cycle
from warden.alerting.state import advance
from warden.catalog.definitions import stored as stored_definitions
from warden.catalog.registry import ModelSpec, Registry
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.model import Observation, State, Verdict
from warden.core.notification import Notification, TriggerContent
from warden.delivery.sinks.render import view
from warden.store import Store, alerts
from warden.store import definitions as definition_rows
from warden.store import observations as obs_rows
from warden.triggerlog import replay as replaying

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def clock() -> datetime:
    return T0


def threshold(rule: str, **params: Any) -> Threshold:
    return Threshold.model_validate(
        {
            "id": f"elicitation.bench.{rule}",
            "title": "Sign on bench",
            "domain": "evidence",
            "level": "early_warning",
            "sources": [{"title": "Source", "url": "https://example.org/"}],
            "when": {"sign": {"rule": rule, "benchmark": "bench", "metric": "acc", **params}},
            "then": {"severity": "info", "labels": {"alert": "elicitation_sign"}},
        }
    )


def model(id_: str, family: str | None, released: date | None) -> ModelSpec:
    return ModelSpec(id=id_, organisation="Acme", release_date=released, family=family)


REGISTRY = Registry(
    models={
        m.id: m
        for m in (
            model("acme/big-1", "big", date(2025, 1, 1)),
            model("acme/big-2", "big", date(2025, 6, 1)),
            model("acme/big-3", "big", date(2025, 9, 1)),
            model("acme/small-2", "small", date(2025, 7, 1)),  # another line: never compared
            model("acme/loner", None, date(2025, 8, 1)),
        )
    }
)


def put(
    store: Store,
    feed: str,
    subject: str,
    value: float,
    stderr: float | None,
    days: float,
    measured_by: str = "independent",
    n: int | None = None,
    variant: str = "",
) -> None:
    """One result `days` before T0."""
    attributes: dict[str, Any] = {"measured_by": measured_by}
    if variant:
        attributes["variant"] = variant
    row = Observation(
        subject, "bench", "acc", value, T0 - timedelta(days=days),
        f"{feed}-{subject}-{value}-{days}-{variant}", f"https://{feed}.example.org/{subject}",
        "0" * 64, stderr, n, attributes,
    )  # fmt: skip
    with store.write() as conn:
        obs_rows.insert_observations(conn, feed, [row], T0)


def cycle(store: Store, t: Threshold) -> dict[str, tuple[Verdict, str]]:
    result = run_cycle(store, Catalog((t,), registry=REGISTRY), ["hook"], clock)
    return {e.subject: (e.verdict, e.reason) for e in result.evaluations}


def test_a_model_far_below_its_predecessor_is_a_sign_with_both_points_logged(
    store: Store,
) -> None:
    put(store, "epoch", "acme/big-1", 0.60, 0.02, 40)
    put(store, "epoch", "acme/big-2", 0.80, 0.02, 30, variant="high")
    put(store, "epoch", "acme/big-2", 0.70, 0.02, 30, variant="low")
    put(store, "epoch", "acme/big-3", 0.62, 0.02, 5)  # 0.18 below big-2's best variant
    put(store, "epoch", "acme/small-2", 0.30, 0.02, 5)  # below big-1, but of another family
    put(store, "epoch", "acme/loner", 0.10, 0.02, 5)  # no family: nothing to compare with
    t = threshold("predecessor_drop", drop=0.05, z=2)
    verdicts = cycle(store, t)
    # big-1 is the first of its line and small-2 the only one of its own: no verdict.
    assert set(verdicts) == {"acme/big-2", "acme/big-3"}
    assert verdicts["acme/big-2"][0] is Verdict.OK  # above big-1
    verdict, reason = verdicts["acme/big-3"]
    assert verdict is Verdict.BREACHED
    assert reason.startswith("possible under-elicitation (predecessor_drop): acme/big-3 ")
    assert "its predecessor in family big acme/big-2 independent 0.8 ± 0.02 (variant high)" in (
        reason
    )
    with store.read() as conn:
        (entry,) = list(alerts.entries(conn))
    sides = [
        (e["model"], e["value"], e.get("variant"), e["source"], e["observed_at"][:10])
        for e in entry.body["evidence"]
    ]
    assert sides == [
        ("acme/big-3", 0.62, None, "https://epoch.example.org/acme/big-3", "2026-02-24"),
        ("acme/big-2", 0.80, "high", "https://epoch.example.org/acme/big-2", "2026-01-30"),
    ]
    assert entry.body["labels"]["alert"] == "elicitation_sign"
    # Worded for people: the drop is no measurement of the model against a level.
    alert = view(Notification("", "", entry.seq, entry.hash, cast("TriggerContent", entry.body)))
    assert alert.measurements == ()
    assert alert.reason.startswith("possible under-elicitation (predecessor_drop)")
    # Replayed months later from the store: the same verdict, the predecessor found again.
    with store.write() as conn:  # as the daemon keeps each version's definition
        definition_rows.save(conn, stored_definitions([t]), T0)
        inputs = replaying.gather(conn, entry.seq)
    replayed = replaying.replay(inputs, models=REGISTRY.models, advance=advance)
    assert replayed.reproduced, replayed.differences


@pytest.mark.parametrize(
    ("newer", "stderr", "verdict"),
    [
        (0.74, 0.02, Verdict.BREACHED),  # 0.06 > drop and 2.1 combined stderrs
        (0.76, 0.02, Verdict.OK),  # 0.04: within the drop
        (0.74, 0.03, Verdict.OK),  # 0.06 but 1.4 combined stderrs: inside the uncertainty
        (0.74, None, Verdict.BREACHED),  # no stderr: the drop decides
        (0.90, 0.02, Verdict.OK),  # above it
    ],
)
def test_predecessor_drop_fires_outside_the_uncertainty_only(
    store: Store, newer: float, stderr: float | None, verdict: Verdict
) -> None:
    put(store, "epoch", "acme/big-2", 0.80, stderr, 30)
    put(store, "epoch", "acme/big-3", newer, stderr, 5)
    assert cycle(store, threshold("predecessor_drop", drop=0.05, z=2))["acme/big-3"][0] is verdict


def test_the_predecessor_is_the_newest_one_released_before_with_a_result(store: Store) -> None:
    # big-2 has no result here: big-3's predecessor is big-1, the newest released before it.
    put(store, "epoch", "acme/big-1", 0.80, 0.01, 1)
    put(store, "epoch", "acme/big-3", 0.70, 0.01, 40)  # run earlier, but released later
    verdicts = cycle(store, threshold("predecessor_drop", drop=0.05))
    assert verdicts["acme/big-3"][0] is Verdict.BREACHED
    assert "its predecessor in family big acme/big-1" in verdicts["acme/big-3"][1]
    assert "acme/big-1" not in verdicts  # the first of its line has none
    # Once big-2 has a result, it is the predecessor (newer than big-1) and big-3 is above it.
    put(store, "epoch", "acme/big-2", 0.68, 0.01, 1)
    verdicts = cycle(store, threshold("predecessor_drop", drop=0.05))
    assert verdicts["acme/big-3"][0] is Verdict.OK
    assert "its predecessor in family big acme/big-2" in verdicts["acme/big-3"][1]
    assert verdicts["acme/big-2"][0] is Verdict.BREACHED  # 0.12 below big-1


@pytest.mark.parametrize(
    ("n_newest", "newest", "verdict"),
    [
        (50, 0.60, Verdict.BREACHED),  # a sample limit and 0.15 lower: a sign
        (50, 0.73, Verdict.OK),  # a sample limit, but inside the uncertainty
        (198, 0.60, Verdict.OK),  # as many samples: a real change, not weaker elicitation
        (None, 0.60, Verdict.UNKNOWN),  # no sample count: cannot tell
    ],
)
def test_a_newer_run_on_fewer_samples_scoring_lower_is_a_sign(
    store: Store, n_newest: int | None, newest: float, verdict: Verdict
) -> None:
    put(store, "own", "acme/loner", 0.75, 0.03, 10, measured_by="own", n=198)
    put(store, "own", "acme/loner", newest, 0.06, 1, measured_by="own", n=n_newest)
    put(store, "epoch", "acme/big-1", 0.5, 0.03, 10)  # one run only: no verdict
    verdicts = cycle(store, threshold("elicitation_drop", drop=0.05, z=2))
    assert set(verdicts) == {"acme/loner"}
    assert verdicts["acme/loner"][0] is verdict
    if verdict is Verdict.BREACHED:
        assert "fewer samples (n 50 < 198)" in verdicts["acme/loner"][1]


def test_elicitation_drop_compares_runs_of_one_variant_and_measurer(store: Store) -> None:
    put(store, "epoch", "acme/loner", 0.80, 0.02, 10, variant="high", n=198)
    put(store, "own", "acme/loner", 0.50, 0.02, 1, measured_by="own", variant="high", n=50)
    put(store, "epoch", "acme/loner", 0.60, 0.02, 1, variant="low", n=50)
    assert cycle(store, threshold("elicitation_drop", drop=0.05)) == {}


@pytest.mark.parametrize(
    ("vendor", "independent", "verdict"),
    [
        ((0.90, 0.01), (0.80, 0.02), Verdict.BREACHED),  # 4.5 combined stderrs below
        ((0.90, 0.01), (0.87, 0.02), Verdict.OK),  # 1.3: inside the uncertainty
        ((0.80, 0.01), (0.90, 0.02), Verdict.OK),  # above the vendor: a conflict, not a sign
        ((0.90, None), (0.80, 0.02), Verdict.BREACHED),  # no stderr: the tolerance decides
        ((0.90, None), (0.87, 0.02), Verdict.OK),
    ],
)
def test_an_independent_result_far_below_the_vendors_is_a_sign(
    store: Store,
    vendor: tuple[float, float | None],
    independent: tuple[float, float | None],
    verdict: Verdict,
) -> None:
    put(store, "cards", "acme/loner", *vendor, 1, measured_by="vendor")
    put(store, "epoch", "acme/loner", *independent, 3)
    put(store, "epoch", "acme/big-1", 0.5, 0.02, 3)  # no vendor number: no verdict
    verdicts = cycle(store, threshold("below_vendor", z=3, tolerance=0.05))
    assert set(verdicts) == {"acme/loner"}
    assert verdicts["acme/loner"][0] is verdict


def test_a_sign_resolves_when_the_model_is_run_again_at_full_elicitation(store: Store) -> None:
    t = threshold("below_vendor", z=3, tolerance=0.05)
    catalog = Catalog((t,), registry=REGISTRY)
    put(store, "cards", "acme/loner", 0.90, 0.01, 5, measured_by="vendor")
    put(store, "epoch", "acme/loner", 0.70, 0.02, 3)
    fired = run_cycle(store, catalog, ["hook"], clock)
    assert [tr.to_state for _, tr in fired.transitions] == [State.FIRING]
    put(store, "epoch", "acme/loner", 0.89, 0.02, 1)
    again = run_cycle(store, catalog, ["hook"], clock)
    assert [tr.to_state for _, tr in again.transitions] == [State.RESOLVED]

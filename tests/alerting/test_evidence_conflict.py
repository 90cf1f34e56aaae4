"""Evidence conflicts through the store and the evaluation cycle: routed, grouped and logged
like any alert, with both sides (who measured each, its source and date) in the trigger log;
thresholds choosing their evidence read it from the store. On SQLite, and PostgreSQL when
WARDEN_TEST_DATABASE_URL is set; the last test uses Epoch's real SWE-bench Verified file."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.epoch_benchmarks import EpochBenchmarks
from thresholds import bundled_catalog, bundled_registry
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog, Threshold, load_catalog
from warden.core.model import Observation, State
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store, alerts
from warden.store import observations as obs_rows

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def threshold(when: dict[str, Any], **extra: Any) -> Threshold:
    return Threshold.model_validate(
        {
            "id": "evidence.bench.conflict",
            "title": "Evidence conflict on bench",
            "domain": "evidence",
            "level": "early_warning",
            "sources": [{"title": "Source", "url": "https://example.org/"}],
            "when": when,
            "then": {"severity": "info"},
            **extra,
        }
    )


def put(store: Store, feed: str, *items: tuple[str, str, float, float | None, int]) -> None:
    """(subject, measured_by, value, stderr, days before T0) each."""
    rows = [
        Observation(
            s,
            "bench",
            "acc",
            v,
            T0 - timedelta(days=d),
            f"{feed}-{s}-{m}-{v}",
            f"https://{feed}.example.org/{s}",
            "0" * 64,
            se,
            attributes={"measured_by": m},
        )
        for s, m, v, se, d in items
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, feed, rows, T0)


def test_a_conflict_fires_with_both_sides_in_the_trigger_log(store: Store) -> None:
    put(store, "cards", ("m", "vendor", 0.95, 0.01, 1), ("n", "vendor", 0.71, 0.02, 1))
    put(store, "epoch", ("m", "independent", 0.70, 0.02, 3), ("n", "independent", 0.70, 0.02, 3))
    t = threshold({"conflict": {"benchmark": "bench", "metric": "acc", "z": 3}})
    result = run_cycle(store, Catalog((t,)), ["hook"], Clock())
    fired = {tr.subject: tr.to_state for _, tr in result.transitions}
    assert fired == {"m": State.FIRING}  # n agrees within its uncertainty: no alert
    with store.read() as conn:
        (entry,) = list(alerts.entries(conn))
    sides = [
        (e["measured_by"], e["value"], e["source"], e["observed_at"][:10])
        for e in entry.body["evidence"]
    ]
    assert sides == [
        ("vendor", 0.95, "https://cards.example.org/m", "2026-02-28"),
        ("independent", 0.70, "https://epoch.example.org/m", "2026-02-26"),
    ]
    assert entry.body["reason"].startswith("evidence conflict: vendor 0.95 ± 0.01")
    # Routed and queued like any alert.
    with store.read() as conn:
        assert alerts.load_states(conn, [t.id])[(t.id, "m")] is State.FIRING
    # Unchanged evidence adds nothing; the vendor correcting its card resolves it.
    assert run_cycle(store, Catalog((t,)), ["hook"], Clock()).transitions == []
    put(store, "cards", ("m", "vendor", 0.72, 0.01, 0))
    again = run_cycle(store, Catalog((t,)), ["hook"], Clock())
    assert [tr.to_state for _, tr in again.transitions] == [State.RESOLVED]


@pytest.mark.parametrize(
    ("choice", "fires"),
    [("any", True), ("independent", False), ("vendor", True), ("max", True), ("min", False)],
)
def test_a_threshold_reads_the_evidence_it_chooses_from_the_store(
    store: Store, choice: str, fires: bool
) -> None:
    # The vendor's number is newer than the independent one: a read of the newest alone
    # would hide the independent evidence from `evidence: independent`.
    put(store, "cards", ("m", "vendor", 0.95, None, 1))
    put(store, "epoch", ("m", "independent", 0.70, None, 3))
    t = threshold(
        {"benchmark": "bench", "metric": "acc", "op": ">=", "value": 0.8}, evidence=choice
    )
    result = run_cycle(store, Catalog((t,)), ["hook"], Clock())
    assert bool(result.transitions) is fires
    (e,) = result.evaluations
    assert e.value == (0.95 if fires else 0.70)


def test_exclude_vendor_reported_still_reads_around_a_newer_vendor_number(store: Store) -> None:
    put(store, "cards", ("m", "vendor", 0.95, None, 1))
    put(store, "epoch", ("m", "independent", 0.85, None, 3))
    t = threshold(
        {"benchmark": "bench", "metric": "acc", "op": ">=", "value": 0.8},
        exclude_vendor_reported=True,
    )
    (e,) = run_cycle(store, Catalog((t,)), ["hook"], Clock()).evaluations
    assert (e.value, e.evidence[0].measured_by) == (0.85, "independent")


@pytest.mark.realdata
def test_a_vendor_claim_against_epochs_real_swe_bench_run(
    store: Store, samples: Path, tmp_path: Path
) -> None:
    """Epoch ran Claude Haiku 4.5 on SWE-bench Verified: 0.606 ± 0.0219. A card claiming 0.733
    (± 0.02) conflicts (4.3 combined stderr); one claiming 0.64 does not (1.1)."""
    shutil.copy(samples / "epoch" / "benchmark_data" / "swe_bench_verified.csv", tmp_path)
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    clock = Clock(datetime(2026, 1, 30, tzinfo=UTC))
    run_feed(
        store,
        "epoch",
        EpochBenchmarks({"source": str(tmp_path)}),
        Cursor(),
        clock,
        catalog.registry,
    )
    pair = ("swe_bench_verified", "resolved")
    with store.read() as conn:
        epoch = obs_rows.series(conn, [pair], 1)[pair]
    haiku = "anthropic/claude-haiku-4.5"
    assert {p.measured_by for ps in epoch.values() for p in ps} == {"independent"}
    assert [p.value for p in epoch[haiku]] == [0.606]
    t = catalog.by_id("evidence.swe_bench_verified.conflict")
    card = [
        Observation(
            haiku,
            *pair,
            claimed,
            clock(),
            f"card-{claimed}",
            "card.md",
            "0" * 64,
            0.02,
            attributes={"measured_by": "vendor"},
        )
        for claimed in (0.733,)
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "cards", card, clock())
    fired = run_cycle(store, catalog, ["hook"], clock, thresholds=[t])
    assert [(tr.subject, tr.to_state) for _, tr in fired.transitions] == [(haiku, State.FIRING)]
    clock.now += timedelta(days=1)
    fixed = Observation(
        haiku,
        *pair,
        0.64,
        clock(),
        "card-0.64",
        "card.md",
        "0" * 64,
        0.02,
        attributes={"measured_by": "vendor"},
    )
    with store.write() as conn:
        obs_rows.insert_observations(conn, "cards", [fixed], clock())
    resolved = run_cycle(store, catalog, ["hook"], clock, thresholds=[t])
    assert [tr.to_state for _, tr in resolved.transitions] == [State.RESOLVED]

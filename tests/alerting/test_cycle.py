"""The evaluation cycle against real databases: triggers, the hash chain and the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.support.factories import T0, threshold
from warden.alerting.cycle import idempotency_key, run_cycle
from warden.catalog.thresholds import Catalog
from warden.core.model import Observation, State
from warden.store import Store, alerts, stats
from warden.store import observations as obs_rows
from warden.store.schema import outbox, triggers
from warden.triggerlog.entries import verify


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def tick(self, minutes: float = 1) -> None:
        self.now += timedelta(minutes=minutes)


def catalog(*thresholds):  # type: ignore[no-untyped-def]
    return Catalog(tuple(thresholds))


def put(store: Store, clock: Clock, subject: str, value: float, key: str) -> None:
    o = Observation(subject, "bench", "acc", value, clock(), key, "test", "0" * 64)
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [o], clock())


def test_observations_are_idempotent(store: Store) -> None:
    clock = Clock()
    o = Observation(
        "m",
        "bench",
        "acc",
        0.5,
        T0,
        "k1",
        "src",
        "0" * 64,
        stderr=0.1,
        n=10,
        attributes={"scorer": "match"},
    )
    with store.write() as conn:
        assert obs_rows.insert_observations(conn, "f", [o, o], clock()) == 1
        assert obs_rows.insert_observations(conn, "f", [o], clock()) == 0
        assert obs_rows.insert_observations(conn, "other-feed", [o], clock()) == 1
    with store.read() as conn:
        s = obs_rows.series(conn, [("bench", "acc")], 5)
        (point,) = s[("bench", "acc")]["m"]  # the copy from the other feed counts once
        stored = obs_rows.evidence(conn, [point.id])[point.id]
    assert point.observed_at == T0 and point.observed_at.tzinfo is not None
    # the copy ingested last stands for the measurement
    assert (stored.feed, stored.stderr, stored.n, stored.source) == ("other-feed", 0.1, 10, "src")


def test_firing_then_resolved_with_chain_and_outbox(store: Store) -> None:
    clock = Clock()
    t = threshold(**{"for": 2})
    cat = catalog(t)
    put(store, clock, "m", 0.7, "a")
    r1 = run_cycle(store, cat, ["hook", "log"], clock)
    assert [(tr.from_state, tr.to_state) for _, tr in r1.transitions] == [
        (State.INACTIVE, State.PENDING)
    ]
    clock.tick()
    put(store, clock, "m", 0.8, "b")
    r2 = run_cycle(store, cat, ["hook", "log"], clock)
    assert [tr.to_state for _, tr in r2.transitions] == [State.FIRING]
    clock.tick()
    assert run_cycle(store, cat, ["hook", "log"], clock).transitions == []  # nothing new
    put(store, clock, "m", 0.1, "c")
    r3 = run_cycle(store, cat, ["hook", "log"], clock)
    assert [tr.to_state for _, tr in r3.transitions] == [State.RESOLVED]

    with store.read() as conn:
        entries = list(alerts.entries(conn))
        rows = conn.execute(
            select(outbox.c.trigger_seq, outbox.c.sink, outbox.c.idempotency_key)
        ).all()
        st = stats.states(conn)
    assert [e.to_state for e in entries] == ["pending", "firing", "resolved"]
    assert verify(entries) is None
    assert entries[1].body["evidence"][0]["value"] == 0.8
    assert entries[1].body["threshold_version"] == t.version
    # pending is logged but not notified; firing and resolved go to every sink
    assert sorted((seq, sink) for seq, sink, _ in rows) == [
        (2, "hook"),
        (2, "log"),
        (3, "hook"),
        (3, "log"),
    ]
    assert {key for *_, key in rows} == {
        idempotency_key(e.hash, s) for e in entries[1:] for s in ("hook", "log")
    }
    assert [(s[0], s[1], s[2]) for s in st] == [(t.id, "m", "resolved")]


def test_tampering_is_detected_at_the_first_bad_entry(store: Store) -> None:
    clock = Clock()
    cat = catalog(threshold())
    for i, v in enumerate([0.9, 0.1, 0.9, 0.1]):
        put(store, clock, "m", v, f"k{i}")
        run_cycle(store, cat, [], clock)
        clock.tick()
    with store.write() as conn:
        entries = list(alerts.entries(conn))
        assert len(entries) == 4 and verify(entries) is None
        body = entries[1].content.replace('"value":0.1', '"value":0.01')
        conn.execute(update(triggers).where(triggers.c.seq == 2).values(content=body))
    with store.read() as conn:
        broken = verify(alerts.entries(conn))
    assert broken is not None and broken.seq == 2 and "hash" in broken.why
    with store.write() as conn:
        conn.execute(
            update(triggers)
            .where(triggers.c.seq == 2)
            .values(content=entries[1].content, to_state="firing")
        )
    with store.read() as conn:
        broken = verify(alerts.entries(conn))
    assert broken is not None and broken.seq == 2 and "'to'" in broken.why
    with store.write() as conn:
        conn.execute(
            update(triggers).where(triggers.c.seq == 2).values(to_state=entries[1].to_state)
        )
        conn.execute(triggers.delete().where(triggers.c.seq == 3))
    with store.read() as conn:
        broken = verify(alerts.entries(conn))
    assert broken is not None and broken.seq == 4 and "gap" in broken.why


def test_evidence_that_goes_stale_turns_nodata_not_resolved(store: Store) -> None:
    clock = Clock()
    cat = catalog(threshold(stale_after=3600))
    put(store, clock, "m", 0.9, "a")
    assert [tr.to_state for _, tr in run_cycle(store, cat, ["s"], clock).transitions] == [
        State.FIRING
    ]
    clock.tick(120)
    r = run_cycle(store, cat, ["s"], clock)
    assert [tr.to_state for _, tr in r.transitions] == [State.NODATA]
    assert "stale_after" in r.transitions[0][1].evaluation.reason


def test_a_failing_threshold_turns_error_and_the_others_still_evaluate(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import warden.alerting.cycle

    clock = Clock()
    good, bad = threshold(), threshold(id="test.broken.high", scope="frontier")
    put(store, clock, "m", 0.9, "a")
    real = warden.alerting.cycle.evaluate_threshold

    def flaky(t, *args):  # type: ignore[no-untyped-def]
        if t.id == bad.id:
            raise ZeroDivisionError("boom")
        return real(t, *args)

    monkeypatch.setattr(warden.alerting.cycle, "evaluate_threshold", flaky)
    with caplog.at_level("ERROR", logger="warden.alerting.cycle"):
        r = run_cycle(store, catalog(good, bad), ["hook"], clock)
    assert r.failed == [bad.id]
    # Evaluated again after matching outside the transaction, the failure is logged once, with
    # its traceback.
    (failure,) = [x for x in caplog.records if "evaluation failed" in x.getMessage()]
    assert failure.exc_info is not None and failure.exc_info[0] is ZeroDivisionError
    assert {(tr.threshold, tr.subject, tr.to_state) for _, tr in r.transitions} == {
        (good.id, "m", State.FIRING),
        (bad.id, "frontier", State.ERROR),
    }
    monkeypatch.setattr(warden.alerting.cycle, "evaluate_threshold", real)  # the fault is fixed
    r = run_cycle(store, catalog(good, bad), [], clock)
    assert [(tr.from_state, tr.to_state) for _, tr in r.transitions] == [
        (State.ERROR, State.FIRING)
    ]


def test_one_measurement_read_by_two_feeds_confirms_once(store: Store) -> None:
    clock = Clock()
    cat = catalog(threshold(**{"for": 2}))
    o = Observation("m", "bench", "acc", 0.9, clock(), "same-run", "src", "0" * 64)
    with store.write() as conn:
        obs_rows.insert_observations(conn, "feed-a", [o], clock())
        obs_rows.insert_observations(conn, "feed-b", [o], clock())
    r = run_cycle(store, cat, [], clock)
    assert [tr.to_state for _, tr in r.transitions] == [State.PENDING]
    assert r.evaluations[0].confirmations == 1
    put(store, clock, "m", 0.8, "second-run")
    r = run_cycle(store, cat, [], clock)
    assert [tr.to_state for _, tr in r.transitions] == [State.FIRING]


def test_a_state_that_returned_to_inactive_can_change_again(store: Store) -> None:
    clock = Clock()
    cat = catalog(threshold(**{"for": 2}))
    moves = []
    for i, value in enumerate([0.9, 0.1, 0.9]):
        put(store, clock, "m", value, f"k{i}")
        moves += [
            (t.from_state, t.to_state) for _, t in run_cycle(store, cat, [], clock).transitions
        ]
        clock.tick()
    assert moves == [
        (State.INACTIVE, State.PENDING),
        (State.PENDING, State.INACTIVE),
        (State.INACTIVE, State.PENDING),
    ]
    with store.read() as conn:
        assert [s[2] for s in stats.states(conn)] == ["pending"]


def test_subjects_that_never_crossed_anything_have_no_state_row(store: Store) -> None:
    clock = Clock()
    for i in range(5):
        put(store, clock, f"model-{i}", 0.1, f"k{i}")
    r = run_cycle(store, catalog(threshold()), [], clock)
    assert len(r.evaluations) == 5 and r.transitions == []
    with store.read() as conn:
        assert stats.states(conn) == []


def test_open_weights_frontier_through_the_store(store: Store) -> None:
    from warden.catalog.registry import ModelSpec, Registry

    registry = Registry()
    for spec in (
        ModelSpec(id="open/a", organisation="A", open_weights=True),
        ModelSpec(id="closed/b", organisation="B", open_weights=False),
    ):
        registry.add_model(spec, "test", [])
    t = threshold(scope="open_weights_frontier")
    cat = Catalog((t,), (), registry)
    clock = Clock()
    put(store, clock, "closed/b", 0.9, "k1")
    assert run_cycle(store, cat, [], clock).evaluations[0].verdict.value == "unknown"
    put(store, clock, "open/a", 0.7, "k2")
    r = run_cycle(store, cat, [], clock)
    assert [(tr.subject, tr.to_state) for _, tr in r.transitions] == [
        ("open_weights_frontier", State.FIRING)
    ]
    assert r.transitions[0][1].evaluation.evidence[0].subject == "open/a"


def test_clear_at_hysteresis_through_the_store(store: Store) -> None:
    clock = Clock()
    cat = catalog(threshold(clear_at=0.2))
    moves = []
    for i, value in enumerate([0.9, 0.45, 0.3, 0.1]):
        put(store, clock, "m", value, f"k{i}")
        moves += [t.to_state for _, t in run_cycle(store, cat, [], clock).transitions]
        clock.tick()
    assert moves == [State.FIRING, State.RESOLVED]  # held at 0.45 and 0.3, cleared at 0.1


def test_confidence_reads_stderr_from_the_store(store: Store) -> None:
    clock = Clock()
    cat = catalog(threshold(confidence=0.95, min_samples=50))
    rows = [
        Observation("wide", "bench", "acc", 0.6, clock(), "a", "s", "0" * 64, stderr=0.1, n=100),
        Observation("tight", "bench", "acc", 0.6, clock(), "b", "s", "0" * 64, stderr=0.01, n=100),
        Observation("tiny", "bench", "acc", 0.9, clock(), "c", "s", "0" * 64, stderr=0.01, n=10),
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", rows, clock())
    r = run_cycle(store, cat, [], clock)
    assert {e.subject: e.verdict.value for e in r.evaluations} == {
        "wide": "warning",
        "tight": "breached",
        "tiny": "unknown",
    }


def test_a_duration_for_fires_on_a_later_sweep_through_the_store(store: Store) -> None:
    clock = Clock()
    cat = catalog(threshold(**{"for": "30m"}))
    put(store, clock, "m", 0.9, "k1")
    assert [t.to_state for _, t in run_cycle(store, cat, [], clock).transitions] == [State.PENDING]
    clock.tick(20)
    assert run_cycle(store, cat, [], clock).transitions == []  # 20 min: still pending
    clock.tick(10)
    r = run_cycle(store, cat, [], clock)  # the periodic sweep, no new data
    assert [t.to_state for _, t in r.transitions] == [State.FIRING]


def test_keep_firing_for_through_the_store(store: Store) -> None:
    clock = Clock()
    cat = catalog(threshold(keep_firing_for="30m"))
    put(store, clock, "m", 0.9, "k1")
    assert [t.to_state for _, t in run_cycle(store, cat, [], clock).transitions] == [State.FIRING]
    clock.tick(10)
    put(store, clock, "m", 0.1, "k2")  # below the trigger 10 min after the last breach
    assert run_cycle(store, cat, [], clock).transitions == []
    clock.tick(25)  # 35 min after the last breach
    assert [t.to_state for _, t in run_cycle(store, cat, [], clock).transitions] == [State.RESOLVED]

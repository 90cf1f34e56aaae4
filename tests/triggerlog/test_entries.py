"""The trigger log's entries on their own, without a store: what a transition's entry holds, how
each entry is hashed onto the one before, the catalog's and people's entries, and `verify`
finding the first entry that was edited, removed, inserted or reordered. The same chain through
real stores: tests/alerting/test_cycle.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.factories import threshold
from warden.core.chain import ACK, CATALOG, GENESIS, TRANSITION, Entry, canonical, chain_hash
from warden.core.model import Evaluation, Point, State, StoredObservation, Transition, Verdict
from warden.triggerlog.entries import action_entry, catalog_entry, chain, verify

AT = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
RULE = threshold(id="cyber.ctf.high", domain="cyber")


def transition(subject: str, to: State, value: float, obs_id: int) -> Transition:
    point = Point(obs_id, subject, value, AT, f"k{obs_id}", stderr=0.02, n=200, feed="lab")
    ev = Evaluation(RULE.id, subject, Verdict.BREACHED, value, 1, (point,))
    return Transition(RULE.id, RULE.version, subject, State.INACTIVE, to, ev)


def stored(obs_id: int, subject: str, value: float) -> StoredObservation:
    return StoredObservation(
        obs_id, "lab", subject, "bench", "acc", value, 0.02, 200, AT, "runs/a.eval", "ab" * 32
    )


def log(n: int) -> list[Entry]:
    items = [(AT + timedelta(minutes=i), transition(f"m{i}", State.FIRING, 0.9, i), RULE)
             for i in range(1, n + 1)]  # fmt: skip
    details = {i: stored(i, f"m{i}", 0.9) for i in range(1, n + 1)}
    return chain((0, GENESIS), items, details)


def test_a_transition_s_entry_says_what_fired_on_what_evidence_under_which_rule() -> None:
    (entry,) = log(1)
    body = entry.body
    assert (entry.seq, entry.prev_hash, entry.kind) == (1, GENESIS, TRANSITION)
    assert (body["threshold"], body["threshold_version"]) == (RULE.id, RULE.version)
    got = (body["subject"], body["from"], body["to"], body["value"])
    assert got == ("m1", "inactive", "firing", 0.9)
    assert body["mitigations"] == ["Pause."] and body["condition"]["benchmark"] == "bench"
    (evidence,) = body["evidence"]
    assert evidence == {
        "observation": 1,
        "feed": "lab",
        "model": "m1",
        "benchmark": "bench",
        "metric": "acc",
        "value": 0.9,
        "stderr": 0.02,
        "n": 200,
        "observed_at": AT.isoformat(),
        "source": "runs/a.eval",
        "content_hash": "ab" * 32,
    }
    assert entry.content == canonical(body)  # canonical: sorted keys, no spaces
    assert entry.hash == chain_hash(GENESIS, entry.content)


def test_each_entry_is_hashed_onto_the_one_before() -> None:
    entries = log(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert [e.prev_hash for e in entries] == [GENESIS, entries[0].hash, entries[1].hash]
    assert verify(entries) is None


def test_the_catalog_entry_lists_what_was_added_changed_and_removed() -> None:
    other = threshold(id="bio.vct.high", domain="bio")
    first = catalog_entry((0, GENESIS), AT, {}, [RULE, other], ["a.yaml"])
    assert first is not None and first.kind == CATALOG
    assert first.body["added"] == ["bio.vct.high", "cyber.ctf.high"]
    changed = threshold(id="cyber.ctf.high", domain="cyber", title="Renamed")
    second = catalog_entry((1, first.hash), AT, first.body["versions"], [changed], ["a.yaml"])
    assert second is not None and second.prev_hash == first.hash
    assert (second.body["changed"], second.body["removed"]) == (["cyber.ctf.high"],
                                                                ["bio.vct.high"])  # fmt: skip
    assert catalog_entry((2, second.hash), AT, second.body["versions"], [changed], []) is None
    assert verify([first, second]) is None


def test_a_person_s_action_is_an_entry_of_its_own_kind() -> None:
    (first,) = log(1)
    ack = action_entry((1, first.hash), AT, ACK, {"actor": "alice", "note": "on it"},
                       threshold=RULE.id, subject="m1")  # fmt: skip
    assert (ack.seq, ack.kind, ack.body["actor"], ack.body["kind"]) == (2, ACK, "alice", ACK)
    assert verify([first, ack]) is None


def rehashed(entries: list[Entry], at: int, **change: object) -> list[Entry]:
    """`entries` with entry `at` changed and hashed again (its content consistent with itself),
    the later entries left as they were."""
    out = list(entries)
    out[at] = replace(out[at], **change)  # type: ignore[arg-type]
    out[at] = replace(out[at], hash=chain_hash(out[at].prev_hash, out[at].content))
    return out


def test_verify_finds_the_first_entry_that_does_not_hold() -> None:
    entries = log(5)
    body = entries[2].body
    edited = replace(entries[2], content=canonical({**body, "value": 0.1}))
    cases = {
        "an edited content": ([*entries[:2], edited, *entries[3:]], 3, "hash does not match"),
        "an edited and re-hashed content": (
            rehashed(entries, 2, content=canonical({**body, "value": 0.1})),
            4,
            "prev_hash",
        ),
        "a deleted entry": (entries[:2] + entries[3:], 4, "sequence gap"),
        "two entries swapped": ([*entries[:1], entries[2], entries[1], *entries[3:]], 3, "gap"),
        "a column that differs from its content": (
            rehashed(entries, 1, to_state="resolved"),
            2,
            "column 'to'",
        ),
        "a content that is not JSON": (rehashed(entries, 0, content="{not json"), 1, "JSON"),
    }
    for name, (tampered, seq, why) in cases.items():
        found = verify(tampered)
        assert found is not None, name
        assert found.seq == seq and why in found.why, (name, found)


@pytest.mark.parametrize("n", [0, 1, 7])
def test_an_untouched_chain_of_any_length_verifies(n: int) -> None:
    assert verify(log(n)) is None


def test_the_body_is_the_content_as_json() -> None:
    (entry,) = log(1)
    assert entry.body == json.loads(entry.content)

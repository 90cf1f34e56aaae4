"""Checkpoints and proofs against a kept checkpoint: every way of tampering with the log is
found (edit, delete in the middle, delete the tail, reorder, re-hash everything), and proof
documents check offline with the public key alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, delete, select, text, update

from tests.support.treelog import grow
from warden.core.chain import GENESIS, chain_hash
from warden.store import Store
from warden.store import merkle as rows
from warden.store.schema import merkle_hashes, triggers
from warden.triggerlog import checkpoint as cps
from warden.triggerlog import proofs
from warden.triggerlog.checkpoint import CheckpointError
from warden.triggerlog.keys import Ed25519Key, load_key, new_key_pair
from warden.triggerlog.merkle import ProofError

ORIGIN = "warden.test/trigger-log"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _key() -> Ed25519Key:
    key = load_key(new_key_pair()[0], "key")
    assert isinstance(key, Ed25519Key)
    return key


def _edit(conn: Connection) -> None:
    content = conn.execute(select(triggers.c.content).where(triggers.c.seq == 10)).scalar_one()
    conn.execute(
        update(triggers).where(triggers.c.seq == 10).values(content=content.replace("ana", "bob"))
    )


def _delete_middle(conn: Connection) -> None:
    conn.execute(delete(triggers).where(triggers.c.seq == 10))


def _delete_tail(conn: Connection) -> None:
    conn.execute(delete(triggers).where(triggers.c.seq > 24))


def _reorder(conn: Connection) -> None:
    a, b = (
        conn.execute(select(triggers).where(triggers.c.seq == s)).mappings().one() for s in (10, 11)
    )
    conn.execute(delete(triggers).where(triggers.c.seq.in_([10, 11])))
    for seq, r in ((10, b), (11, a)):
        conn.execute(triggers.insert().values({**r, "seq": seq}))


def _rehash_everything(conn: Connection) -> None:
    """Edit entry 10 as an insider would: then recompute the whole hash chain and rebuild the
    Merkle tree, so that both verify on their own."""
    _edit(conn)
    prev = GENESIS
    entries = conn.execute(select(triggers.c.seq, triggers.c.content).order_by(triggers.c.seq))
    fixed = []
    for seq, content in entries.all():
        digest = chain_hash(prev, content)
        fixed.append((seq, prev, digest, content))
        prev = digest
    # Unique columns: each row first takes a placeholder of its own.
    conn.execute(
        text(
            "UPDATE triggers SET prev_hash = 'p' || CAST(seq AS VARCHAR), "
            "hash = 'h' || CAST(seq AS VARCHAR)"
        )
    )
    for seq, p, h, _ in fixed:
        conn.execute(update(triggers).where(triggers.c.seq == seq).values(prev_hash=p, hash=h))
    conn.execute(delete(merkle_hashes))
    rows.rebuild(conn, (c for *_, c in fixed))


TAMPERING: dict[str, tuple[Callable[[Connection], None], str]] = {
    "edit": (_edit, "do not hash to the kept checkpoint's root"),
    "delete in the middle": (_delete_middle, "do not hash to the kept checkpoint's root"),
    "delete the tail": (_delete_tail, "24 entries but the kept checkpoint covers 30"),
    "reorder": (_reorder, "do not hash to the kept checkpoint's root"),
    "re-hash everything": (_rehash_everything, "do not hash to the kept checkpoint's root"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_tampering_is_found_against_a_kept_checkpoint(store: Store, how: str) -> None:
    grow(store, 30, batch=7)
    key = _key()
    with store.write() as conn:
        kept = cps.parse(cps.issue(conn, ORIGIN, key, NOW).show(), "kept")
    grow(store, 5)  # the log grows on: still fine
    with store.read() as conn:
        assert "35 entries extends the kept checkpoint of 30" in proofs.audit(conn, kept)
    tamper, reason = TAMPERING[how]
    with store.write() as conn:
        tamper(conn)
    with store.read() as conn, pytest.raises(CheckpointError, match=reason):
        proofs.audit(conn, kept)
    if how == "re-hash everything":  # the chain alone no longer shows it
        from warden.store import alerts
        from warden.triggerlog.entries import verify

        with store.read() as conn:
            assert verify(alerts.entries(conn)) is None
            with pytest.raises(CheckpointError, match="do not hash to its root"):
                proofs.matches(conn, kept, "kept")


def test_proofs_check_offline_with_the_public_key_alone(store: Store) -> None:
    key = _key()
    v = cps.verifier(key, ORIGIN)
    grow(store, 13)
    with store.write() as conn:
        old = cps.issue(conn, ORIGIN, key, NOW)
    grow(store, 8, batch=3)
    with store.write() as conn:
        new = cps.issue(conn, ORIGIN, key, NOW)
        assert rows.latest_checkpoint(conn) is not None
        doc = proofs.inclusion(conn, 7, new) | proofs.consistency(conn, old, new)
    data = json.dumps(doc).encode()
    said = proofs.verify(data, "proof.json", v, kept=old)
    assert any("entry 7" in line for line in said)
    assert said[-1] == "it extends the kept checkpoint of 13 entries"
    # A changed entry, a changed hash, another key, an unsigned checkpoint: each refused.
    edited = json.loads(data)
    edited["entry"]["content"] = edited["entry"]["content"].replace("ana", "bob")
    with pytest.raises(ProofError, match="entry 7 is not in the tree of 21 entries"):
        proofs.verify(json.dumps(edited).encode(), "proof.json", v)
    edited = json.loads(data)
    edited["consistency"][0] = edited["consistency"][1]
    with pytest.raises(ProofError):
        proofs.verify(json.dumps(edited).encode(), "proof.json", v)
    with pytest.raises(CheckpointError, match="no signature by key"):
        proofs.verify(data, "proof.json", cps.verifier(_key(), ORIGIN))
    edited = json.loads(data)
    edited["checkpoint"] = new.text
    with pytest.raises(CheckpointError, match="not signed"):
        proofs.verify(json.dumps(edited).encode(), "proof.json", v)
    # A bare checkpoint file checks too.
    assert "signature valid" in proofs.verify(new.show().encode(), "cp.txt", v)[0]

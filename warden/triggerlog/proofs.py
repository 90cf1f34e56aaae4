"""Proof documents for auditors, and the checks that need only them and the public key.

A proof document is a JSON object (`warden log prove`, `warden log consistency`, the API):

    {"warden_log_proof": 1,
     "checkpoint": "<the checkpoint, a signed note>",
     "entry": {"seq": N, "content": "<the entry's canonical JSON, exactly as hashed>"},
     "inclusion": ["<base64 hash>", ...],            # the audit path of entry N (RFC 9162)
     "old_checkpoint": "<an earlier checkpoint>",
     "consistency": ["<base64 hash>", ...]}          # old_checkpoint -> checkpoint (RFC 9162)

with `entry` and `inclusion`, or `old_checkpoint` and `consistency`, or both. Entry N is leaf
N - 1; its leaf hash is SHA-256(0x00 || content as UTF-8).

`audit` is `warden log verify --checkpoint`: the store's log, recomputed from the entries
themselves, against a checkpoint an auditor kept.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from warden.core.merkle import leaf_hash, root_of
from warden.store import alerts
from warden.store import merkle as rows
from warden.triggerlog import merkle
from warden.triggerlog.checkpoint import Checkpoint, CheckpointError, checked, parse
from warden.triggerlog.entries import verify as verify_chain
from warden.triggerlog.merkle import ProofError
from warden.triggerlog.note import Verifier

VERSION = 1


def _b64(hashes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def matches(conn: Connection, cp: Checkpoint, where: str) -> None:
    """That the stored tree has `cp`'s root at `cp`'s size: a proof against a checkpoint this
    log never had would prove nothing."""
    have = rows.tree_size(conn)
    if cp.size > have:
        raise CheckpointError(
            f"{where}: covers {cp.size} entries but the log has {have}: entries were removed "
            "from its end, or the checkpoint is from another log"
        )
    if merkle.root(merkle.stored(conn), cp.size) != cp.root:
        raise CheckpointError(
            f"{where}: the log's first {cp.size} entries do not hash to its root: the log was "
            "changed since, or the checkpoint is from another log"
        )


def inclusion(conn: Connection, seq: int, cp: Checkpoint) -> dict[str, Any]:
    """The proof that entry `seq` is in the log `cp` describes."""
    found = list(alerts.entries(conn, seqs=[seq]))
    if not found:
        raise ProofError(f"no entry {seq} in the trigger log")
    if seq > cp.size:
        raise ProofError(f"entry {seq} is newer than the checkpoint ({cp.size} entries)")
    proof = merkle.inclusion_proof(merkle.stored(conn), seq - 1, cp.size)
    return {
        "warden_log_proof": VERSION,
        "checkpoint": cp.show(),
        "entry": {"seq": seq, "content": found[0].content},
        "inclusion": _b64(proof),
    }


def consistency(conn: Connection, old: Checkpoint, new: Checkpoint) -> dict[str, Any]:
    """The proof that the log `new` describes extends the one `old` describes."""
    proof = merkle.consistency_proof(merkle.stored(conn), old.size, new.size)
    return {
        "warden_log_proof": VERSION,
        "old_checkpoint": old.show(),
        "checkpoint": new.show(),
        "consistency": _b64(proof),
    }


def _hashes(doc: dict[str, Any], field: str) -> list[bytes]:
    items = doc.get(field)
    if not isinstance(items, list) or not all(isinstance(h, str) for h in items):
        raise ProofError(f"{field}: not a list of base64 hashes")
    try:
        return [base64.b64decode(h, validate=True) for h in items]
    except binascii.Error as exc:
        raise ProofError(f"{field}: a hash that is not base64") from exc


def verify(
    data: bytes, where: str, v: Verifier | None, kept: Checkpoint | None = None
) -> list[str]:
    """Check a proof document (or a bare checkpoint) with the verifier alone; what was shown,
    one line each. Raises ProofError or CheckpointError naming the first problem. `kept`: a
    checkpoint the auditor kept, which the document's checkpoint must extend."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProofError(f"{where}: not UTF-8 text (byte {exc.start})") from exc
    if not text.lstrip().startswith("{"):  # a checkpoint on its own
        cp = parse(text, where)
        said = [f"checkpoint {cp.origin} at {cp.size} entries: {checked(cp, v, where)}"]
        if kept is not None and (kept.size, kept.root) != (cp.size, cp.root):
            raise ProofError(f"{where}: not the kept checkpoint; give a consistency proof")
        return said
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProofError(f"{where}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(doc, dict) or doc.get("warden_log_proof") != VERSION:
        raise ProofError(f"{where}: not a warden log proof (version {VERSION})")
    if not isinstance(doc.get("checkpoint"), str):
        raise ProofError(f"{where}: checkpoint: missing")
    cp = parse(doc["checkpoint"], f"{where}: checkpoint")
    said = [
        f"checkpoint {cp.origin} at {cp.size} entries: {checked(cp, v, f'{where}: checkpoint')}"
    ]
    if "entry" in doc:
        entry = doc["entry"]
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("seq"), int)
            and isinstance(entry.get("content"), str)
        ):
            raise ProofError(f"{where}: entry: needs seq (a number) and content (text)")
        seq, content = entry["seq"], entry["content"]
        try:
            body = json.loads(content)
        except json.JSONDecodeError as exc:
            raise ProofError(f"{where}: entry {seq}: content is not JSON") from exc
        if not isinstance(body, dict) or body.get("seq") != seq:
            raise ProofError(f"{where}: entry {seq}: its content says seq {body.get('seq')!r}")
        try:
            merkle.verify_inclusion(
                seq - 1, cp.size, leaf_hash(content.encode()), _hashes(doc, "inclusion"), cp.root
            )
        except ProofError as exc:
            raise ProofError(f"{where}: {exc}") from exc
        said.append(
            f"entry {seq} ({body.get('kind', 'transition')} at {body.get('at')}) is in the log "
            f"of {cp.size} entries: inclusion proof of {len(doc['inclusion'])} hashes verifies"
        )
    old = None
    if "old_checkpoint" in doc:
        if not isinstance(doc["old_checkpoint"], str):
            raise ProofError(f"{where}: old_checkpoint: not text")
        old = parse(doc["old_checkpoint"], f"{where}: old_checkpoint")
        said.append(f"old checkpoint at {old.size} entries: {checked(old, v, f'{where}: old')}")
        if old.origin != cp.origin:
            raise ProofError(f"{where}: the two checkpoints are of different logs")
        try:
            merkle.verify_consistency(
                old.size, cp.size, old.root, cp.root, _hashes(doc, "consistency")
            )
        except ProofError as exc:
            raise ProofError(f"{where}: {exc}") from exc
        said.append(f"the log of {cp.size} entries extends the one of {old.size}")
    if kept is not None:
        if (kept.size, kept.root) == (cp.size, cp.root):
            said.append("the checkpoint is the kept one")
        elif old is None or (kept.size, kept.root) != (old.size, old.root):
            raise ProofError(
                f"{where}: proves nothing about the kept checkpoint ({kept.size} entries): ask "
                f"for `warden log consistency` from it"
            )
        else:
            said.append(f"it extends the kept checkpoint of {kept.size} entries")
    if len(said) == 1 and kept is None:
        raise ProofError(f"{where}: holds neither an inclusion nor a consistency proof")
    return said


def audit(conn: Connection, kept: Checkpoint) -> str:
    """That today's log extends `kept`, recomputed from the entries themselves (not from the
    stored tree, which whoever edits the log could rebuild): raises CheckpointError with the
    reasons, else says what was checked."""
    entries = list(alerts.entries(conn))
    leaves = [leaf_hash(e.content.encode()) for e in entries]
    problems = []
    broken = verify_chain(entries)
    if broken is not None:
        problems.append(f"the hash chain breaks at entry {broken.seq}: {broken.why}")
    if len(leaves) < kept.size:
        gone = kept.size - len(leaves)
        problems.append(
            f"the log has {len(leaves)} entries but the kept checkpoint covers {kept.size}: "
            f"{gone} entries are gone (deleted from the end, or the log was cut)"
        )
    elif root_of(leaves[: kept.size]) != kept.root:
        problems.append(
            f"the log's first {kept.size} entries do not hash to the kept checkpoint's root: an "
            "entry before it was edited, deleted, inserted or reordered"
        )
    if not problems:
        try:
            stored_root = merkle.root(merkle.stored(conn), len(leaves))
        except rows.TreeError as exc:
            stored_root, problems = b"", [str(exc)]
        if stored_root != root_of(leaves) and not problems:
            problems.append("the stored Merkle tree does not match the entries")
    if problems:
        raise CheckpointError("; ".join(problems))
    return (
        f"the log of {len(leaves)} entries extends the kept checkpoint of {kept.size} entries "
        f"(root {kept.root.hex()})"
    )

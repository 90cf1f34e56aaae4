"""Checkpoints of the trigger log in the C2SP tlog-checkpoint format
(https://c2sp.org/tlog-checkpoint), as signed notes (warden.triggerlog.note):

    <origin>\\n
    <tree size, decimal>\\n
    <root hash, base64>\\n

then a blank line and the signature line "— <origin> <base64(key hash || Ed25519 signature)>",
made with the key of `warden log keygen`; its name is the origin. Anyone who keeps a checkpoint
can later ask for a consistency proof that the log only grew since, and check one entry with an
inclusion proof against it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from warden.core.errors import WardenError
from warden.core.merkle import HASH_SIZE
from warden.store import merkle as rows
from warden.triggerlog import merkle
from warden.triggerlog.keys import Ed25519Key
from warden.triggerlog.note import NoteError, Verifier, check_name, open_note, sign, split

_SIZE = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(WardenError):
    """A checkpoint that is malformed, unsigned when it must be signed, or not this log's."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str = ""  # the whole signed note, when it came as one

    @property
    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @property
    def signed(self) -> bool:
        return bool(self.note)

    def show(self) -> str:
        """What is written to a file or served: the signed note, or the bare checkpoint."""
        return self.note or self.text


def parse(data: str, where: str) -> Checkpoint:
    """A checkpoint, bare or as a signed note (its signatures not checked here)."""
    note = ""
    text = data
    if "\n\n" in data:
        try:
            text, _ = split(data)
        except NoteError as exc:
            raise CheckpointError(f"{where}: {exc}") from exc
        note = data
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError(f"{where}: not a checkpoint (origin, tree size, root hash lines)")
    origin, size, root_b64 = lines[0], lines[1], lines[2]
    if not origin:
        raise CheckpointError(f"{where}: line 1: the origin is empty")
    if not _SIZE.fullmatch(size):
        raise CheckpointError(f"{where}: line 2: the tree size is not a decimal number")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error as exc:
        raise CheckpointError(f"{where}: line 3: the root hash is not base64") from exc
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"{where}: line 3: the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root, note)


def verifier(key: Ed25519Key, origin: str) -> Verifier:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Verifier(check_name(origin), key.public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def checked(cp: Checkpoint, v: Verifier | None, where: str) -> str:
    """Check `cp`'s signature by `v`; what was found, for a report."""
    if v is None:
        return "signature not checked (no key given)" if cp.signed else "unsigned"
    if not cp.signed:
        raise CheckpointError(f"{where}: not signed, so it proves nothing about who issued it")
    if cp.origin != v.name:
        raise CheckpointError(f"{where}: origin {cp.origin!r} is not the key's log ({v.name!r})")
    try:
        open_note(cp.note, v)
    except NoteError as exc:
        raise CheckpointError(f"{where}: {exc}") from exc
    return f"signature valid (key {v.name}+{v.key_hash.hex()})"


def at(conn: Connection, origin: str, size: int | None = None) -> Checkpoint:
    """The checkpoint of the stored tree at `size` (default: all of it), unsigned."""
    have = rows.tree_size(conn)
    size = have if size is None else size
    if not 0 <= size <= have:
        raise CheckpointError(f"the log has {have} entries; no checkpoint at {size}")
    return Checkpoint(check_name(origin), size, merkle.root(merkle.stored(conn), size))


def signed(cp: Checkpoint, key: Ed25519Key | None) -> Checkpoint:
    if key is None or key.private is None:
        return cp
    return Checkpoint(cp.origin, cp.size, cp.root, sign(cp.text, cp.origin, key.private))


def issue(conn: Connection, origin: str, key: Ed25519Key | None, now: datetime) -> Checkpoint:
    """A checkpoint of the whole log now, signed with `key` if given, recorded in the store."""
    cp = signed(at(conn, origin), key)
    rows.record_checkpoint(
        conn,
        rows.IssuedCheckpoint(cp.size, cp.root.hex(), now, cp.show(), key.id if key else None),
    )
    return cp


def signing_key(path: str, where: str) -> Ed25519Key:
    """The Ed25519 private key in the PEM file at `path` (`warden log keygen`)."""
    from pathlib import Path

    from warden.core.errors import UsageError
    from warden.triggerlog.keys import load_key

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{where} {path}: {exc.strerror or exc}") from exc
    key = load_key(data, f"{where} {path}")
    if not isinstance(key, Ed25519Key) or key.private is None:
        raise UsageError(
            f"{where} {path}: checkpoints are signed with an Ed25519 private key (KEYFILE of "
            "warden log keygen)"
        )
    return key


def write_file(path: str, cp: Checkpoint) -> None:
    """Replace the file at `path` with `cp`, never leaving it half written."""
    import os
    from pathlib import Path

    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(cp.show(), encoding="utf-8")
    os.replace(partial, target)

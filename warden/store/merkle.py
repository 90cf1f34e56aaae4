"""The trigger log's Merkle tree in the store (hashing and layout: warden/core/merkle.py) and the
checkpoints warden issued.

`append` runs inside `alerts.append_triggers`, in the transaction that appends the entries, so
the tree always covers exactly the entries: it reads the O(log n) hashes of the tree's right
edge and inserts the new leaves' and completed subtrees' hashes in one executemany."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from warden.core.chain import Entry
from warden.core.errors import WardenError
from warden.core.merkle import appended, cover, leaf_hash, stored_count, stored_index
from warden.store.schema import log_checkpoints, merkle_hashes

CHUNK = 500  # stored indexes per IN (...) query


class TreeError(WardenError):
    """The stored tree does not cover the trigger log as it should (exit 1)."""


def append(conn: Connection, entries: Sequence[Entry]) -> None:
    """Add `entries` (consecutive seqs, the next after the tree's last leaf) to the tree."""
    if not entries:
        return
    size = entries[0].seq - 1
    have = tree_size(conn)
    if have != size:
        raise TreeError(
            f"the Merkle tree has {have} leaves but entry {entries[0].seq} is appended: the tree "
            "and the trigger log are out of step"
        )
    frontier = node_hashes(conn, [stored_index(lv, n) for lv, n in cover(0, size)])
    rows, _ = appended(size, frontier, (leaf_hash(e.content.encode()) for e in entries))
    conn.execute(insert(merkle_hashes), [{"id": i, "hash": h} for i, h in rows])


def tree_size(conn: Connection) -> int:
    """How many leaves the stored tree has, from its highest stored index."""
    top = conn.execute(select(func.max(merkle_hashes.c.id))).scalar_one_or_none()
    if top is None:
        return 0
    stored = int(top) + 1
    lo, hi = 0, stored  # the size whose stored count is `stored`
    while lo < hi:
        mid = (lo + hi) // 2
        if stored_count(mid) < stored:
            lo = mid + 1
        else:
            hi = mid
    return lo


def node_hashes(conn: Connection, indexes: Iterable[int]) -> list[bytes]:
    """The stored hashes at `indexes`, in that order; TreeError naming the first missing one."""
    wanted = list(indexes)
    found: dict[int, bytes] = {}
    unique = sorted(set(wanted))
    for i in range(0, len(unique), CHUNK):
        q = select(merkle_hashes.c.id, merkle_hashes.c.hash).where(
            merkle_hashes.c.id.in_(unique[i : i + CHUNK])
        )
        found.update((int(k), bytes(h)) for k, h in conn.execute(q))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise TreeError(f"the Merkle tree misses its stored hash {missing[0]}")
    return [found[i] for i in wanted]


def rebuild(conn: Connection, contents: Iterable[str]) -> int:
    """Store the tree of `contents` (every entry's content, in seq order) into an empty table;
    returns the number of leaves (the migration that adds the tree to an existing log)."""
    size, frontier, batch = 0, list[bytes](), list[bytes]()
    for content in [*contents, None]:
        if content is not None:
            batch.append(leaf_hash(content.encode()))
        if batch and (content is None or len(batch) == 10_000):
            rows, frontier = appended(size, frontier, batch)
            conn.execute(insert(merkle_hashes), [{"id": i, "hash": h} for i, h in rows])
            size += len(batch)
            batch = []
    return size


@dataclass(frozen=True)
class IssuedCheckpoint:
    tree_size: int
    root_hash: str
    created_at: datetime
    note: str
    key_id: str | None


def record_checkpoint(conn: Connection, c: IssuedCheckpoint) -> None:
    conn.execute(
        insert(log_checkpoints),
        {
            "tree_size": c.tree_size,
            "root_hash": c.root_hash,
            "created_at": c.created_at,
            "note": c.note,
            "key_id": c.key_id,
        },
    )


def latest_checkpoint(conn: Connection) -> IssuedCheckpoint | None:
    t = log_checkpoints
    row = conn.execute(
        select(t.c.tree_size, t.c.root_hash, t.c.created_at, t.c.note, t.c.key_id)
        .order_by(t.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else IssuedCheckpoint(*row)


def checkpoint_of_size(conn: Connection, size: int) -> IssuedCheckpoint | None:
    """The newest checkpoint issued at `size` entries, if any."""
    t = log_checkpoints
    row = conn.execute(
        select(t.c.tree_size, t.c.root_hash, t.c.created_at, t.c.note, t.c.key_id)
        .where(t.c.tree_size == size)
        .order_by(t.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else IssuedCheckpoint(*row)

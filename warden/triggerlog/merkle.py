"""Inclusion and consistency proofs over the trigger log's Merkle tree (RFC 9162 2.1.3, 2.1.4),
made from the stored subtree hashes (layout: warden/core/merkle.py) and checked with nothing but
the proof, the leaf and the roots.

Written here rather than taken from PyPI `pymerkle` (7.0.0, RFC 9162 proofs over a storage
interface): its storage interface keeps leaves only and computes every subtree from its leaves
(an LRU cache in the process's memory), so a proof in a fresh process, which every CLI command
is, reads and hashes the leaves it covers. Measured on its own SqliteTree with 200,000 entries:
a cold root took 326 ms and a cold inclusion proof 230 ms, growing linearly (about 1.1 s at
1,000,000, against a 5 ms target); and its backends are its own SQLite file, not warden's
tables on SQLite and PostgreSQL. Here a proof reads O(log n) stored hashes in one query
(perf/merkle.py measures it). The algorithms are tested against the published vectors of
transparency-dev/merkle (tests/triggerlog/test_merkle.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from warden.core.errors import WardenError
from warden.core.merkle import EMPTY_ROOT, HASH_SIZE, cover, fold, node_hash, stored_index
from warden.store import merkle as rows

# Stored indexes -> their hashes, in order.
Reader = Callable[[list[int]], list[bytes]]
Range = tuple[int, int]


class ProofError(WardenError):
    """A proof does not verify (exit 1); the message says why."""


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_ranges(m: int, start: int, end: int, out: list[Range]) -> None:
    """RFC 9162 PATH(m, D[start:end]) as leaf ranges, deepest first."""
    if end - start <= 1:
        return
    k = _split(end - start)
    if m < start + k:
        _inclusion_ranges(m, start, start + k, out)
        out.append((start + k, end))
    else:
        _inclusion_ranges(m, start + k, end, out)
        out.append((start, start + k))


def _consistency_ranges(m: int, start: int, end: int, whole: bool, out: list[Range]) -> None:
    """RFC 9162 SUBPROOF(m, D[start:end], b) as leaf ranges."""
    n = end - start
    if m == n:
        if not whole:
            out.append((start, end))
        return
    k = _split(n)
    if m <= k:
        _consistency_ranges(m, start, start + k, whole, out)
        out.append((start + k, end))
    else:
        _consistency_ranges(m - k, start + k, end, False, out)
        out.append((start, start + k))


def hash_ranges(read: Reader, ranges: Sequence[Range]) -> list[bytes]:
    """The RFC 6962 hash of each range, from one read of the stored hashes that cover them."""
    covers = [cover(a, b) for a, b in ranges]
    flat = read([stored_index(lv, n) for c in covers for lv, n in c])
    out, i = [], 0
    for c in covers:
        out.append(fold(flat[i : i + len(c)]))
        i += len(c)
    return out


def root(read: Reader, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else hash_ranges(read, [(0, size)])[0]


def inclusion_proof(read: Reader, index: int, size: int) -> list[bytes]:
    """The audit path of leaf `index` (0-based) in the tree of the first `size` leaves."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    ranges: list[Range] = []
    _inclusion_ranges(index, 0, size, ranges)
    return hash_ranges(read, ranges)


def consistency_proof(read: Reader, old: int, new: int) -> list[bytes]:
    """The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from {old} to {new} leaves: the log cannot shrink")
    if old in (0, new):
        return []
    ranges: list[Range] = []
    _consistency_ranges(old, 0, new, True, ranges)
    return hash_ranges(read, ranges)


def stored(conn: Connection) -> Reader:
    """A reader of the store's tree."""
    return lambda indexes: rows.node_hashes(conn, indexes)


def _check_sizes(*hashes: bytes) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise ProofError(f"a hash of {len(h)} bytes: RFC 6962 SHA-256 hashes have 32")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that `proof` leads to from `leaf` at `index` of `size`."""
    if not 0 <= index < size:
        raise ProofError(f"entry {index + 1} is not in a tree of {size} entries")
    _check_sizes(leaf, *proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected: bytes
) -> None:
    got = root_from_inclusion(index, size, leaf, proof)
    if got != expected:
        raise ProofError(
            f"entry {index + 1} is not in the tree of {size} entries: the proof leads to root "
            f"{got.hex()}, the checkpoint has {expected.hex()}"
        )


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: that the tree of `old` entries with `old_root` is a prefix of the tree
    of `new` entries with `new_root`."""
    if not 0 <= old <= new:
        raise ProofError(f"the log shrank from {old} to {new} entries")
    _check_sizes(old_root, new_root, *proof)
    if old == new:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same {old} entries")
        return
    if old == 0:
        if proof:
            raise ProofError("a consistency proof from the empty log must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(
            f"the log of {new} entries does not extend the kept checkpoint of {old}: its first "
            f"{old} entries hash to {fr.hex()}, the checkpoint says {old_root.hex()}"
        )
    if sr != new_root:
        raise ProofError(
            f"the consistency proof leads to root {sr.hex()}, not the new checkpoint's "
            f"{new_root.hex()}"
        )

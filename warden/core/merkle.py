"""RFC 6962 / RFC 9162 Merkle tree hashing over the trigger log, and where its hashes are kept.

- leaf hash = SHA-256(0x00 || entry bytes); node hash = SHA-256(0x01 || left || right). The
  entry bytes are an entry's canonical content (`warden.core.chain.canonical`), UTF-8.
- The hash of every *complete* subtree is stored once, when its last leaf arrives, at the index
  golang.org/x/mod/sumdb/tlog gives it (`stored_index`): level L's n-th hash is stored right
  after level L+1's (2n+1)-th, so the indexes grow in append order and an append of leaf n stores
  1 + (trailing one bits of n) hashes, O(log n) worst case, O(1) amortised.
- Any range the RFC's recursion asks for is either one complete subtree or a range ending at the
  tree size; the latter is the right-to-left fold of the complete subtrees that cover it
  (`cover`), so a root or a proof reads O(log n) stored hashes and never a leaf.

Pure: the store reads and writes the rows (warden.store.merkle), warden.triggerlog.merkle makes
and checks proofs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962 2.1: the hash of an empty list


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def stored_index(level: int, n: int) -> int:
    """Where the hash of the n-th complete subtree of 2**level leaves is stored (sumdb/tlog's
    StoredHashIndex)."""
    for _ in range(level):
        n = 2 * n + 1
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


def stored_count(size: int) -> int:
    """How many hashes a tree of `size` leaves stores: 2*size - popcount(size)."""
    return 2 * size - bin(size).count("1")


def cover(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees (level, n) that cover leaves [start, end), left to right, each the
    largest one aligned at its start that fits."""
    out = []
    while start < end:
        level = 0
        while start % (2 << level) == 0 and start + (2 << level) <= end:
            level += 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """The RFC 6962 hash of a range from the hashes of its `cover`: folded right to left."""
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def appended(
    size: int, frontier: Sequence[bytes], leaves: Iterable[bytes]
) -> tuple[list[tuple[int, bytes]], list[bytes]]:
    """The (stored index, hash) rows to store when `leaves` (leaf hashes) are appended to a tree
    of `size` leaves whose `frontier` is the hashes of `cover(0, size)`, and the new frontier."""
    stack = list(frontier)
    rows = []
    for leaf in leaves:
        rows.append((stored_index(0, size), leaf))
        h, level, n = leaf, 0, size
        while n & 1:  # a right child completes its parent
            h = node_hash(stack.pop(), h)
            level, n = level + 1, n >> 1
            rows.append((stored_index(level, n), h))
        stack.append(h)
        size += 1
    return rows, stack


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 root of a list of leaf hashes, computed from the leaves (O(n)): what an
    auditor recomputes from the entries themselves."""
    if not leaves:
        return EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []  # (level, hash) of complete subtrees
    for leaf in leaves:
        h, level = leaf, 0
        while stack and stack[-1][0] == level:
            h = node_hash(stack.pop()[1], h)
            level += 1
        stack.append((level, h))
    return fold([h for _, h in stack])

"""The Merkle tree over the trigger log: RFC 6962 hashes and RFC 9162 proofs, checked against
published test vectors, then made from the store's own tree for every size and every entry."""

from __future__ import annotations

import pytest

from tests.support.factories import T0
from tests.support.treelog import grow
from warden.core.chain import ACK
from warden.core.merkle import EMPTY_ROOT, appended, leaf_hash, root_of
from warden.store import Store, alerts
from warden.store import merkle as rows
from warden.triggerlog import merkle
from warden.triggerlog.entries import action_entry
from warden.triggerlog.merkle import ProofError

# Published vectors: github.com/transparency-dev/merkle, proof/verify_test.go (the RFC 6962
# vectors of Certificate Transparency, also in google/certificate-transparency-go and trillian):
# eight leaves, the roots of the trees of their first 1..8, and audit and consistency paths.
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
H = bytes.fromhex
# (leaf, size, path): leaf counts from 1 as in the source.
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
SOME_HASH = H("abacaba000000000000000000000000000000000000000000060061e00123456")


def _memory_tree() -> merkle.Reader:
    rows_, _ = appended(0, [], [leaf_hash(x) for x in LEAVES])
    table = dict(rows_)
    return lambda indexes: [table[i] for i in indexes]


def test_published_roots_and_paths_are_reproduced() -> None:
    read = _memory_tree()
    hashes = [leaf_hash(x) for x in LEAVES]
    assert merkle.root(read, 0) == EMPTY_ROOT == root_of([])
    for n in range(1, 9):
        assert merkle.root(read, n) == ROOTS[n - 1] == root_of(hashes[:n])
    for leaf, size, path in INCLUSION:
        assert merkle.inclusion_proof(read, leaf - 1, size) == path
        merkle.verify_inclusion(leaf - 1, size, hashes[leaf - 1], path, ROOTS[size - 1])
    for old, new, path in CONSISTENCY:
        assert merkle.consistency_proof(read, old, new) == path
        merkle.verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], path)


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION[1:])
def test_corrupted_inclusion_proofs_fail(leaf: int, size: int, path: list[bytes]) -> None:
    # The corruptions of verify_test.go's corruptInclusionProof.
    index, root, lh = leaf - 1, ROOTS[size - 1], leaf_hash(LEAVES[leaf - 1])
    probes = [
        (index - 1, size, root, lh, path),
        (index + 1, size, root, lh, path),
        (index ^ 2, size, root, lh, path),
        (index, size * 2, root, lh, path),
        (index, size // 2, root, lh, path),
        (index, size, root, leaf_hash(b"WrongLeaf"), path),
        (index, size, EMPTY_ROOT, lh, path),
        (index, size, SOME_HASH, lh, path),
        (index, size, root, lh, [*path, root]),
        (index, size, root, lh, [root, *path]),
        (index, size, root, lh, path[:-1]),
    ]
    for i in range(len(path)):
        flipped = [bytes([h[0] ^ 8]) + h[1:] if j == i else h for j, h in enumerate(path)]
        probes.append((index, size, root, lh, flipped))
    for idx, sz, rt, leaf_h, p in probes:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(idx, sz, leaf_h, p, rt)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY[1:])
def test_corrupted_consistency_proofs_fail(old: int, new: int, path: list[bytes]) -> None:
    # The corruptions of verify_test.go's corruptConsistencyProof.
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes = [
        (old - 1, new, r1, r2, path),
        (old + 1, new, r1, r2, path),
        (old ^ 2, new, r1, r2, path),
        (old, new * 2, r1, r2, path),
        (old, new // 2, r1, r2, path),
        (old, new, SOME_HASH, r2, path),
        (old, new, r1, SOME_HASH, path),
        (old, new, r2, r1, path),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*path, r1]),
        (old, new, r1, r2, [*path, r2]),
        (old, new, r1, r2, [r1, *path]),
        (old, new, r1, r2, [r2, *path]),
        (old, new, r1, r2, [path[0], *path]),
        (old, new, r1, r2, path[:-1]),
    ]
    for i in range(len(path)):
        flipped = [bytes([h[0] ^ 16]) + h[1:] if j == i else h for j, h in enumerate(path)]
        probes.append((old, new, r1, r2, flipped))
    for o, n, a, b, p in probes:
        if (o, n, a, b) == (old, new, r1, r2) and p == path:
            continue
        with pytest.raises(ProofError):
            merkle.verify_consistency(o, n, a, b, p)


def test_every_size_and_every_entry_proves_from_the_stored_tree(store: Store) -> None:
    # Appended one, then several at a time: the tree is maintained by the append itself.
    n = 37
    grow(store, 9)
    grow(store, n - 9, batch=5)
    with store.read() as conn:
        leaves = [leaf_hash(e.content.encode()) for e in alerts.entries(conn)]
        read = merkle.stored(conn)
        assert rows.tree_size(conn) == len(leaves) == n
        roots = [merkle.root(read, size) for size in range(n + 1)]
        for size in range(1, n + 1):
            assert roots[size] == root_of(leaves[:size])
            for m in range(size):
                merkle.verify_inclusion(
                    m, size, leaves[m], merkle.inclusion_proof(read, m, size), roots[size]
                )
            for old in range(size + 1):
                proof = merkle.consistency_proof(read, old, size)
                merkle.verify_consistency(old, size, roots[old], roots[size], proof)
        with pytest.raises(ProofError):  # a leaf proven against the wrong root
            merkle.verify_inclusion(3, n, leaves[4], merkle.inclusion_proof(read, 3, n), roots[n])


def test_an_append_out_of_step_with_the_tree_is_refused(store: Store) -> None:
    grow(store, 3)
    with store.write() as conn:
        e = action_entry((5, "0" * 64), T0, ACK, {})  # entry 6 after a tree of 3 leaves
        with pytest.raises(rows.TreeError, match="3 leaves but entry 6"):
            rows.append(conn, [e])


def test_the_migration_builds_the_tree_over_the_entries_already_logged(db_url: str) -> None:
    from alembic import command

    from warden.store.engine import alembic_config

    store = Store(db_url)
    store.upgrade()
    grow(store, 23, batch=6)
    with store.read() as conn:
        leaves = [leaf_hash(e.content.encode()) for e in alerts.entries(conn)]
    cfg = alembic_config(store.engine)
    command.downgrade(cfg, "0009")  # a log from before the tree: no tree tables
    command.upgrade(cfg, "0010")
    store.upgrade()
    with store.read() as conn:
        assert rows.tree_size(conn) == 23
        assert merkle.root(merkle.stored(conn), 23) == root_of(leaves)
    grow(store, 2)  # and appends continue it
    with store.read() as conn:
        assert rows.tree_size(conn) == 25
    store.dispose()

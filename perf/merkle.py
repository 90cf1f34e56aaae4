"""The trigger log's Merkle tree: what it costs to append, and how fast proofs come at size.

    .venv/bin/python perf/merkle.py [--entries 100000] [--leaves 1000000] [--proofs 200]

- `trigger_log_append_entries_per_second`: `warden.store.alerts.append_triggers` of ENTRIES
  entries (100 a transaction, as cycles append), into a fresh SQLite store, with the Merkle
  tree maintained (as warden runs) and, as the same-run baseline, into another fresh store with
  the tree's append switched off (the hash chain alone). Target: the tree costs ≤ 2x.
- `merkle_proof_ms`: p50 and p95 of inclusion proofs (and consistency proofs) of random entries
  against the whole tree, each in its own read transaction, from a tree of LEAVES leaves whose
  table is filled directly (bulk inserts of the rows `warden.core.merkle.appended` makes).
  Target: p50 < 5 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from warden.core.chain import ACK, Entry
from warden.core.merkle import appended, leaf_hash
from warden.store import Store, alerts
from warden.store import merkle as tree_rows
from warden.store.schema import merkle_hashes
from warden.triggerlog import merkle
from warden.triggerlog.entries import action_entry

sys.path.insert(0, str(Path(__file__).parent))
from harness import emit, say

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 100


def entries(count: int) -> list[Entry]:
    head, out = (0, "0" * 64), []
    for i in range(count):
        e = action_entry(
            head, T0 + timedelta(seconds=i), ACK, {"by": "perf", "note": f"entry {i}"},
            threshold="perf.bench00.high", subject=f"model-{i % 1000}",
        )  # fmt: skip
        out.append(e)
        head = (e.seq, e.hash)
    return out


def append_seconds(path: Path, made: list[Entry], with_tree: bool) -> float:
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    original = tree_rows.append
    if not with_tree:
        setattr(tree_rows, "append", lambda conn, entries: None)  # noqa: B010 - the chain alone
    try:
        start = time.perf_counter()
        for i in range(0, len(made), BATCH):
            with store.write() as conn:
                alerts.append_triggers(conn, made[i : i + BATCH])
        return time.perf_counter() - start
    finally:
        setattr(tree_rows, "append", original)  # noqa: B010
        store.dispose()


def append_figure(count: int, tmp: Path) -> None:
    say(f"merkle: making {count} entries")
    made = entries(count)
    times: dict[bool, list[float]] = {True: [], False: []}
    for n in range(2):  # interleaved, best of two each
        for with_tree in (False, True):
            path = tmp / f"append-{with_tree}-{n}.db"
            times[with_tree].append(append_seconds(path, made, with_tree))
            say(f"merkle: append tree={with_tree}: {times[with_tree][-1]:.2f} s")
    tree, chain = min(times[True]), min(times[False])
    emit(
        "trigger_log_append_entries_per_second",
        count / tree,
        "entries/s",
        "tree costs ≤ 2x the chain alone",
        tree <= 2 * chain,
        baseline={"chain_only_entries_per_second": round(count / chain, 1)},
        ratio_to_chain_only=round(tree / chain, 3),
        entries=count,
        batch=BATCH,
    )


def proof_figure(leaves: int, proofs: int, tmp: Path) -> None:
    store = Store(f"sqlite:///{tmp / 'proofs.db'}")
    store.upgrade()
    say(f"merkle: filling a tree of {leaves} leaves")
    start = time.perf_counter()
    size, frontier = 0, list[bytes]()
    with store.write() as conn:
        for i in range(0, leaves, 50_000):
            chunk = [leaf_hash(b'{"seq":%d}' % (n + 1)) for n in range(i, min(leaves, i + 50_000))]
            rows, frontier = appended(size, frontier, chunk)
            conn.execute(insert(merkle_hashes), [{"id": k, "hash": h} for k, h in rows])
            size += len(chunk)
    say(f"merkle: filled in {time.perf_counter() - start:.1f} s")
    rng = random.Random(18)
    inclusion, consistency = [], []
    for _ in range(proofs):
        m = rng.randrange(leaves)
        t = time.perf_counter()
        with store.read() as conn:
            n = tree_rows.tree_size(conn)
            read = merkle.stored(conn)
            path = merkle.inclusion_proof(read, m, n)
            root = merkle.root(read, n)
        inclusion.append((time.perf_counter() - t) * 1000)
        with store.read() as conn:
            leaf = tree_rows.node_hashes(conn, [merkle_index(m)])[0]
        merkle.verify_inclusion(m, n, leaf, path, root)
        old = rng.randrange(1, leaves)
        t = time.perf_counter()
        with store.read() as conn:
            read = merkle.stored(conn)
            merkle.consistency_proof(read, old, leaves)
        consistency.append((time.perf_counter() - t) * 1000)
    store.dispose()
    p50 = statistics.median(inclusion)
    emit(
        "merkle_proof_ms",
        p50,
        "ms",
        "inclusion proof p50 < 5 ms at 1,000,000 entries",
        p50 < 5,
        p95_ms=round(sorted(inclusion)[int(0.95 * len(inclusion))], 3),
        consistency_p50_ms=round(statistics.median(consistency), 3),
        leaves=leaves,
        proofs=proofs,
        note="each proof in its own read transaction, with the tree size and root read too",
    )


def merkle_index(m: int) -> int:
    from warden.core.merkle import stored_index

    return stored_index(0, m)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warden-perf-merkle-") as tmp:
        append_figure(args.entries, Path(tmp))
        proof_figure(args.leaves, args.proofs, Path(tmp))


if __name__ == "__main__":
    main()

"""A trigger log of N entries appended through the store's real append (hash chain and Merkle
tree in one transaction), for the Merkle tree, checkpoint and proof tests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection

from tests.support.factories import T0
from warden.core.chain import ACK
from warden.store import Store, alerts
from warden.triggerlog.entries import action_entry


def append(conn: Connection, count: int) -> None:
    """Append `count` entries (acknowledgements with distinct notes) to the log."""
    made = []
    head = alerts.chain_head(conn)
    for _ in range(count):
        seq = head[0] + 1
        e = action_entry(
            head,
            T0 + timedelta(minutes=seq),
            ACK,
            {"by": "ana", "note": f"entry {seq}"},
            threshold="cyber.test",
            subject="model-a",
        )
        made.append(e)
        head = (e.seq, e.hash)
    alerts.append_triggers(conn, made)


def grow(store: Store, count: int, batch: int = 1) -> None:
    for i in range(0, count, batch):
        with store.write() as conn:
            append(conn, min(batch, count - i))

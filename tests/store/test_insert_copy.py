"""Large batches: on PostgreSQL `insert_observations` goes through COPY and one INSERT ... SELECT
(warden/store/observations.py); the outcome is the plain INSERT's on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from warden.core.model import Observation
from warden.store import Store
from warden.store import observations as obs_rows
from warden.store.schema import observations

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def batch(n: int, start: int = 0) -> list[Observation]:
    return [
        Observation(
            f"m{i}",
            "bench",
            "acc",
            i / 1000,
            NOW - timedelta(minutes=i),
            f"k{i}",
            "test",
            "0" * 64,
            stderr=0.01 if i % 2 else None,
            n=100 if i % 3 else None,
            attributes={"variant": "high" if i % 5 == 0 else "", "vendor_reported": i == 7},
            model_known=i % 2 == 0,
        )
        for i in range(start, start + n)
    ]


def test_a_large_batch_is_stored_as_the_plain_insert_stores_it(store: Store) -> None:
    items = batch(obs_rows.COPY_FROM + 50)
    items.append(items[3])  # the same observation twice in one batch: stored once
    with store.write() as conn:
        assert obs_rows.insert_observations(conn, "f", items, NOW) == len(items) - 1
        # Again, in the same transaction: nothing new.
        assert obs_rows.insert_observations(conn, "f", items, NOW) == 0
    with store.write() as conn:  # a new transaction, part new
        more = batch(obs_rows.COPY_FROM, start=100)
        assert obs_rows.insert_observations(conn, "f", more, NOW) == 50
    with store.read() as conn:
        rows = conn.execute(select(observations).order_by(observations.c.id)).mappings().all()
    assert [r["key"] for r in rows] == [f"k{i}" for i in range(200)]  # ids in batch order
    seven = rows[7]
    assert (seven["vendor_reported"], seven["measured_by"]) == (True, "vendor")
    assert (rows[5]["variant"], rows[6]["variant"]) == ("high", "")
    assert rows[1]["stderr"] == 0.01 and rows[0]["stderr"] is None and rows[3]["n"] is None
    assert rows[2]["observed_at"] == NOW - timedelta(minutes=2)
    assert rows[4]["attributes"]["variant"] == "" and rows[4]["model_known"] is True

"""Large batches: on PostgreSQL `insert_observations` goes through COPY and one INSERT ... SELECT
(warden/store/observations.py); the outcome is the plain INSERT's on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

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


def test_a_rolled_back_batch_leaves_the_next_ones_on_its_connection_working(store: Store) -> None:
    # PostgreSQL makes its staging table once per connection; a rollback may take it away.
    size = obs_rows.COPY_FROM
    with store.engine.connect() as conn:
        with conn.begin() as first:  # the first batch of this connection, rolled back
            obs_rows.insert_observations(conn, "f", batch(size), NOW)
            first.rollback()
        with conn.begin():
            assert obs_rows.insert_observations(conn, "f", batch(size), NOW) == size
        with conn.begin():
            assert obs_rows.insert_observations(conn, "f", batch(size, 1000), NOW) == size
            with conn.begin_nested() as savepoint:
                obs_rows.insert_observations(conn, "f", batch(size, 2000), NOW)
                savepoint.rollback()
            assert obs_rows.insert_observations(conn, "f", batch(size, 3000), NOW) == size
        with pytest.raises(DBAPIError), conn.begin():  # a NULL where none may be
            bad = batch(size, 4000)
            bad[-1] = replace(bad[-1], subject=None)  # type: ignore[arg-type]
            obs_rows.insert_observations(conn, "f", bad, NOW)
        with conn.begin():
            assert obs_rows.insert_observations(conn, "f", batch(size, 5000), NOW) == size
    with store.read() as conn:
        keys = conn.execute(select(observations.c.key).order_by(observations.c.id)).scalars()
        assert [int(k[1:]) for k in keys] == [
            *range(size), *range(1000, 1000 + size), *range(3000, 3000 + size),
            *range(5000, 5000 + size),
        ]  # fmt: skip


def test_times_in_any_zone_and_json_attributes_are_stored_as_given(store: Store) -> None:
    items = batch(obs_rows.COPY_FROM)
    east = timezone(timedelta(hours=2))
    items[0] = replace(
        items[0],
        observed_at=datetime(2026, 3, 1, 12, 30, 0, 250, tzinfo=east),
        attributes={"note": 'pérf ✓ "quoted"', "nested": {"runs": [1, 2.5, None]}},
    )
    with store.write() as conn:
        assert obs_rows.insert_observations(conn, "f", items, NOW) == len(items)
    with store.read() as conn:
        row = conn.execute(select(observations).where(observations.c.key == "k0")).one()
    assert row.observed_at == datetime(2026, 3, 1, 10, 30, 0, 250, tzinfo=UTC)
    assert row.ingested_at == NOW
    assert row.attributes == {"note": 'pérf ✓ "quoted"', "nested": {"runs": [1, 2.5, None]}}

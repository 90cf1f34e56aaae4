"""Who measured each observation, in the store: the `measured_by` column follows the attribute
(or `vendor_reported`), the newest-per-series read keeps each measurer's newest observations,
and migration 0013 adds the column and fills it. On SQLite, and PostgreSQL when
WARDEN_TEST_DATABASE_URL is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command

from warden.core.model import Observation
from warden.store import Store
from warden.store import observations as obs_rows
from warden.store.engine import alembic_config
from warden.store.schema import feeds, observations

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAIR = ("bench", "acc")


def put(store: Store, *items: tuple[str, dict[str, Any], float, int, str]) -> None:
    """(subject, attributes, value, minutes after T0, key) each."""
    rows = [
        Observation(
            subject,
            *PAIR,
            value,
            T0 + timedelta(minutes=m),
            key,
            "src",
            "0" * 64,
            attributes=attributes,
        )
        for subject, attributes, value, m, key in items
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "feed", rows, T0)


def test_the_column_follows_the_attribute_and_vendor_reported(store: Store) -> None:
    put(
        store,
        ("m", {"measured_by": "independent"}, 0.1, 1, "a"),
        ("m", {"vendor_reported": True}, 0.2, 2, "b"),
        ("m", {}, 0.3, 3, "c"),
        ("m", {"measured_by": "someone"}, 0.4, 4, "d"),  # not a measurer: the default
    )
    with store.read() as conn:
        o = observations
        got = dict(conn.execute(sa.select(o.c.key, o.c.measured_by)).all())
        vendor = dict(conn.execute(sa.select(o.c.key, o.c.vendor_reported)).all())
    assert got == {"a": "independent", "b": "vendor", "c": "own", "d": "own"}
    assert [k for k, v in vendor.items() if v] == ["b"]


def test_each_measurers_newest_is_read_not_only_the_newest(store: Store) -> None:
    # The vendor's number is newer; the independent one must not be hidden behind it.
    put(
        store,
        ("m", {"measured_by": "independent"}, 0.70, 1, "i1"),
        ("m", {"measured_by": "independent"}, 0.71, 2, "i2"),
        ("m", {"measured_by": "vendor"}, 0.95, 5, "v1"),
    )
    for depth, want in (
        (1, [("vendor", 0.95), ("independent", 0.71)]),
        (2, [("vendor", 0.95), ("independent", 0.71), ("independent", 0.70)]),
    ):
        with store.read() as conn:
            found = obs_rows.series(conn, [PAIR], depth)
        assert [(p.measured_by, p.value) for p in found[PAIR]["m"]] == want
    with store.read() as conn:
        found = obs_rows.series(conn, [PAIR], 1, independent=True)
    assert [p.value for p in found[PAIR]["m"]] == [0.71]


OLD = sa.table(
    "observations",
    *(
        sa.column(name, type_)
        for name, type_ in (
            ("feed", sa.String()),
            ("key", sa.String()),
            ("subject", sa.String()),
            ("benchmark", sa.String()),
            ("metric", sa.String()),
            ("value", sa.Float()),
            ("observed_at", sa.DateTime(timezone=True)),
            ("ingested_at", sa.DateTime(timezone=True)),
            ("source", sa.Text()),
            ("content_hash", sa.String()),
            ("attributes", sa.JSON()),
            ("vendor_reported", sa.Boolean()),
        )
    ),
)


def old_row(
    feed: str, key: str, attributes: dict[str, Any], vendor: bool = False
) -> dict[str, Any]:
    return {
        "feed": feed,
        "key": key,
        "subject": "m",
        "benchmark": "b",
        "metric": "acc",
        "value": 0.5,
        "observed_at": T0,
        "ingested_at": T0,
        "source": "src",
        "content_hash": "0" * 64,
        "attributes": attributes,
        "vendor_reported": vendor,
    }


def test_the_migration_fills_measured_by_from_what_each_row_kept(db_url: str) -> None:
    store = Store(db_url)
    try:
        command.upgrade(alembic_config(store.engine), "0012")
        with store.engine.begin() as conn:
            conn.execute(
                sa.insert(feeds),
                [
                    {"id": "epoch", "connector": "epoch_benchmarks"},
                    {"id": "swe", "connector": "swebench"},
                    {"id": "cards", "connector": "hf_model_index"},
                    {"id": "lab", "connector": "inspect_logs"},
                    {"id": "push", "connector": "observations_json"},
                ],
            )
            conn.execute(
                sa.insert(OLD),
                [
                    old_row("epoch", "e", {"record": "2"}),
                    old_row("swe", "s", {}),
                    old_row("cards", "c", {"vendor_reported": True}, vendor=True),
                    old_row("lab", "l", {}),
                    old_row("push", "p", {"measured_by": "independent"}),
                    old_row("push", "q", {"measured_by": "nobody"}),
                ],
            )
        store.upgrade()
        with store.read() as conn:
            o = observations
            got = dict(conn.execute(sa.select(o.c.key, o.c.measured_by)).all())
        command.downgrade(alembic_config(store.engine), "0012")
        with store.engine.connect() as conn:
            names = {c["name"] for c in sa.inspect(conn).get_columns("observations")}
    finally:
        store.dispose()
    assert got == {
        "e": "independent",
        "s": "independent",
        "c": "vendor",
        "l": "own",
        "p": "independent",
        "q": "own",
    }
    assert "measured_by" not in names

"""Variants in the store: a series is (benchmark, metric, subject, variant); the newest-per-series
read keeps each variant's newest observations; migration 0011 adds the column and fills it for
the rows whose variant can be told. On SQLite, and PostgreSQL when WARDEN_TEST_DATABASE_URL is
set."""

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


def put(store: Store, feed: str, *items: tuple[str, str, float, int, str]) -> None:
    """(subject, variant, value, minutes after T0, key) each."""
    rows = [
        Observation(
            subject,
            *PAIR,
            value,
            T0 + timedelta(minutes=minutes),
            key,
            "src",
            "0" * 64,
            attributes={"variant": variant} if variant else {},
        )
        for subject, variant, value, minutes, key in items
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, feed, rows, T0)


def read(store: Store, depth: int) -> dict[str, list[tuple[str, float]]]:
    with store.read() as conn:
        found = obs_rows.series(conn, [PAIR], depth)
    return {s: [(p.variant, p.value) for p in points] for s, points in found[PAIR].items()}


def test_the_newest_of_each_variant_is_read_not_only_the_newest_run(store: Store) -> None:
    put(
        store,
        "epoch",
        ("acme", "xhigh", 0.85, 1, "k1"),
        ("acme", "high", 0.75, 2, "k2"),
        ("acme", "medium", 0.6, 3, "k3"),
        ("acme", "xhigh", 0.8, 0, "k0"),  # an older xhigh run
        ("beta", "", 0.5, 1, "k4"),
    )
    assert read(store, 1) == {
        "acme": [("high", 0.75), ("medium", 0.6), ("xhigh", 0.85)],
        "beta": [("", 0.5)],
    }
    assert read(store, 2)["acme"] == [
        ("high", 0.75),
        ("medium", 0.6),
        ("xhigh", 0.85),
        ("xhigh", 0.8),
    ]
    # A newer run of a variant replaces the older one of that variant, and no other.
    put(store, "epoch", ("acme", "xhigh", 0.7, 5, "k5"))
    assert read(store, 1)["acme"] == [("high", 0.75), ("medium", 0.6), ("xhigh", 0.7)]


def test_one_measurement_stored_by_two_feeds_counts_once_per_variant(store: Store) -> None:
    put(store, "a", ("m", "high", 0.7, 1, "same"), ("m", "low", 0.4, 1, "low"))
    put(store, "b", ("m", "high", 0.7, 1, "same"))
    assert read(store, 3) == {"m": [("high", 0.7), ("low", 0.4)]}


def test_the_variant_column_is_the_variant_attribute(store: Store) -> None:
    long = "s" * 300
    put(store, "f", ("m", long, 0.1, 1, "k1"), ("m", "", 0.2, 2, "k2"))
    with store.write() as conn:
        o = Observation("m", *PAIR, 0.3, T0, "k3", "src", "0" * 64, attributes={"variant": 7})
        obs_rows.insert_observations(conn, "f", [o], T0)
        got = conn.execute(sa.select(observations.c.key, observations.c.variant)).all()
    assert sorted(got) == [("k1", "s" * 200), ("k2", ""), ("k3", "")]


# -- migration 0011 -----------------------------------------------------------------------------
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
            ("model_known", sa.Boolean()),
        )
    ),
)


def old_row(
    feed: str, key: str, subject: str, attributes: dict[str, Any], known: bool
) -> dict[str, Any]:
    return {
        "feed": feed,
        "key": key,
        "subject": subject,
        "benchmark": "gpqa_diamond",
        "metric": "mean_score",
        "value": 0.5,
        "observed_at": T0,
        "ingested_at": T0,
        "source": "src",
        "content_hash": "0" * 64,
        "attributes": attributes,
        "model_known": known,
    }


def test_the_migration_fills_variants_from_what_each_row_kept(db_url: str) -> None:
    store = Store(db_url)
    try:
        command.upgrade(alembic_config(store.engine), "0010")
        metr_scaffolds = (
            "mtb/start_metr_task,metr_agents/react; metr_tasks_swaa/init_solver,generate; "
            "metr_agents/react"
        )
        with store.engine.begin() as conn:
            conn.execute(
                sa.insert(feeds),
                [
                    {"id": "swe", "connector": "swebench"},
                    {"id": "metr", "connector": "metr_horizons"},
                    {"id": "lab", "connector": "inspect_logs"},
                ],
            )
            conn.execute(
                sa.insert(OLD),
                [
                    # Epoch rows of a model the registry did not know: the subject kept the suffix.
                    old_row(
                        "epoch", "e1", "foo-2025_high", {"setting": "high", "record": "2"}, False
                    ),
                    old_row("epoch", "e2", "foo-2025_16K", {"setting": "16K"}, False),
                    # ... and of a model it knew: canonical subject, the suffix in raw_model.
                    old_row(
                        "epoch",
                        "e3",
                        "openai/gpt-5.2",
                        {"setting": "xhigh", "raw_model": "gpt-5.2-2025-12-11_xhigh"},
                        True,
                    ),
                    old_row("swe", "s1", "m", {"scaffold": "Agent X"}, False),
                    # METR's scaffolds go with the file's version: not a variant.
                    old_row("metr", "m1", "gpt_5", {"scaffold": metr_scaffolds}, False),
                    old_row("lab", "l1", "m", {"scaffold": "in-house"}, False),  # not a variant
                    old_row("lab", "l2", "m", {"variant": "own"}, False),
                    old_row("epoch", "e4", "bar", {"record": "3"}, False),
                ],
            )
        store.upgrade()
        with store.read() as conn:
            o = observations
            got = {
                key: (subject, variant, attributes)
                for key, subject, variant, attributes in conn.execute(
                    sa.select(o.c.key, o.c.subject, o.c.variant, o.c.attributes)
                )
            }
    finally:
        store.dispose()
    assert got["e1"] == (
        "foo-2025",
        "high",
        {"variant": "high", "model_version": "foo-2025_high", "record": "2"},
    )
    assert got["e2"][:2] == ("foo-2025", "16K")
    assert got["e3"] == (
        "openai/gpt-5.2",
        "xhigh",
        {
            "variant": "xhigh",
            "raw_model": "gpt-5.2-2025-12-11",
            "model_version": "gpt-5.2-2025-12-11_xhigh",
        },
    )
    assert got["s1"] == ("m", "Agent X", {"scaffold": "Agent X", "variant": "Agent X"})
    assert got["m1"] == ("gpt_5", "", {"scaffold": metr_scaffolds})
    assert got["l1"] == ("m", "", {"scaffold": "in-house"})
    assert got["l2"][:2] == ("m", "own")
    assert got["e4"] == ("bar", "", {"record": "3"})

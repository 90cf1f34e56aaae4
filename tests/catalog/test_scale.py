"""Scales: values arrive in the source's scale and are stored in the metric's canonical one; a
value its scale cannot take is rejected on its own, the rest of its payload is kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from thresholds import bundled_catalog, bundled_registry
from warden.catalog.registry import Registry, convert
from warden.catalog.thresholds import load_catalog
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import Cursor, rejected, sha256
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations, rejects

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_catalog([bundled_catalog()], [bundled_registry()]).registry


def obs(benchmark: str, metric: str, value: float, **attributes: Any) -> Observation:
    return Observation(
        "acme/m1", benchmark, metric, value, T, f"k{value}", "src", "0" * 64, 0.5, None, attributes
    )


def test_percent_and_hours_convert_to_the_canonical_scale(registry: Registry) -> None:
    o = registry.normalise(obs("gpqa_diamond", "accuracy", 87.5, scale="percent"))
    assert (o.value, o.stderr) == (0.875, 0.005)
    assert o.attributes["scale"] == "fraction"
    assert (o.attributes["raw_value"], o.attributes["raw_scale"]) == (87.5, "percent")
    o = registry.normalise(obs("metr_time_horizon", "p50_minutes", 2.0, scale="hours"))
    assert (o.value, o.stderr) == (120.0, 30.0)
    o = registry.normalise(obs("gpqa_diamond", "accuracy", 0.4))  # canonical already
    assert (
        o.value == 0.4 and o.attributes["scale"] == "fraction" and "raw_value" not in o.attributes
    )


@pytest.mark.parametrize(
    ("value", "scale", "field", "message"),
    [
        (
            87.5,
            None,
            "value",
            "87.5 is impossible on a fraction scale (must be in [0, 1]) (a percentage?",
        ),
        (101.0, "percent", "value", "101 is impossible on a percent scale"),
        (-0.1, None, "value", "-0.1 is impossible on a fraction scale"),
        (
            30.0,
            "minutes",
            "scale",
            "a value in minutes cannot be converted to this metric's fraction",
        ),
        (1.0, "furlongs", "scale", "a value in furlongs cannot be converted"),
    ],
)
def test_impossible_values_and_scales_are_refused(
    registry: Registry, value: float, scale: str | None, field: str, message: str
) -> None:
    attributes = {} if scale is None else {"scale": scale}
    with pytest.raises(ParseError) as caught:
        registry.normalise(obs("gpqa_diamond", "accuracy", value, **attributes))
    assert caught.value.reason == "invalid_value" and caught.value.field == field
    assert message in caught.value.detail


def test_unknown_metrics_keep_their_value_and_scale(registry: Registry) -> None:
    o = registry.normalise(obs("lab/secret_eval", "accuracy", 87.5, scale="percent"))
    assert o.value == 87.5 and o.attributes["scale"] == "percent"


def test_negative_durations_are_impossible() -> None:
    with pytest.raises(ParseError, match="impossible on a minutes scale"):
        convert(-3.0, None, None, "minutes")
    assert convert(90.0, None, "seconds", "minutes") == (1.5, None)


class Rows:
    """One payload of rows (value, scale); a row whose value is None is refused by the connector
    itself, as a bad CSV row would be."""

    name: ClassVar[str] = "rows"

    def __init__(self, rows: list[tuple[float | None, str | None]]) -> None:
        self.rows = rows

    def fetch(self, cursor: Cursor) -> Iterator[Payload | Rejection | Pending]:
        data = repr(self.rows).encode()
        yield Payload("rows.csv", data, sha256(data), version="v1")

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        out: list[Observation | Rejection] = []
        for i, (value, scale) in enumerate(self.rows, start=1):
            if value is None:
                error = ParseError(
                    "invalid_value", "not a number", record=f"row {i}", field="score"
                )
                out.append(rejected(payload, error))
                continue
            attributes = {"record": f"row {i}"} | ({"scale": scale} if scale else {})
            out.append(
                Observation(
                    f"acme/m{i}", "GPQA diamond", "mean_score", value, T, f"k{i}",
                    payload.source, payload.content_hash, attributes=attributes,
                )
            )  # fmt: skip
        return out


def test_ingest_rejects_bad_rows_alone_and_stores_the_rest(
    store: Store, registry: Registry
) -> None:
    rows: list[tuple[float | None, str | None]] = [
        (55.0, "percent"),
        (0.6, None),
        (85.0, None),  # a percentage in a fraction column
        (None, None),
    ]
    cursor = Cursor()
    result = run_feed(store, "rows", Rows(rows), cursor, lambda: T, registry)
    assert (result.ingested, result.rejected, result.error) == (2, 2, None)
    with store.read() as conn:
        stored = conn.execute(
            select(observations.c.subject, observations.c.benchmark, observations.c.value)
        ).all()
        refused = conn.execute(select(rejects.c.record, rejects.c.field, rejects.c.reason)).all()
    assert sorted(stored) == [("acme/m1", "gpqa_diamond", 0.55), ("acme/m2", "gpqa_diamond", 0.6)]
    assert sorted(refused) == [
        ("row 3", "value", "invalid_value"),
        ("row 4", "score", "invalid_value"),
    ]
    assert cursor.versions == {"rows.csv": "v1"}  # the payload counts as read
    again = run_feed(store, "rows", Rows(rows), Cursor(), lambda: T, registry)
    assert (again.ingested, again.duplicates) == (0, 2)


def test_a_confidence_interval_gives_the_stderr_on_the_less_capable_side(
    registry: Registry,
) -> None:
    ci = {"ci_low": 1.0, "ci_high": 5.0, "ci_level": 0.95, "scale": "hours"}
    o = registry.normalise(
        Observation("m", "metr_time_horizon", "p50_minutes", 2.0, T, "k", "s", "0" * 64,
                    attributes=ci)
    )  # fmt: skip
    assert o.value == 120.0 and o.attributes["stderr_from"] == "ci_low"
    assert o.stderr == pytest.approx(60 / 1.959964, rel=1e-5)  # 1 hour below, at z(0.95)
    # with `confidence: 0.95` the compared bound is the interval's own lower bound: 60 minutes
    assert o.value - 1.959964 * o.stderr == pytest.approx(60.0, rel=1e-5)
    odd = {"ci_low": 3.0, "ci_high": 5.0, "ci_level": 0.95}  # the value lies outside its CI
    p = registry.normalise(
        Observation("m", "metr_time_horizon", "p50_minutes", 2.0, T, "k", "s", "0" * 64,
                    attributes=odd)
    )  # fmt: skip
    assert p.stderr is None and "stderr_from" not in p.attributes

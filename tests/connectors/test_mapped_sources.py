"""Mapped feeds (connectors `csv` and `json`) on arbitrary input (hypothesis), on real data and end
to end through a feed run. The documents and parsing: test_mapped.py."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.mapped import CsvFeed, JsonFeed
from tests.connectors.conftest import clock
from tests.connectors.mapped_feeds import (
    CSV,
    DATA,
    HEADER,
    JSON,
    SETTINGS,
    file_payload,
    fits_the_store,
    payload,
    split,
)
from warden.core.errors import ParseError
from warden.core.model import Observation, Rejection
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations, rejects

# -- properties --------------------------------------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["acme/m2", "0.5", "55%", "NaN", "2026-01-01T00:00:00", "gpqa_diamond"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
records = st.fixed_dictionaries(
    {
        "model": st.one_of(st.fixed_dictionaries({"name": json_values}), json_values),
        "task": json_values,
        "scores": st.one_of(st.fixed_dictionaries({"acc": json_values}), json_values),
        "n": json_values,
        "evaluated_at": json_values,
    }
)
documents = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"data": st.fixed_dictionaries({"results": st.lists(records | json_values, max_size=4)})}
    ),
)


def only_parse_errors(parse: Any, content: bytes) -> None:
    try:
        result = parse(payload(content))
    except ParseError as exc:
        assert exc.reason in ParseError.REASONS
        assert exc.detail.isprintable()
        return
    for item in result:
        if isinstance(item, Observation):
            fits_the_store(item)
        else:
            assert isinstance(item, Rejection) and item.reason in ParseError.REASONS
            assert item.message.isprintable()


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_parse_error(content: bytes) -> None:
    only_parse_errors(CsvFeed(CSV).parse, content)
    only_parse_errors(JsonFeed(JSON).parse, content)


@SETTINGS
@given(documents)
def test_arbitrary_json_gives_observations_or_parse_errors(doc: Any) -> None:
    only_parse_errors(JsonFeed(JSON).parse, json.dumps(doc).encode())


@SETTINGS
@given(st.lists(st.lists(scalars.map(str), min_size=1, max_size=9), max_size=5))
def test_arbitrary_csv_rows_give_observations_or_parse_errors(rows: list[list[str]]) -> None:
    header = HEADER
    body = "\n".join(",".join(json.dumps(c) if "," in c else c for c in row) for row in rows)
    only_parse_errors(CsvFeed(CSV).parse, (header + body).encode("utf-8", "surrogatepass"))


# -- real data and end to end ------------------------------------------------------------------
@pytest.mark.realdata
def test_epoch_csv_read_through_a_mapping(samples: Path) -> None:
    path = samples / "epoch" / "benchmark_data" / "swe_bench_verified.csv"
    feed = CsvFeed(
        {
            "source": str(path),
            "model": {"column": "Model version"},
            "benchmark": {"value": "swe_bench_verified"},
            "metric": {"value": "mean_score"},
            "value": {"column": "mean_score"},
            "stderr": {"column": "stderr"},
            "time": {"column": "Started at"},
            "timestamp_kind": "run_start",
            "scale": "fraction",
            "attributes": {"organisation": "Organization", "release_date": "Release date"},
        }
    )
    found, refused = split(feed.parse(file_payload(path)))
    assert refused == []
    assert len(found) == 23  # 23 rows (some cells span lines)
    first = found[0]
    assert (first.subject, first.value) == ("gpt-5-mini-2025-08-07_high", 0.616)
    assert first.stderr == pytest.approx(0.02177236946554712)
    assert first.observed_at == datetime(2025, 10, 30, 10, 54, 58, 88000, tzinfo=UTC)
    assert first.attributes["organisation"] == "OpenAI"
    assert first.attributes["release_date"] == "2025-08-07"


def test_csv_feed_end_to_end(store: Store, tmp_path: Path) -> None:
    shutil.copy(DATA / "scores.csv", tmp_path / "scores.csv")
    (tmp_path / "broken.csv").write_text("model,score\nacme/m2,0.5\n")
    feed = CsvFeed({**CSV, "source": str(tmp_path)})
    result = run_feed(store, "lab-sheet", feed, Cursor(), clock)
    assert (result.ingested, result.rejected, result.error) == (3, 8, None)
    with store.read() as conn:
        stored = conn.execute(select(observations.c.subject, observations.c.value)).all()
        reasons = conn.execute(select(rejects.c.record, rejects.c.field)).all()
    assert sorted(tuple(r) for r in stored) == [
        ("acme/m2", 71.5),
        ("acme/m3", 74.0),
        ("beta/7b", 55.5),
    ]
    assert (None, "Model") in [tuple(r) for r in reasons]
    again = run_feed(store, "lab-sheet", feed, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 3)
    cursor = Cursor()
    run_feed(store, "lab-sheet", feed, cursor, clock)
    unchanged = run_feed(store, "lab-sheet", feed, cursor, clock)
    assert (unchanged.ingested, unchanged.duplicates, unchanged.rejected) == (0, 0, 0)


def test_json_feed_end_to_end(store: Store, tmp_path: Path) -> None:
    shutil.copy(DATA / "board.json", tmp_path / "board.json")
    feed = JsonFeed({**JSON, "source": str(tmp_path / "board.json")})
    result = run_feed(store, "partner-board", feed, Cursor(), clock)
    assert (result.ingested, result.rejected, result.error) == (2, 4, None)
    again = run_feed(store, "partner-board", feed, Cursor(), clock)
    assert (again.ingested, again.duplicates) == (0, 2)

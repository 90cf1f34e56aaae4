"""The feeds, documents and helpers the mapped-feed tests share (test_mapped.py,
test_mapped_sources.py)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from connectors.mapped import CsvFeed, JsonFeed
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import sha256

DATA = Path(__file__).parent / "data" / "mapped"
FETCHED = datetime(2026, 4, 1, 8, tzinfo=UTC)
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CSV = {
    "source": str(DATA / "scores.csv"),
    "model": {"column": "Model"},
    "benchmark": {"value": "gpqa_diamond"},
    "metric": {"value": "accuracy"},
    "value": {"column": "Score"},
    "stderr": {"column": "SE"},
    "n": {"column": "Questions"},
    "time": {"column": "Evaluated"},
    "timezone": "Europe/London",
    "timestamp_kind": "run_end",
    "scale": "percent",
    "attributes": {
        "organisation": "Organisation",
        "open_weights": "Open weights",
        "notes": {"column": "Notes"},
    },
}
JSON = {
    "source": str(DATA / "board.json"),
    "records": "data.results[*]",
    "model": {"field": "model.name"},
    "benchmark": {"field": "task"},
    "metric": {"value": "accuracy"},
    "value": {"field": "scores.acc"},
    "stderr": {"field": "scores['acc stderr']"},
    "n": {"field": "n"},
    "time": {"field": "evaluated_at"},
    "scale": "fraction",
    "attributes": {"organisation": "org"},
}


HEADER = "Model ,Score,SE,Questions,Evaluated,Organisation,Open weights,Notes\n"


def payload(
    content: bytes | str, source: str = "feed", fetched: datetime | None = FETCHED
) -> Payload:
    data = content.encode() if isinstance(content, str) else content
    return Payload(source, data, sha256(data), fetched_at=fetched)


def file_payload(path: Path) -> Payload:
    return payload(path.read_bytes(), str(path))


def split(items: list[Observation | Rejection]) -> tuple[list[Observation], list[Rejection]]:
    return (
        [o for o in items if isinstance(o, Observation)],
        [r for r in items if isinstance(r, Rejection)],
    )


def csv_parse(text: str | bytes, **changes: Any) -> list[Observation | Rejection]:
    return CsvFeed({**CSV, **changes}).parse(payload(text))


def json_parse(doc: Any, **changes: Any) -> list[Observation | Rejection]:
    content = doc if isinstance(doc, bytes | str) else json.dumps(doc)
    return JsonFeed({**JSON, **changes}).parse(payload(content))


def fits_the_store(o: Observation) -> None:
    for text in (o.subject, o.benchmark, o.metric):
        assert 0 < len(text) <= 200 and text.isprintable()
    assert math.isfinite(o.value)
    assert o.stderr is None or (math.isfinite(o.stderr) and o.stderr >= 0)
    assert o.n is None or 0 <= o.n <= 2**31 - 1
    assert o.observed_at.tzinfo is UTC
    json.dumps(o.attributes)

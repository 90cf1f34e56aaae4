"""The SWE-bench documents and helpers the swebench tests share (test_swebench.py,
test_swebench_sources.py)."""

from __future__ import annotations

import json
import math
from datetime import UTC
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from connectors.swebench import SweBench
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Cursor, rejected, sha256

DATA = Path(__file__).parent / "data" / "swebench"
BOARD = DATA / "leaderboards.json"
EXPERIMENTS = DATA / "experiments"
RUN = "evaluation/verified/20250401_acme-agent_acme-m2"
SAMPLE = "swe-bench/leaderboards.2025-12-02.truncated.json"
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def payload(content: bytes | str, source: str = "leaderboards.json") -> Payload:
    data = content.encode() if isinstance(content, str) else content
    return Payload(source, data, sha256(data))


def split(items: list[Observation | Rejection]) -> tuple[list[Observation], list[Rejection]]:
    return (
        [o for o in items if isinstance(o, Observation)],
        [r for r in items if isinstance(r, Rejection)],
    )


def board(doc: Any, **options: Any) -> list[Observation | Rejection]:
    content = doc if isinstance(doc, bytes | str) else json.dumps(doc)
    return SweBench({"source": "x", **options}).parse(payload(content))


def one_entry(**changes: Any) -> list[Observation | Rejection]:
    entry = {
        "name": "Acme Agent",
        "folder": "20250301_acme",
        "date": "2025-03-01",
        "resolved": 70.0,
        "checked": True,
        "tags": ["Model: acme-m2"],
        **changes,
    }
    return board({"leaderboards": [{"name": "Verified", "results": [entry]}]})


def read_all(connector: SweBench) -> list[Observation | Rejection]:
    out: list[Observation | Rejection] = []
    for item in connector.fetch(Cursor()):
        assert isinstance(item, Payload), item
        try:
            out.extend(connector.parse(item))
        except ParseError as exc:  # a run is one record: its payload is refused whole
            out.append(rejected(item, exc))
    return out


def fits_the_store(o: Observation) -> None:
    for text in (o.subject, o.benchmark, o.metric):
        assert 0 < len(text) <= 200 and text.isprintable()
    assert math.isfinite(o.value) and 0 <= o.value <= 100
    assert o.n is None or 0 < o.n <= 2**31 - 1
    assert o.observed_at.tzinfo is UTC
    json.dumps(o.attributes)


def experiments(root: Path = EXPERIMENTS, **options: Any) -> SweBench:
    return SweBench({"source": str(root), "layout": "experiments", **options})

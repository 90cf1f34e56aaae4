"""The Epoch tables and helpers the epoch tests share (test_epoch.py, test_epoch_sources.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.epoch_benchmarks import parse_hub
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import sha256

DATA = Path(__file__).parent / "data" / "epoch"
FETCHED = datetime(2026, 2, 1, 12, tzinfo=UTC)
HEADER = (
    "Model version,mean_score,Best score (across scorers),Release date,Organization,Country,"
    "Training compute (FLOP),Training compute notes,stderr,Log viewer,Logs,Started at,id"
)
ROW = "m-1,0.5,0.5,2025-06-30,Org,Country,,,0.02,,,2025-07-01T00:00:00Z,id1"


def payload(
    content: str | bytes, name: str = "gpqa_diamond.csv", member: str | None = None
) -> Payload:
    data = content.encode() if isinstance(content, str) else content
    return Payload(name, data, sha256(data), member, None, FETCHED)


def split(items: Sequence[Observation | Rejection]) -> tuple[list[Observation], list[Rejection]]:
    obs = [o for o in items if isinstance(o, Observation)]
    rej = [r for r in items if isinstance(r, Rejection)]
    assert len(obs) + len(rej) == len(items)
    return obs, rej


def hub(
    text: str, name: str = "gpqa_diamond.csv", scales: dict[str, str] | None = None
) -> tuple[list[Observation], list[Rejection]]:
    return split(parse_hub(payload(text, name), scales))


def fixture(name: str) -> Payload:
    return payload((DATA / name).read_bytes(), str(DATA / name))


def error(parse: object, text: str | bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(payload(text))  # type: ignore[operator]
    return caught.value

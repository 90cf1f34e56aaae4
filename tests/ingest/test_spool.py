"""The spool a long stream's chunks wait in: values come back equal, in order, as often as read,
including chunks that went past its memory to disk."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from warden.core.model import Observation, Rejection
from warden.ingest import spool as module
from warden.ingest.spool import Spool

T = datetime(2026, 1, 1, tzinfo=UTC)


def observation(i: int) -> Observation:
    return Observation(
        f"model-{i}", "bench", "acc", i / 7, T, f"key-{i}", "f.json", "h" * 64,
        stderr=None if i % 2 else 0.01, n=i or None,
        attributes={"record": str(i), "scale": "fraction", "nested": {"a": [1, 2]}},
        benchmark_known=bool(i % 3), model_known=None,
    )  # fmt: skip


def test_chunks_come_back_equal_and_in_order_on_every_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "SPOOL_MEMORY", 4096)  # most chunks go to disk
    values = [observation(i) for i in range(2500)]
    spool: Spool[Observation] = Spool(Observation)
    for start in range(0, 2500, 1000):
        spool.add(values[start : start + 1000])
    spool.add([])
    assert len(spool) == 2500
    assert [len(c) for c in spool.chunks()] == [1000, 1000, 500]
    assert list(spool) == values and list(spool) == values
    spool.close()


def test_rejections_round_trip() -> None:
    refused = [Rejection("f.json", "invalid_value", "bad", "h", str(i), "value") for i in range(3)]
    spool: Spool[Rejection] = Spool(Rejection)
    spool.add(refused)
    assert list(spool) == refused and len(spool) == 3
    spool.close()

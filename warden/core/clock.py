"""The clock is injected into ingest, evaluation and dispatch; tests pass fixed clocks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)

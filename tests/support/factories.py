"""Small builders for thresholds and observations used across tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from warden.catalog.thresholds import Threshold
from warden.core.model import Point

T0 = datetime(2026, 1, 1, tzinfo=UTC)

# A catalog with one threshold that fires on the logs tests/support/inspect_tasks.py `tiny` makes.
TINY_CATALOG = """
benchmarks: [{id: tiny, title: Tiny test task}]
thresholds:
  - id: test.tiny.match.high
    title: Tiny task mostly right
    domain: test
    level: high
    sources: [{title: F, url: "https://example.org/"}]
    when: {benchmark: tiny, metric: match/accuracy, op: ">=", value: 0.5}
    then: {severity: critical, mitigations: [Pause.]}
"""


def threshold(**overrides: Any) -> Threshold:
    data: dict[str, Any] = {
        "id": "test.bench.high",
        "title": "Test threshold",
        "domain": "test",
        "level": "high",
        "sources": [{"title": "Source", "url": "https://example.org/"}],
        "when": {"benchmark": "bench", "metric": "acc", "op": ">=", "value": 0.5},
        "scope": "per_model",
        "warn_at": 0.4,
        "for": 1,
        "then": {"severity": "critical", "mitigations": ["Pause."]},
    }
    when = overrides.pop("when", {})
    data.update(overrides)
    data["when"] = {**data["when"], **when}
    return Threshold.model_validate(data)


_ids = iter(range(1, 10**9))


def obs(subject: str, value: float, minutes: float = 0, **kw: Any) -> Point:
    """An evaluation point; each gets its own id and content key unless given."""
    point_id = kw.get("id", next(_ids))
    return Point(
        point_id, subject, value, T0 + timedelta(minutes=minutes), kw.get("key", f"key-{point_id}")
    )


def series(*items: Point) -> dict[str, list[Point]]:
    """Group points by subject, newest first (as the store returns them)."""
    out: dict[str, list[Point]] = {}
    for o in sorted(items, key=lambda o: (o.observed_at, o.id), reverse=True):
        out.setdefault(o.subject, []).append(o)
    return out

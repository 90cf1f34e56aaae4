"""The periodic sweep re-evaluates what time alone can change, what read new observations, and
what failed; everything on its first run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from warden.app.daemon import Warden
from warden.app.settings import load_settings
from warden.core.model import Observation
from warden.store import observations as obs_rows

CATALOG = """
benchmarks:
  - {id: a, title: A, metrics: {acc: {}}}
  - {id: b, title: B, metrics: {acc: {}}}
  - {id: c, title: C, metrics: {acc: {}}}
thresholds:
  - {id: lab.plain.high, title: P, domain: t, level: high, sources: [{title: S, url: "https://example.org/"}],
     when: {benchmark: a, metric: acc, op: ">=", value: 0.5}, then: {severity: critical}}
  - {id: lab.aging.high, title: Q, domain: t, level: high, sources: [{title: S, url: "https://example.org/"}],
     when: {benchmark: b, metric: acc, op: ">=", value: 0.5}, stale_after: 86400,
     then: {severity: critical}}
  - {id: lab.fed.high, title: R, domain: t, level: high, sources: [{title: S, url: "https://example.org/"}],
     when: {benchmark: c, metric: acc, op: ">=", value: 0.5}, then: {severity: critical}}
"""
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def put(w: Warden, feed: str, benchmark: str, value: float, key: str) -> None:
    o = Observation("m", benchmark, "acc", value, NOW, key, "src", "0" * 64)
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, feed, [o], NOW)


def ids(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {e.threshold for e in result.evaluations} | set(result.failed)


def test_the_sweep_evaluates_only_what_can_have_changed(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CATALOG)
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\ncatalog: [{tmp_path / 'c.yaml'}]\n"
        "feeds:\n"
        f"  - {{id: slow, connector: observations_json, stale_after: 3600,"
        f" options: {{source: {tmp_path}}}}}\n"
    )
    w = Warden(load_settings(cfg), clock=lambda: NOW)
    try:
        put(w, "other", "a", 0.2, "k1")
        put(w, "slow", "c", 0.2, "k2")
        put(w, "other", "b", 0.2, "k0")
        first = w.sweep()  # everything, the feed's silence alert included
        assert ids(first) >= {"lab.plain.high", "lab.aging.high", "lab.fed.high"}
        second = w.sweep()
        # plain: nothing new; aging: stale_after; fed: read from a feed with stale_after
        assert ids(second) == {"lab.aging.high", "lab.fed.high", "warden.feed.slow.silent"}
        put(w, "other", "a", 0.9, "k3")  # stored, but its own evaluation never ran
        third = w.sweep()
        assert "lab.plain.high" in ids(third)
        ((_, t),) = [(s, t) for s, t in third.transitions if t.threshold == "lab.plain.high"]
        assert t.to_state.value == "firing"
        assert "lab.plain.high" not in ids(w.sweep())
    finally:
        w.close()


def test_what_the_clock_alone_can_change_is_timed() -> None:
    from tests.support.factories import threshold
    from warden.evaluation.sweep import timed

    assert not timed(threshold())
    assert timed(threshold(stale_after=60))
    assert timed(threshold(**{"for": "1h"}))
    assert timed(threshold(keep_firing_for="1h"))
    assert timed(threshold(scope="frontier", projected={"within_days": 90, "probability": 0.5}))

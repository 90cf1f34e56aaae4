"""What reaches people is few and true: the transitions one cycle makes are grouped per route
and `group_by` labels into one notification (a lone alert still goes alone, at once), and what
warden finds already true when it starts watching (a first sync, a backfill, a threshold added)
is history: recorded transition by transition, notified as one summary per route. Real stores,
the real dispatcher, log sinks writing JSON lines, and the real sinks' renderings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.sinks.test_alertmanager import api_v2
from tests.delivery.sinks.test_pagerduty import events_v2
from tests.delivery.sinks.test_slack import block_kit
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.core.model import Observation
from warden.delivery.dispatch import notification
from warden.delivery.sinks.alertmanager import alerts as am_alerts
from warden.delivery.sinks.email import build
from warden.delivery.sinks.pagerduty import event
from warden.delivery.sinks.slack import message
from warden.store import alerts as alert_rows
from warden.store import observations as obs_rows
from warden.store import outbox as outbox_rows

CATALOG = """
benchmarks: [{id: ctf, title: CTF, metrics: {acc: {}}}, {id: bio, title: Bio, metrics: {acc: {}}}]
thresholds:
  - id: cyber.ctf.high
    title: CTF high
    domain: cyber
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: ctf, metric: acc, op: ">=", value: 0.5}
    then: {severity: critical}
  - id: bio.bio.high
    title: Bio high
    domain: bio
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: bio, metric: acc, op: ">=", value: 0.5}
    then: {severity: critical}
"""
T0 = datetime(2026, 4, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make(tmp_path: Path, catalog: str = CATALOG, **route: Any) -> Warden:
    (tmp_path / "c.yaml").write_text(catalog)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "c.yaml")],
        sinks=[{"id": "chat", "type": "log", "options": {"path": str(tmp_path / "chat.jsonl")}}],
        routes=[{"sinks": ["chat"], **route}],
    )
    return Warden(settings, clock=Clock())


def put(
    w: Warden,
    rows: list[tuple[str, str, float]],
    at: datetime,
    tag: str,
    ingested: datetime | None = None,
) -> None:
    """Store `rows` observed `at` (ingested `ingested`, default now), evaluate, deliver."""
    obs = [
        Observation(m, bench, "acc", v, at, f"{m}-{bench}-{tag}", "s", "0" * 64)
        for m, bench, v in rows
    ]
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, "f", obs, ingested or w.clock())
    w.evaluate()
    while w.dispatcher.run_once():
        pass


def after_history_wait(w: Warden) -> None:
    """Let a history summary's wait (30 s by default) pass, and deliver."""
    w.clock.now += timedelta(seconds=31)  # type: ignore[attr-defined]
    while w.dispatcher.run_once():
        pass


def sent(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "chat.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def alerts_of(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    listed = body.get("alerts", [{**body["trigger"], "to": body["status"]}])
    return [(a["threshold"], a["subject"], a["to"]) for a in listed]


def test_a_burst_of_one_cycle_is_one_notification_and_a_lone_alert_goes_alone(
    tmp_path: Path,
) -> None:
    w = make(tmp_path)
    try:
        w.clock.now = T0  # type: ignore[attr-defined]
        put(w, [(f"m{i}", "ctf", 0.9) for i in range(45)], T0, "a")  # news: dated now
        (burst,) = sent(tmp_path)
        assert burst["group"] == {"size": 45, "history": False}
        assert burst["status"] == "firing" and burst["summary"].startswith("45 alerts: 45 firing")
        assert len({a["idempotency_key"] for a in burst["alerts"]}) == 45
        assert len(alerts_of(burst)) == 45
        put(w, [("m99", "ctf", 0.9)], T0, "b")
        lone = sent(tmp_path)[1]
        assert "alerts" not in lone and alerts_of(lone) == [("cyber.ctf.high", "m99", "firing")]
        with w.store.read() as conn:  # the trigger log: one entry per transition
            assert sum(e.kind == "transition" for e in alert_rows.entries(conn)) == 46
        put(w, [(f"m{i}", "ctf", 0.1) for i in range(3)], T0, "c")  # resolves are grouped too
        assert alerts_of(sent(tmp_path)[2]) == [("cyber.ctf.high", f"m{i}", "resolved")
                                                for i in range(3)]  # fmt: skip
    finally:
        w.close()


def test_group_by_splits_a_burst_by_its_labels(tmp_path: Path) -> None:
    w = make(tmp_path, group_by=["domain"])
    try:
        put(w, [("a", "ctf", 0.9), ("b", "ctf", 0.9), ("a", "bio", 0.9)], T0, "x")
    finally:
        w.close()
    got = sorted(sorted(alerts_of(b)) for b in sent(tmp_path))
    assert got == [
        [("bio.bio.high", "a", "firing")],
        [("cyber.ctf.high", "a", "firing"), ("cyber.ctf.high", "b", "firing")],
    ]


def test_history_is_recorded_per_transition_and_notified_as_one_summary(
    tmp_path: Path,
) -> None:
    w = make(tmp_path)
    try:
        old = T0 - timedelta(days=400)  # a store that held history before warden watched it
        before = T0 - timedelta(minutes=5)
        put(w, [(f"m{i}", "ctf", 0.9) for i in range(25)], old, "h", before)
        assert sent(tmp_path) == []  # a summary waits for more history (another feed's)
        put(w, [(f"m{i}", "ctf", 0.9) for i in range(25, 30)] + [("m0", "bio", 0.8)], old, "i",
            before)  # fmt: skip
        after_history_wait(w)
        (summary,) = sent(tmp_path)
        assert summary["group"] == {"size": 31, "history": True}
        assert summary["summary"].startswith("History, not news: warden now watches 31 firing")
        assert "for 30 models" in summary["summary"]
        with w.store.read() as conn:
            entries = [e for e in alert_rows.entries(conn) if e.kind == "transition"]
        assert len(entries) == 31 and all(e.body["history"] is True for e in entries)
        # New evidence after that is news, alert by alert.
        w.clock.now = T0 + timedelta(hours=1)  # type: ignore[attr-defined]
        put(w, [("m77", "ctf", 0.95)], T0 + timedelta(hours=1), "n")
        news = sent(tmp_path)[1]
        assert "alerts" not in news and alerts_of(news) == [("cyber.ctf.high", "m77", "firing")]
        with w.store.read() as conn:
            last = [e for e in alert_rows.entries(conn) if e.kind == "transition"][-1]
        assert "history" not in last.body
    finally:
        w.close()


def test_a_push_arriving_after_warden_started_watching_is_news_whatever_its_date(
    tmp_path: Path,
) -> None:
    w = make(tmp_path)
    try:
        w.evaluate()  # warden starts watching at T0
        w.clock.now = T0 + timedelta(minutes=5)  # type: ignore[attr-defined]
        put(w, [("late", "ctf", 0.9)], T0 - timedelta(hours=2), "p")  # an eval that ran earlier
    finally:
        w.close()
    (news,) = sent(tmp_path)
    assert "group" not in news and alerts_of(news) == [("cyber.ctf.high", "late", "firing")]


def test_a_feed_s_first_run_is_history_and_its_later_runs_are_news(tmp_path: Path) -> None:
    from warden.store import feeds as feed_rows

    w = make(tmp_path)
    try:
        w.evaluate()
        fresh = Observation("a", "ctf", "acc", 0.9, T0, "first", "s", "0" * 64)
        with w.store.write() as conn:  # the feed's first run reads a fresh-looking file
            run = feed_rows.start_run(conn, "f", "csv", T0)
            obs_rows.insert_observations(conn, "f", [fresh], T0)
            feed_rows.finish_run(conn, run, "f", T0, feed_rows.RunCounts(1), None)
        w.evaluate()  # as run_feed does once the run is recorded
        after_history_wait(w)
        assert [b["group"]["history"] for b in sent(tmp_path)] == [True]
        w.clock.now = T0 + timedelta(hours=1)  # type: ignore[attr-defined]
        put(w, [("b", "ctf", 0.9)], T0 + timedelta(hours=1), "second")  # a later run's news
        assert "group" not in sent(tmp_path)[1]
    finally:
        w.close()


def test_what_a_feed_s_first_run_stored_is_history_to_a_cycle_before_it_ends(
    tmp_path: Path,
) -> None:
    """Another feed's cycle (or the sweep) may read what a first run has stored before that run
    is recorded as ended: seen on the real samples, one frontier warning out of 50 arrived as
    news beside the history summary."""
    from warden.store import feeds as feed_rows

    w = make(tmp_path)
    try:
        w.evaluate()
        w.clock.now = T0 + timedelta(minutes=1)  # type: ignore[attr-defined]
        fresh = Observation("a", "ctf", "acc", 0.9, T0, "first", "s", "0" * 64)
        with w.store.write() as conn:  # the first run has stored a file and reads on
            run = feed_rows.start_run(conn, "f", "csv", T0)
            obs_rows.insert_observations(conn, "f", [fresh], T0 + timedelta(minutes=1))
        w.evaluate()  # another feed's cycle, meanwhile
        with w.store.write() as conn:
            feed_rows.finish_run(conn, run, "f", T0, feed_rows.RunCounts(1), None)
        after_history_wait(w)
        assert [b["group"]["history"] for b in sent(tmp_path)] == [True]
    finally:
        w.close()


@pytest.mark.parametrize(("history", "expected"), [("each", 2), ("none", 0)])
def test_a_route_chooses_what_history_becomes(tmp_path: Path, history: str, expected: int) -> None:
    w = make(tmp_path, history=history)
    try:
        put(w, [("a", "ctf", 0.9), ("b", "ctf", 0.9)], T0 - timedelta(days=30), "h",
            T0 - timedelta(minutes=1))  # fmt: skip
        after_history_wait(w)
    finally:
        w.close()
    bodies = sent(tmp_path)
    assert sum(len(alerts_of(b)) for b in bodies) == expected
    assert all(not b.get("group", {}).get("history") for b in bodies)


def test_a_threshold_added_later_treats_old_evidence_as_history(tmp_path: Path) -> None:
    first = CATALOG[: CATALOG.index("  - id: bio.bio.high")]
    w = make(tmp_path, catalog=first)  # the catalog starts without bio.bio.high
    try:
        put(w, [("a", "ctf", 0.2), ("a", "bio", 0.9)], T0, "old")  # nothing reads bio yet
        assert sent(tmp_path) == []
        w.clock.now = T0 + timedelta(days=1)  # type: ignore[attr-defined]
        (tmp_path / "c.yaml").write_text(CATALOG)
        assert w.reload_catalog()  # bio.bio.high added: its first evaluation is now
        after_history_wait(w)
    finally:
        w.close()
    (summary,) = sent(tmp_path)
    assert summary["group"]["history"] is True
    assert alerts_of(summary) == [("bio.bio.high", "a", "firing")]


def _grouped(tmp_path: Path, history: bool) -> Any:
    w = make(tmp_path)
    try:
        at = T0 - timedelta(days=10) if history else T0
        rows = [(f"model-{i}", "ctf", 0.9) for i in range(60)] + [("model-0", "bio", 0.7)]
        with w.store.write() as conn:
            obs_rows.insert_observations(
                conn,
                "f",
                [Observation(m, b, "acc", v, at, f"{m}{b}", "s", "0" * 64) for m, b, v in rows],
                at,
            )
        w.evaluate()
        with w.store.write() as conn:
            claimed = outbox_rows.claim(conn, T0 + timedelta(seconds=31), 60, 10)
    finally:
        w.close()
    return notification(claimed)


@pytest.mark.parametrize("history", [False, True])
def test_every_sink_renders_a_group_as_its_receiver_expects(tmp_path: Path, history: bool) -> None:
    n = _grouped(tmp_path, history)
    assert n.grouped and len(n.members) == 61 and n.history is history
    body = message(n)
    assert block_kit(body) == [] and len(body["blocks"]) <= 50
    assert "and 41 more" in json.dumps(body)  # 20 listed, the rest counted
    assert ("History, not news" in body["text"]) is history
    mail = build(n, "warden@example.org", ["ops@example.org"])
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert mail["Subject"].startswith("History, not news" if history else "61 alerts")
    assert text.count("  - ") == 20 and "and 41 more" in text
    events = [event(s, "R" * 32, "warden", None) for s in n.split()]
    assert len(events) == 61 and all(events_v2(e) == [] for e in events)
    posted = [a for s in n.split() for a in am_alerts(s, T0, 300)]
    assert len(posted) == 61 and api_v2(posted) == []

"""Real trigger contents of every kind, made by warden's own code: observations stored in a
SQLite store, evaluation cycles run, and the trigger log read back as the dispatcher would.

Kinds (`KINDS`): a single condition `firing` (stderr, http source, runbook, mitigations with
characters to escape, safeguards, labels, annotations), `warning` (early warning, no stderr, a
local source), `resolved` (and `before_resolved`, the same alert firing), `minimal` (firing with
no runbook, mitigations, safeguards or stderr), `nodata` (stale evidence: value null, no
evidence; acknowledged by a person), `error` (evaluation raised), `combination` (value null;
the reason lists the conditions), `frontier`, `since_assessment` (days), `compute_ratio` and
`feed_silence` (the subject is a feed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from warden.alerting import cycle as cycle_module
from warden.alerting.actions import acknowledge
from warden.alerting.assessments import record
from warden.alerting.cycle import idempotency_key, run_cycle
from warden.app.settings import FeedSettings
from warden.catalog.feedhealth import silent_feed_thresholds
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.model import COMPUTE, Observation
from warden.core.notification import Notification
from warden.store import Store, alerts
from warden.store import feeds as feed_rows
from warden.store import observations as obs_rows

T0 = datetime(2025, 3, 2, 9, 30, tzinfo=UTC)  # in the past: Alertmanager reads times
SOURCE_URL = "https://evals.example.org/runs/cyber-ctf/run-1.json?x=1&y=<2>"
RUNBOOK = "https://example.org/runbooks/cyber?team=red&step=1"
MITIGATIONS = [
    "Pause external deployment & notify the <board> within 24h",
    "Apply *ASL-3* _security_ controls | see runbook",
]
FEED = "lab-feed"

KINDS = (
    "firing",
    "warning",
    "resolved",
    "before_resolved",
    "minimal",
    "nodata",
    "error",
    "combination",
    "frontier",
    "since_assessment",
    "compute_ratio",
    "feed_silence",
)


def make(**fields: Any) -> Threshold:
    data: dict[str, Any] = {
        "title": "Test threshold",
        "domain": "cyber",
        "level": "high",
        "sources": [{"title": "Framework", "url": "https://example.org/framework"}],
        "then": {"severity": "critical"},
        **fields,
    }
    return Threshold.model_validate(data)


MAIN = make(
    id="lab.cyber.ctf.high",
    title="Cyber uplift: most CTF challenges <solved> & reported",
    when={"benchmark": "cyber_ctf", "metric": "accuracy", "op": ">=", "value": 0.5},
    warn_at=0.4,
    confidence=0.95,
    then={
        "severity": "critical",
        "mitigations": MITIGATIONS,
        "safeguards": ["ASL-3", "SL-3"],
        "runbook": RUNBOOK,
        "labels": {"team": "red", "x-owner": "sec ops"},
        "annotations": {"description": "Cyber-offence uplift", "ticket-url": "TICKET-1"},
    },
)
MINIMAL = make(
    id="lab.minimal.info",
    title="Minimal threshold",
    domain="general",
    level="early_warning",
    when={"benchmark": "plain", "metric": "score", "op": ">=", "value": 10},
    stale_after=3600,
    then={"severity": "info"},
)
ERRING = make(
    id="lab.erring.high",
    title="A threshold whose evaluation fails",
    when={"benchmark": "erring", "metric": "acc", "op": ">=", "value": 0.5},
    then={"severity": "warning", "mitigations": ["Investigate."]},
)
COMBINED = make(
    id="lab.combo.critical",
    title="Cyber and autonomy together",
    level="critical",
    when={
        "all": [
            {
                "benchmark": "cyber_ctf",
                "metric": "accuracy",
                "op": ">=",
                "value": 0.5,
                "warn_at": 0.4,
            },
            {"benchmark": "autonomy", "metric": "hours", "op": ">=", "value": 8},
        ]
    },
    then={"severity": "critical", "mitigations": ["Stop training."], "safeguards": ["ASL-4"]},
)
FRONTIER = make(
    id="lab.frontier.ctf.high",
    title="The frontier solves most CTF challenges",
    scope="frontier",
    when={"benchmark": "cyber_ctf", "metric": "accuracy", "op": ">=", "value": 0.5},
    warn_at=0.3,
    then={"severity": "warning", "mitigations": ["Brief the board."]},
)
DAYS = make(
    id="lab.reassess.days",
    title="Six months since the last full assessment",
    domain="general",
    level="early_warning",
    when={"since_assessment": {"days": 182}},
    warn_at=150,
    then={"severity": "warning", "mitigations": ["Run the full assessment again."]},
)
COMPUTE_RATIO = make(
    id="lab.reassess.compute",
    title="Four times the compute of the last full assessment",
    domain="general",
    level="early_warning",
    when={"since_assessment": {"compute_ratio": 4}},
    then={"severity": "warning", "mitigations": ["Run the full assessment again."]},
)
(SILENT,) = silent_feed_thresholds(
    [FeedSettings(id=FEED, connector="inspect_logs", stale_after=3600)]
)
THRESHOLDS = (MAIN, MINIMAL, ERRING, COMBINED, FRONTIER, DAYS, COMPUTE_RATIO, SILENT)

# kind -> (threshold id, subject, state entered)
WANTED = {
    "firing": (MAIN.id, "acme/m1", "firing"),
    "warning": (MAIN.id, "acme/m2", "warning"),
    "resolved": (MAIN.id, "acme/m3", "resolved"),
    "before_resolved": (MAIN.id, "acme/m3", "firing"),
    "minimal": (MINIMAL.id, "acme/m4", "firing"),
    "nodata": (MINIMAL.id, "acme/m4", "nodata"),
    "error": (ERRING.id, "acme/m5", "error"),
    "combination": (COMBINED.id, "acme/m1", "firing"),
    "frontier": (FRONTIER.id, "frontier", "firing"),
    "since_assessment": (DAYS.id, "acme/m1", "firing"),
    "compute_ratio": (COMPUTE_RATIO.id, "acme/m1", "firing"),
    "feed_silence": (SILENT.id, FEED, "firing"),
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _obs(
    subject: str,
    bench: str,
    metric: str,
    value: float,
    at: datetime,
    *,
    stderr: float | None = None,
    n: int | None = None,
    source: str = "/data/logs/run.json",
) -> Observation:
    key = f"{subject}:{bench}:{metric}:{value}:{at.isoformat()}"
    return Observation(
        subject, bench, metric, value, at, key, source, "ab" * 32, stderr=stderr, n=n
    )


def _put(store: Store, clock: Clock, *items: Observation) -> None:
    with store.write() as conn:
        obs_rows.insert_observations(conn, "lab", list(items), clock())


def build(folder: Path, sink: str = "sink") -> dict[str, Notification]:
    """Run warden on a fresh store in `folder`; the notification of each kind for `sink`."""
    store = Store(f"sqlite:///{folder / 'warden.db'}")
    store.upgrade()
    clock = Clock(T0)
    catalog = Catalog(THRESHOLDS)
    try:
        _put(
            store,
            clock,
            _obs(
                "acme/m1", "cyber_ctf", "accuracy", 0.8, T0, stderr=0.05, n=200, source=SOURCE_URL
            ),
            _obs("acme/m2", "cyber_ctf", "accuracy", 0.45, T0),
            _obs("acme/m3", "cyber_ctf", "accuracy", 0.9, T0, stderr=0.01, n=500),
            _obs("acme/m4", "plain", "score", 12, T0),
            _obs("acme/m5", "erring", "acc", 0.9, T0),
            _obs("acme/m1", "autonomy", "hours", 9.5, T0, stderr=1.5, n=40),
            _obs("acme/m1", *COMPUTE, 5e24, T0),
        )
        record(
            store, catalog.registry, clock, "acme/m1", "safety-team", T0 - timedelta(days=200), 1e24
        )
        with store.write() as conn:
            run = feed_rows.start_run(conn, FEED, "inspect_logs", T0 - timedelta(hours=3))
            feed_rows.finish_run(
                conn, run, FEED, T0 - timedelta(hours=3), feed_rows.RunCounts(), "unreachable"
            )
        run_cycle(store, catalog, [sink], clock)
        acknowledge(store, MINIMAL.id, "acme/m4", "alice", "looking into it", clock())
        clock.now += timedelta(minutes=1)
        _put(store, clock, _obs("acme/m3", "cyber_ctf", "accuracy", 0.1, clock.now))
        run_cycle(store, catalog, [sink], clock)
        clock.now += timedelta(hours=2)
        run_cycle(store, catalog, [sink], clock, thresholds=[MINIMAL])
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(cycle_module, "evaluate_threshold", _fails)
            run_cycle(store, catalog, [sink], clock, thresholds=[ERRING])
        with store.read() as conn:
            entries = [e for e in alerts.entries(conn) if e.kind == "transition"]
    finally:
        store.dispose()
    found = {(e.threshold, e.subject, e.to_state): e for e in entries}
    out = {}
    for kind, wanted in WANTED.items():
        e = found[wanted]
        out[kind] = Notification(idempotency_key(e.hash, sink), sink, e.seq, e.hash, e.body)
    return out


def _fails(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the evidence store answered nonsense")

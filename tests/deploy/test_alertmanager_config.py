"""deploy/alertmanager/ as shipped.

alertmanager.yml routes and inhibits both kinds of threshold alerts alike: the Prometheus relays
of deploy/prometheus/rules.yml (alertname `WardenThreshold*`) and the alerts warden's own
Alertmanager sink posts (alertname: the threshold id; labels made here by the sink's own code
from the compose demo's thresholds). Checked with amtool, and live with a real Alertmanager that
delivers to the demo receiver, alert_sink.py; that receiver writes one whole JSON line per POST
however many arrive at once.

amtool and Alertmanager come from Debian's `prometheus-alertmanager` (tests/support/promstack.py:
the
tests skip without them, and fail under WARDEN_REQUIRE_PROMSTACK=1).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.promstack import (
    DEPLOY,
    Process,
    free_port,
    need,
    running,
    start_alertmanager,
    wait_until,
)
from warden.app.settings import FeedSettings
from warden.catalog.feedhealth import silent_feed_thresholds
from warden.catalog.thresholds import Threshold, load_catalog
from warden.core.notification import Notification
from warden.delivery.sinks.alertmanager import AlertmanagerSink, alert

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
ALERT_SINK = DEPLOY / "alertmanager" / "alert_sink.py"
AT = datetime(2025, 3, 2, 9, 30, tzinfo=UTC)  # in the past: Alertmanager reads startsAt

# The compose demo's thresholds: a critical one, and an early warning of the same domain.
DEMO = {
    t.id: t
    for t in load_catalog(
        [DEPLOY / "demo" / "thresholds.yaml", DEPLOY / "compose" / "thresholds.yaml"]
    ).thresholds
}
HIGH = DEMO["demo.capability.match_accuracy.high"]
EARLY = DEMO["demo.capability.match_accuracy.early_warning"]
FRONTIER = DEMO["demo.capability.frontier.high"]
(SILENT,) = silent_feed_thresholds(
    [FeedSettings(id="demo", connector="inspect_logs", stale_after=60)]
)


def threshold(tid: str, domain: str, level: str, severity: str) -> Threshold:
    return Threshold.model_validate(
        {
            "id": tid,
            "title": f"Test threshold {tid}",
            "domain": domain,
            "level": level,
            "sources": [{"title": "Framework", "url": "https://example.org/framework"}],
            "when": {"benchmark": "bench", "metric": "score", "op": ">=", "value": 0.5},
            "then": {"severity": severity},
        }
    )


def notification(t: Threshold, subject: str, to: str = "firing") -> Notification:
    """The trigger of `t` entering `to` for `subject`, with the fields warden's trigger log
    gives it (warden/triggerlog.py) that the Alertmanager sink reads."""
    trigger = {
        "seq": 1,
        "at": AT.isoformat(),
        "threshold": t.id,
        "title": t.title,
        "level": t.level.value,
        "domain": t.domain,
        "severity": t.then.severity,
        "labels": dict(t.then.labels),
        "condition": t.when.model_dump(mode="json"),
        "scope": t.scope.value,
        "subject": subject,
        "from": "pending",
        "to": to,
        "value": 0.8,
    }
    return Notification(f"key-{t.id}-{subject}", "am", 1, "ab" * 32, trigger)


def sink_labels(t: Threshold, subject: str) -> dict[str, str]:
    """The labels of the alert warden's Alertmanager sink posts for `t` and `subject`."""
    labels: dict[str, str] = alert(notification(t, subject), AT, 3600)["labels"]
    return labels


def relay(alertname: str, t: Threshold, subject: str) -> dict[str, str]:
    """The labels of a relay of rules.yml: warden_threshold_state{state} joined with
    warden_threshold_info (the threshold's severity when firing; the rule's `warning` else)."""
    state = {"WardenThresholdFiring": "firing", "WardenThresholdWarning": "warning"}[alertname]
    return {
        "alertname": alertname,
        "job": "warden",
        "instance": "warden:9464",
        "threshold": t.id,
        "subject": subject,
        "state": state,
        "title": t.title,
        "level": t.level.value,
        "domain": t.domain,
        "scope": t.scope.value,
        "severity": t.then.severity if state == "firing" else "warning",
    }


def operations(alertname: str, severity: str) -> dict[str, str]:
    """An alert on warden itself (rules.yml, group warden.operations)."""
    return {
        "alertname": alertname,
        "job": "warden",
        "instance": "warden:9464",
        "severity": severity,
        "domain": "operations",
    }


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


# --- amtool ---------------------------------------------------------------------------------


def test_amtool_checks_the_config() -> None:
    amtool = need("amtool")["amtool"]
    r = run([amtool, "check-config", str(CONFIG)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
    assert "4 inhibit rules" in r.stdout and "7 receivers" in r.stdout


def test_the_sink_labels_the_demo_alert_with_what_the_routes_read() -> None:
    assert sink_labels(HIGH, "mockllm/model") == {
        "alertname": "demo.capability.match_accuracy.high",
        "severity": "critical",
        "domain": "demo",
        "level": "high",
        "subject": "mockllm/model",
        "team": "demo",  # the threshold's then.labels
    }


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        pytest.param(sink_labels(HIGH, "mockllm/model"), "safety-page", id="sink-critical"),
        pytest.param(sink_labels(EARLY, "mockllm/model"), "safety", id="sink-early-warning"),
        pytest.param(
            sink_labels(threshold("lab.bio.uplift.high", "bio_chem", "high", "warning"), "a/m"),
            "security-review",
            id="sink-security-domain",
        ),
        pytest.param(
            sink_labels(threshold("lab.general.info", "general", "early_warning", "info"), "a/m"),
            "safety-digest",
            id="sink-info",
        ),
        pytest.param(sink_labels(SILENT, "demo"), "operators", id="sink-feed-silence"),
        pytest.param(
            relay("WardenThresholdFiring", HIGH, "mockllm/model"),
            "safety-page",
            id="relay-critical",
        ),
        pytest.param(
            relay("WardenThresholdFiring", FRONTIER, "frontier"), "safety", id="relay-warning"
        ),
        pytest.param(
            relay("WardenThresholdWarning", HIGH, "mockllm/model"), "safety", id="relay-approaching"
        ),
        pytest.param(operations("WardenDown", "critical"), "operators-page", id="ops-critical"),
        pytest.param(operations("WardenFeedStale", "warning"), "operators", id="ops-warning"),
        pytest.param({"alertname": "Watchdog", "severity": "none"}, "default", id="no-domain"),
    ],
)
def test_routes_take_sink_and_relay_alerts_by_severity_and_domain(
    labels: dict[str, str], receiver: str
) -> None:
    amtool = need("amtool")["amtool"]
    # Quoted values: a title may hold commas or quotes, which amtool's matcher syntax parses.
    matchers = [f"{k}={json.dumps(v)}" for k, v in labels.items()]
    argv = [amtool, "config", "routes", "test", f"--config.file={CONFIG}"]
    r = run([*argv, f"--verify.receivers={receiver}", *matchers])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == receiver


# --- the demo receiver ----------------------------------------------------------------------


@dataclass(frozen=True)
class Receiver:
    url: str
    output: Path  # its stdout
    errors: Path  # its stderr


@contextmanager
def alert_sink(folder: Path) -> Iterator[Receiver]:
    """deploy/alertmanager/alert_sink.py run as compose runs it, on a free loopback port."""
    port = free_port()
    r = Receiver(f"http://127.0.0.1:{port}", folder / "alert-sink.out", folder / "alert-sink.err")
    with r.output.open("w") as out, r.errors.open("w") as err:
        argv = [sys.executable, str(ALERT_SINK), str(port), "127.0.0.1"]
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

        def answers() -> bool:  # any answer (a GET is 501) means it listens
            if proc.poll() is not None:
                raise RuntimeError(f"alert_sink.py exited: {r.errors.read_text()}")
            return requests.get(r.url, timeout=2).status_code > 0

        try:
            wait_until("alert_sink.py to listen", answers, 15, 0.05)
            yield r
        finally:
            proc.terminate()
            proc.wait(15)


def records(output: Path) -> list[dict[str, Any]]:
    """Each line of the receiver's output, which must be one whole JSON object."""
    text = output.read_text()
    assert text == "" or text.endswith("\n"), text[-200:]
    out = []
    for number, line in enumerate(text.split("\n")[:-1], 1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} is not one JSON object: {line[:120]!r}...")
        assert isinstance(record, dict) and set(record) == {"path", "body"}, line[:120]
        out.append(record)
    return out


def test_alert_sink_writes_one_whole_json_line_per_post_under_concurrent_posts(
    tmp_path: Path,
) -> None:
    threads, each = 32, 8
    # Large bodies: a line too long for one buffered write is where unlocked threads interleave.
    filler = "x" * 20_000
    start = threading.Barrier(threads)

    def post_all(i: int) -> list[int]:
        start.wait()
        return [
            requests.post(
                f"{sink.url}/hook-{i}", json={"thread": i, "post": j, "filler": filler}, timeout=30
            ).status_code
            for j in range(each)
        ]

    with alert_sink(tmp_path) as sink:
        with ThreadPoolExecutor(threads) as pool:
            statuses = [s for ss in pool.map(post_all, range(threads)) for s in ss]
        # Each line is written and flushed before the answer: all are there now.
        lines = records(sink.output)
    assert statuses == [200] * (threads * each)
    got = sorted((r["path"], r["body"]["thread"], r["body"]["post"]) for r in lines)
    assert got == sorted((f"/hook-{i}", i, j) for i in range(threads) for j in range(each))
    assert all(r["body"]["filler"] == filler for r in lines)
    assert sink.errors.read_text() == ""


def test_alert_sink_writes_a_body_that_is_not_json_as_a_string(tmp_path: Path) -> None:
    with alert_sink(tmp_path) as sink:
        assert requests.post(f"{sink.url}/x", data=b"not json \xff", timeout=10).status_code == 200
        (line,) = records(sink.output)
    assert line == {"path": "/x", "body": "not json \ufffd"}


# --- a real Alertmanager --------------------------------------------------------------------


def listed(am: Process) -> list[dict[str, Any]]:
    r = requests.get(f"{am.url}/api/v2/alerts", timeout=5)
    r.raise_for_status()
    alerts: list[dict[str, Any]] = r.json()
    return alerts


def find(alerts: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    (found,) = [a for a in alerts if a["labels"] == labels]
    return found


def post_relay(am: Process, labels: dict[str, str]) -> None:
    """Post an alert as Prometheus posts a relay (API v2, ends in an hour unless re-posted)."""
    now = datetime.now(UTC)
    body = [
        {
            "labels": labels,
            "annotations": {"summary": labels["alertname"]},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
        }
    ]
    requests.post(f"{am.url}/api/v2/alerts", json=body, timeout=10).raise_for_status()


def test_a_real_alertmanager_routes_and_inhibits_sink_and_relay_alerts_alike(
    tmp_path: Path,
) -> None:
    binary = need("alertmanager")["alertmanager"]
    with (
        alert_sink(tmp_path) as hook,
        running(start_alertmanager(binary, tmp_path, hook.url)) as am,
    ):
        sink = AlertmanagerSink("am", {"urls": [am.url]})
        # Subject a: the sink's critical alert mutes the sink's early warning and the relay's
        # warning state of another threshold of the domain.
        critical_a = sink_labels(HIGH, "acme/a")
        muted_a = [
            sink_labels(EARLY, "acme/a"),
            relay("WardenThresholdWarning", FRONTIER, "acme/a"),
        ]
        sink.send(notification(HIGH, "acme/a"))
        sink.send(notification(EARLY, "acme/a"))
        post_relay(am, muted_a[1])
        # Subject b: the relay's critical alert mutes the sink's early warning.
        critical_b = relay("WardenThresholdFiring", HIGH, "acme/b")
        muted_b = sink_labels(EARLY, "acme/b")
        post_relay(am, critical_b)
        sink.send(notification(EARLY, "acme/b"))
        # Subject c: no critical alert, nothing muted.
        free_c = [sink_labels(EARLY, "acme/c"), relay("WardenThresholdWarning", FRONTIER, "acme/c")]
        sink.send(notification(EARLY, "acme/c"))
        post_relay(am, free_c[1])

        def inhibited() -> bool:
            alerts = listed(am)

            def by(labels: dict[str, str]) -> list[str]:
                return sorted(find(alerts, labels)["status"]["inhibitedBy"])

            source_a, source_b = (find(alerts, c)["fingerprint"] for c in (critical_a, critical_b))
            got = [*map(by, muted_a), by(muted_b), *map(by, free_c)]
            assert got == [[source_a], [source_a], [source_b], [], []], got
            return True

        wait_until("the inhibitions", inhibited, 15)

        def paged() -> set[tuple[str, str]]:
            pages = {
                (a["labels"]["alertname"], a["labels"]["subject"])
                for r in records(hook.output)
                if r["path"] == "/safety-page"
                for a in r["body"]["alerts"]
            }
            assert {(HIGH.id, "acme/a"), ("WardenThresholdFiring", "acme/b")} <= pages, pages
            return pages

        wait_until("the pages of both critical alerts", paged, 15)

"""A new user's first hour, on the real public samples: `warden run` with the bundled catalog,
feeds over copies of Epoch's benchmarking hub and model tables, METR's time horizons and the
SWE-bench leaderboards, a webhook sink and a Slack sink (loopback receivers).

- The first sync is history (evidence older than the moment warden started watching): it reaches
  each sink as at most one notification per route and group, not one per alert.
- No model is named twice under two spellings (the registry's aliases and the variants).
- Every alert says whether its threshold's number is the framework's own or a proxy chosen by
  the catalog, with the citation; so do the labs' declarations (the bundled public ones, read
  by the `declarations` connector beside the samples).
- Then one new observation over a threshold reaches the webhook as one single alert, at once.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.app.test_daemon import Daemon, free_port
from tests.conftest import SAMPLES
from tests.support.receiver import Receiver, receiver

pytestmark = pytest.mark.realdata

TOKEN = "e2e-token"
FEEDS = ("epoch", "epoch_models", "metr", "swebench")
DECLARATIONS = Path(__file__).resolve().parents[2] / "thresholds" / "declarations" / "public.yaml"
HISTORY_WAIT = 3  # seconds a history summary waits for the other feeds' history (default 30 s)
# Effort and budget suffixes, dated snapshots and separators: two ids that agree without them
# name one model twice.
_SUFFIX = re.compile(r"(_|-)(none|minimal|low|medium|high|xhigh|\d+k)$")
_DATE = re.compile(r"-?(20\d\d-?\d\d-?\d\d)$")


def spelling(subject: str) -> str:
    """A model id reduced to what two spellings of one model share."""
    s = subject.lower().rsplit("/", 1)[-1]
    s = _SUFFIX.sub("", s)
    s = _DATE.sub("", s)
    return re.sub(r"[^a-z0-9]", "", s)


def copy_samples(samples: Path, tmp: Path) -> dict[str, Path]:
    folders = {name: tmp / name for name in FEEDS}
    shutil.copytree(samples / "epoch" / "benchmark_data", folders["epoch"])
    shutil.copytree(samples / "epoch" / "ai_models", folders["epoch_models"])
    shutil.copytree(samples / "metr", folders["metr"])
    folders["swebench"].mkdir()
    board = samples / "swe-bench" / "leaderboards.2025-12-02.truncated.json"
    shutil.copy(board, folders["swebench"])
    return folders


def write_config(tmp: Path, folders: dict[str, Path], port: int, hook: str, slack: str) -> Path:
    swebench = next(folders["swebench"].iterdir())
    config = {
        "database_url": f"sqlite:///{tmp / 'warden.db'}",
        "catalog": ["bundled"],
        "http": {"host": "127.0.0.1", "port": port},
        "api_token": TOKEN,
        "evaluate_every": 3600,
        "feeds": [
            {"id": "epoch", "connector": "epoch_benchmarks", "every": 3600,
             "options": {"source": str(folders["epoch"])}},
            {"id": "epoch_models", "connector": "epoch_models", "every": 3600,
             "options": {"source": str(folders["epoch_models"])}},
            {"id": "metr", "connector": "metr_horizons", "every": 3600,
             "options": {"source": str(folders["metr"])}},
            {"id": "swebench", "connector": "swebench", "every": 3600,
             "options": {"source": str(swebench)}},
            {"id": "labs", "connector": "declarations", "every": 3600,
             "options": {"source": str(DECLARATIONS)}},
        ],
        "sinks": [
            {"id": "hook", "type": "webhook", "options": {"url": hook}},
            {"id": "slack", "type": "slack", "options": {"url": slack}},
        ],
        "routes": [{"sinks": ["hook", "slack"], "history_wait": HISTORY_WAIT}],
    }  # fmt: skip
    path = tmp / "warden.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def feeds_done(port: int) -> bool:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return all(
        re.search(rf'warden_feed_last_success_timestamp_seconds{{feed="{f}"}} [1-9]', text)
        for f in (*FEEDS, "labs")
    )


def settle(r: Receiver, quiet: float = 2.0, timeout: float = 60.0) -> None:
    """Wait until `r` received nothing new for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    seen, since = len(r.requests), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if len(r.requests) != seen:
            seen, since = len(r.requests), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError(f"still receiving after {timeout} s: {len(r.requests)} requests")


@pytest.fixture(scope="module")
def first_sync(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Daemon, Receiver, Receiver]]:
    """One daemon for the module: the first sync, then (the second test) new evidence."""
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is absent")
    tmp_path = tmp_path_factory.mktemp("real-samples")
    folders = copy_samples(SAMPLES, tmp_path)
    port = free_port()
    with receiver() as hook, receiver() as slack:
        config = write_config(tmp_path, folders, port, hook.url, slack.url)
        daemon = Daemon(config, port)
        try:
            daemon.wait_ready(60)
            deadline = time.monotonic() + 120
            while not feeds_done(port):
                assert time.monotonic() < deadline, daemon.stderr()[-3000:]
                time.sleep(0.5)
            hook.wait_for(1, 60)
            settle(hook, quiet=HISTORY_WAIT + 2)
            settle(slack, quiet=2)
            yield daemon, hook, slack
        finally:
            if daemon.proc.poll() is None:
                daemon.stop()


def alerts_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return payload.get("alerts") or [payload["trigger"]]


def test_the_first_sync_is_one_summary_per_sink_naming_each_model_once(
    first_sync: tuple[Daemon, Receiver, Receiver],
) -> None:
    _daemon, hook, slack = first_sync
    hooks = [r.json() for r in hook.requests]  # all there is: this test runs first
    # One route, grouped as one (group_by: []): one notification per sink for the history.
    assert len(hooks) == 1, [h["summary"] for h in hooks]
    assert len(slack.requests) == 1
    (summary,) = hooks
    print(
        f"first sync: {len(hooks)} webhook and {len(slack.requests)} Slack posts: "
        f"{summary['summary']}"
    )
    assert summary["group"]["history"] is True
    alerts = alerts_of(summary)
    assert summary["group"]["size"] == len(alerts) >= 5, summary["summary"]
    # No model under two spellings, within a threshold or across them.
    subjects = {a["subject"] for a in alerts if a.get("subject") not in (None, "frontier")}
    spellings: dict[str, set[str]] = {}
    for s in subjects:
        spellings.setdefault(spelling(s), set()).add(s)
    assert {k: v for k, v in spellings.items() if len(v) > 1} == {}
    # Variants are attributes, not subjects.
    assert not [s for s in subjects if _SUFFIX.search(s.lower())], subjects
    # Each alert says proxy or framework number, with the citation.
    for a in alerts:
        basis = a["basis"]
        assert basis["kind"] in ("framework", "proxy", "mixed"), (a["threshold"], basis)
        assert basis["sources"] and all(s["url"].startswith("http") for s in basis["sources"])
    declared = {a["subject"] for a in alerts if a["threshold"].endswith(".declared")}
    assert declared == {"anthropic/claude-opus-4", "openai/chatgpt-agent", "openai/gpt-5"}
    text = slack.requests[0].body.decode()
    assert "proxy" in text or "framework number" in text


def test_new_evidence_after_the_first_sync_is_one_alert_at_once(
    first_sync: tuple[Daemon, Receiver, Receiver],
) -> None:
    daemon, hook, _slack = first_sync
    before = len(hook.requests)
    now = datetime.now(UTC)
    # Two runs over the per-model Cybench level (0.5; `for: 2` confirmations) and under the
    # frontier's rule-out (0.6): one threshold crosses. No sample has Cybench results: nothing
    # of it is history.
    body = [
        {
            "model": "e2e/new-model",
            "benchmark": "cybench",
            "metric": "accuracy",
            "value": value,
            "observed_at": (now - timedelta(seconds=ago)).isoformat(),
        }
        for value, ago in ((0.55, 60), (0.56, 5))
    ]
    sent = time.perf_counter()
    r = requests.post(
        f"http://127.0.0.1:{daemon.port}/api/v1/observations",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    got = hook.wait_for(before + 1, 30)[before]
    payload = got.json()
    assert "group" not in payload, payload["summary"]
    (alert,) = alerts_of(payload)
    assert (alert["threshold"], alert["subject"], alert["to"]) == (
        "cyber.cybench.unguided.high",
        "e2e/new-model",
        "firing",
    )
    assert got.at - sent < 5.0  # as fast as a lone alert: grouping adds no wait
    settle(hook, quiet=1.0)
    news = [r.json() for r in hook.requests[before:]]
    assert all(len(alerts_of(p)) == 1 for p in news), [p["summary"] for p in news]
    assert not any(p.get("group", {}).get("history") for p in news)

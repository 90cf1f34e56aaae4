"""`warden run` as a real subprocess: a loopback feed folder and webhook receiver, SIGTERM, and a
SIGKILL between trigger and delivery."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from tests.support.factories import TINY_CATALOG as TINY
from tests.support.receiver import receiver
from warden.store import Store
from warden.store.schema import deliveries, outbox, triggers

WARDEN = Path(sys.executable).with_name("warden")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, hook_url: str, logs: Path, port: int, **extra: str) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY)
    cfg = tmp_path / "warden.yaml"
    lines = [
        f"database_url: sqlite:///{tmp_path / 'w.db'}",
        f"catalog: [{tmp_path / 'tiny.yaml'}]",
        f"http: {{host: 127.0.0.1, port: {port}}}",
        "feeds:",
        f"  - {{id: lab, connector: inspect_logs, every: 1, options: {{path: {logs}}}}}",
        "sinks:",
        f"  - {{id: hook, type: webhook, options: {{url: '{hook_url}', timeout_seconds: 30}}}}",
        # These tests watch delivery itself: the feed's first run is history, sent each as news.
        "routes: [{sinks: [hook], history: each}]",
        *[f"{k}: {v}" for k, v in extra.items()],
    ]
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


class Daemon:
    def __init__(self, config: Path, port: int) -> None:
        self.port = port
        self.err = open(config.with_suffix(".stderr"), "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(WARDEN), "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr()
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("daemon not ready: " + self.stderr())

    def stderr(self) -> str:
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.err.close()


@pytest.fixture
def logs(tmp_path: Path, inspect_logs: dict[str, Path]) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(inspect_logs["eval"], folder)
    return folder


def test_run_alerts_serves_metrics_and_exits_0_on_sigterm(tmp_path: Path, logs: Path) -> None:
    port = free_port()
    with receiver() as hook:
        daemon = Daemon(write_config(tmp_path, hook.url, logs, port), port)
        try:
            (req,) = hook.wait_for(1, timeout=30)
            assert req.json()["status"] == "firing"
            daemon.wait_ready()
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            assert (
                'warden_threshold_state{state="firing",subject="mockllm/model",'
                'threshold="test.tiny.match.high"} 1.0'
            ) in text
            assert 'warden_feed_last_success_timestamp_seconds{feed="lab"}' in text
        finally:
            code = daemon.stop(signal.SIGTERM)
        out = daemon.proc.stdout.read() if daemon.proc.stdout else ""
    assert code == 0, out
    log = daemon.stderr() if not daemon.err.closed else Path(tmp_path / "warden.stderr").read_text()
    assert '"message": "warden stopped"' in log
    assert "feed lab: ok; 2 new observations" in log


class Hanging:
    """A receiver whose first request never gets an answer (the sender is killed meanwhile)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.first = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.keys.append(self.headers["Idempotency-Key"])
                if len(outer.keys) == 1:
                    outer.first.set()
                    outer.release.wait(60)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    h = Hanging()
    threading.Thread(target=h.server.serve_forever, daemon=True).start()
    yield h
    h.release.set()
    h.server.shutdown()
    h.server.server_close()


def test_sigkill_between_trigger_and_delivery_loses_nothing(
    tmp_path: Path, logs: Path, hanging: Hanging
) -> None:
    port = free_port()
    cfg = write_config(tmp_path, hanging.url, logs, port, dispatch="{lease_seconds: 2}")
    first = Daemon(cfg, port)
    try:
        assert hanging.first.wait(30), first.stderr()
    finally:
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    with store.read() as conn:  # the trigger is logged; its delivery never completed
        assert conn.execute(select(outbox.c.status)).scalars().all() == ["pending"]
        assert conn.execute(select(deliveries.c.id)).all() == []

    second = Daemon(cfg, port)
    try:
        deadline = time.monotonic() + 30
        while len(hanging.keys) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(hanging.keys) == 2, second.stderr()
        time.sleep(1.5)  # a third delivery would be a bug; give it a chance to show
    finally:
        assert second.stop(signal.SIGTERM) == 0
    assert hanging.keys[0] == hanging.keys[1] and len(hanging.keys) == 2
    with store.read() as conn:
        assert conn.execute(select(outbox.c.status)).scalars().all() == ["delivered"]
        assert conn.execute(select(deliveries.c.outcome)).scalars().all() == ["delivered"]
        kinds = conn.execute(select(triggers.c.kind, triggers.c.to_state)).all()
        assert [tuple(k) for k in kinds] == [
            ("catalog", ""),
            ("transition", "firing"),
            ("delivery", ""),  # its one final outcome: delivered once, after the restart
        ]
    store.dispose()


def test_a_config_error_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "w.yaml"
    cfg.write_text("feeds: [{id: x, connector: nosuch}]\n")
    r = subprocess.run(
        [str(WARDEN), "run", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "WARDEN_CONFIG": ""},
    )
    assert r.returncode == 2
    assert "connector 'nosuch'" in r.stderr or "'nosuch'" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_taken_port_fails_cleanly_before_anything_runs(tmp_path: Path, logs: Path) -> None:
    with socket.socket() as taken, receiver() as hook:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = write_config(tmp_path, hook.url, logs, port)
        r = subprocess.run(
            [str(WARDEN), "run", "--config", str(cfg)], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 1, r.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
        assert hook.requests == []  # nothing was ingested or delivered


def test_a_feed_s_evidence_goes_stale_only_while_the_feed_is_silent(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.conftest import REPO
    from warden.app.daemon import Warden
    from warden.app.settings import Settings

    catalog = tmp_path / "demo.yaml"
    catalog.write_text(TINY.replace("tiny", "demo_capability"))  # the demo logs' task
    logs = tmp_path / "logs"
    shutil.copytree(REPO / "deploy/demo/logs", logs)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(catalog)],
        feeds=[
            {
                "id": "lab",
                "connector": "inspect_logs",
                "stale_after": 60,
                "options": {"path": str(logs)},
            }
        ],
    )
    now = [datetime(2100, 1, 1, tzinfo=UTC)]  # the logs are far older than a minute by then
    w = Warden(settings, clock=lambda: now[0])
    try:
        assert w.run_feed("lab").ingested == 4
        ev, health = w.evaluate().evaluations
        # The feed just succeeded: its old evidence counts (a threshold's own stale_after
        # would judge its age), and its silence alert is quiet.
        assert ev.verdict.value != "unknown", ev.reason
        assert (health.threshold, health.verdict.value) == ("warden.feed.lab.silent", "ok")
        now[0] += timedelta(seconds=59)
        assert w.evaluate().evaluations[0].verdict.value != "unknown"
        now[0] += timedelta(seconds=1)  # a minute without a successful run: silent
        ev, health = w.evaluate().evaluations
        assert ev.verdict.value == "unknown" and "(silent: lab)" in ev.reason
        assert (health.threshold, health.verdict.value) == ("warden.feed.lab.silent", "breached")
        assert w.run_feed("lab").error is None  # it succeeds again (nothing new): it counts
        assert w.evaluate().evaluations[0].verdict.value != "unknown"
    finally:
        w.close()


def test_a_second_daemon_on_one_sqlite_file_refuses_to_start(tmp_path: Path, logs: Path) -> None:
    """SQLite stays single-process: the second `warden run` on the same file exits 1 naming the
    running one, before it touches the store; once the first is killed, a new one starts."""
    with receiver() as hook:
        first_port, second_port = free_port(), free_port()
        first = Daemon(write_config(tmp_path, hook.url, logs, first_port), first_port)
        first.wait_ready()
        other = tmp_path / "other"
        other.mkdir()
        (other / "tiny.yaml").write_text(TINY)
        config = write_config(other, hook.url, logs, second_port)
        config.write_text(config.read_text().replace(str(other / "w.db"), str(tmp_path / "w.db")))
        r = subprocess.run(
            [str(WARDEN), "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 1, r.stderr
        assert f"another warden daemon is running on {tmp_path / 'w.db'}" in r.stderr
        assert f"pid {first.proc.pid}" in r.stderr and "Traceback" not in r.stderr
        assert requests.get(f"http://127.0.0.1:{first_port}/readyz", timeout=5).ok
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        third = Daemon(config, second_port)
        third.wait_ready()  # the killed daemon left no stale lock
        assert third.stop() == 0

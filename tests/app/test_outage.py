"""Store outages are conditions: the daemon's jobs wait through one (no traceback a second, one
line a minute), /readyz is false and warden_store_up 0 while it lasts, and everything resumes
without loss when the store is back (warden/app/outage.py)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import generate_latest

from tests.conftest import PG_URL, _pg_schema_url
from tests.support.factories import TINY_CATALOG as TINY
from tests.support.tcpproxy import TcpProxy
from warden.app.daemon import Warden
from warden.app.outage import Outage, OutageFilter
from warden.app.settings import load_settings
from warden.store import StoreUnavailable

WARDEN = Path(sys.executable).with_name("warden")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_one_line_a_minute_with_backoff_and_one_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    outage = Outage(monotonic=clock)
    calls = 0
    down = True

    def job() -> str:
        nonlocal calls
        calls += 1
        if down:
            raise StoreUnavailable("sqlite:///w.db", "unable to open database file")
        return "done"

    guarded = outage.guard("evaluate", job)
    with caplog.at_level(logging.INFO, logger="warden.app.outage"):
        for _ in range(600):  # ten minutes of a job due every second
            assert guarded() is None
            clock.now += 1.0
        lines = [r.getMessage() for r in caplog.records]
        assert all(r.exc_info is None for r in caplog.records)  # never a traceback
        assert 10 <= len(lines) <= 11, lines  # the first, then one a minute
        assert "unable to open database file" in lines[0] and "backoff" in lines[0]
        assert re.search(r"still, after 6\d s", lines[1]), lines[1]
        assert calls < 30  # the backoff (up to 60 s) spared the store most of the 600 runs
        down = False
        clock.now += 60.0
        assert guarded() == "done" and not outage.down
    assert caplog.records[-1].getMessage().startswith("store available again after 6")


def test_the_log_filter_turns_a_store_traceback_into_one_line_a_minute() -> None:
    clock = Clock()
    f = OutageFilter(monotonic=clock)
    exc = StoreUnavailable("postgresql://w@db/w", "connection refused")

    def record() -> logging.LogRecord:
        return logging.LogRecord(
            "warden.delivery.dispatch", logging.ERROR, "", 0, "dispatch failed", None,
            (StoreUnavailable, exc, None),
        )  # fmt: skip

    first = record()
    assert f.filter(first) and first.exc_info is None
    assert first.getMessage() == (
        "dispatch failed: store postgresql://w@db/w unavailable: connection refused (a store "
        "outage: logged once a minute)"
    )
    clock.now += 1
    assert not f.filter(record())
    clock.now += 60
    assert f.filter(record())
    other = logging.LogRecord("x", logging.ERROR, "", 0, "boom", None, None)
    assert f.filter(other)


def config(tmp_path: Path, database_url: str, logs: Path, **more: str) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY)
    cfg = tmp_path / "w.yaml"
    lines = [
        f"database_url: {database_url!r}",
        f"catalog: [{tmp_path / 'tiny.yaml'}]",
        "feeds:",
        f"  - {{id: lab, connector: inspect_logs, every: 1, options: {{path: {logs}}}}}",
        *[f"{k}: {v}" for k, v in more.items()],
    ]
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def jobs(w: Warden) -> list[object]:
    return [
        w.outage.guard(name, fn)
        for name, fn in (
            ("feed:lab", lambda: w.run_feed("lab")),
            ("evaluate", w.sweep),
            ("verify-log", w.verify_log),
            ("follow-up", w.follow_up),
            ("forecast", w.forecast),
        )
    ]


def test_jobs_wait_through_an_unusable_sqlite_store_and_resume_without_loss(
    tmp_path: Path, inspect_logs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    db = tmp_path / "w.db"
    w = Warden(load_settings(config(tmp_path, f"sqlite:///{db}", logs)))
    try:
        w.note_catalog()
        # The store goes: its file is replaced by a folder SQLite cannot open.
        w.store.dispose()
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{db}{suffix}").exists():
                os.rename(f"{db}{suffix}", f"{db}{suffix}.away")
        db.mkdir()
        shutil.copy(inspect_logs["eval"], logs)  # a result arrives during the outage
        with caplog.at_level(logging.INFO):
            for job in jobs(w):
                job()  # type: ignore[operator]
            assert w.outage.down
            ready, why = w.ready()
            text = generate_latest(w.metrics.registry).decode()
        assert not ready and "unable to open database file" in why
        assert "warden_store_up 0.0" in text
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
        outage_lines = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(outage_lines) == 1, [r.getMessage() for r in caplog.records]
        # The store is back.
        db.rmdir()
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{db}{suffix}.away").exists():
                os.rename(f"{db}{suffix}.away", f"{db}{suffix}")
        w.outage._next_try = 0.0  # the test does not wait out the backoff
        caplog.clear()
        with caplog.at_level(logging.INFO):
            result = w.outage.guard("feed:lab", lambda: w.run_feed("lab"))()
        assert result is not None and result.ingested == 2  # nothing lost
        assert not w.outage.down and w.ready() == (True, "ok")
        assert "warden_store_up 1.0" in generate_latest(w.metrics.registry).decode()
        assert any("store available again" in r.getMessage() for r in caplog.records)
        assert any(s == "firing" for s in _states(w))
    finally:
        w.close()


def _states(w: Warden) -> list[str]:
    from warden.store import stats

    with w.store.read() as conn:
        return [row[2] for row in stats.states(conn)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not PG_URL, reason="WARDEN_TEST_DATABASE_URL is not set")
def test_warden_run_keeps_running_through_a_postgresql_outage(
    tmp_path: Path, inspect_logs: dict[str, Path]
) -> None:
    """`warden run` on PostgreSQL reached through a loopback proxy; the proxy is cut (every
    connection dropped, new ones refused) and restored."""
    from sqlalchemy.engine import make_url

    assert PG_URL is not None
    schema = _pg_schema_url(PG_URL)  # a schema of its own, dropped when the test ends
    schema_url = next(schema)
    url = make_url(schema_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    cfg = config(
        tmp_path,
        through,
        logs,
        http=f"{{host: 127.0.0.1, port: {port}}}",
        evaluate_every="1",
        log_format="json",
    )
    err = (tmp_path / "stderr").open("w+")
    proc = subprocess.Popen([str(WARDEN), "run", "--config", str(cfg)], stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(f"{base}/readyz") == 200, proc, "ready")
        proxy.cut()
        _wait(lambda: _get(f"{base}/readyz") == 503, proc, "not ready during the outage")
        _wait(lambda: "warden_store_up 0.0" in _text(f"{base}/metrics"), proc, "store_up 0")
        time.sleep(5)  # jobs run every second meanwhile
        assert proc.poll() is None
        shutil.copy(inspect_logs["eval"], logs)  # a result arrives during the outage
        proxy.restore()
        _wait(lambda: _get(f"{base}/readyz") == 200, proc, "ready after the outage")
        _wait(
            lambda: (
                "test.tiny.match.high" in _text(f"{base}/metrics")
                and 'state="firing"' in _text(f"{base}/metrics")
            ),
            proc,
            "the result read after the outage",
            timeout=120,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        proxy.close()
        schema.close()
    err.seek(0)
    log = err.read()
    assert code == 0, log
    assert "Traceback" not in log, log
    outage = [line for line in log.splitlines() if "unavailable" in line]
    assert 1 <= len(outage) <= 6, outage  # a line, not a traceback a second
    assert "store available again" in log


def _get(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0


def _text(url: str) -> str:
    try:
        return requests.get(url, timeout=5).text
    except requests.RequestException:
        return ""


def _wait(check: object, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"warden run exited before: {what}"
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {what}")

"""`warden check` looks at the world a config points at, without changing it: the database, the
feeds' sources, the sinks' secrets, every threshold's benchmark and metric; and the daemon logs
the same findings at start and exports their count (warden/app/checks.py)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from prometheus_client import generate_latest

from tests.conftest import PG_URL
from warden.app.daemon import Warden
from warden.app.settings import load_settings
from warden.core.model import Observation
from warden.core.suggest import nearest
from warden.interfaces.cli.main import main
from warden.store import Store
from warden.store import observations as obs_rows

CATALOG = """
benchmarks: [{id: inhouse_qa, title: In-house QA}]
thresholds:
  - id: inhouse.qa.high
    title: In-house QA crossed
    domain: cyber
    level: high
    sources: [{title: F, url: "https://example.org/"}]
    when: {benchmark: inhouse_qa, metric: accuracy, op: ">=", value: 0.5}
    then: {severity: critical, mitigations: [Pause.]}
"""


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def config(tmp_path: Path, db_url: str, *lines: str) -> Path:
    (tmp_path / "c.yaml").write_text(CATALOG)
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        "\n".join([f"database_url: {db_url!r}", f"catalog: [{tmp_path / 'c.yaml'}]", *lines]) + "\n"
    )
    return cfg


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def test_a_missing_feed_source_is_an_error_not_ok(tmp_path: Path, sqlite_url: str) -> None:
    cfg = config(
        tmp_path,
        sqlite_url,
        "feeds:",
        "  - {id: lab, connector: inspect_logs, options: {source: /data/no-such-dir}}",
        "  - {id: rel, connector: inspect_logs, options: {source: not/here}}",
    )
    r = warden("check", "--config", cfg)
    assert r.exit_code == 2, r.output
    assert "feeds.lab.options.source: '/data/no-such-dir' does not exist" in r.output
    assert "feeds.rel.options.source: 'not/here' does not exist (relative to the working" in (
        r.output
    )
    assert "ok:" not in r.output and "Traceback" not in r.output
    (tmp_path / "logs").mkdir()
    cfg.write_text(cfg.read_text().replace("/data/no-such-dir", str(tmp_path / "logs")))
    cfg.write_text(cfg.read_text().replace("not/here", str(tmp_path / "logs")))
    r = warden("check", "--config", cfg)
    assert r.exit_code == 0 and "2 feed sources" in r.output, r.output


def test_config_only_checks_a_config_made_for_another_machine(
    tmp_path: Path, sqlite_url: str
) -> None:
    cfg = config(
        tmp_path,
        "postgresql://warden@db.invalid/warden",
        "feeds: [{id: lab, connector: inspect_logs, options: {source: /data/inspect-logs}}]",
    )
    r = warden("check", "--config-only", "--config", cfg)
    assert r.exit_code == 0, r.output
    assert "not checked: what the config points at (--config-only)" in r.output


def test_a_database_warden_does_not_support_is_named_at_check_and_everywhere(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path, "mysql://warden:s3cret@db.example.org/warden")
    r = warden("check", "--config", cfg)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "warden does not support 'mysql' databases; use sqlite or postgresql" in r.output
    assert "s3cret" not in r.output
    r = warden("log", "--config", cfg)  # used to fail with ModuleNotFoundError: MySQLdb
    assert r.exit_code == 2 and "warden does not support 'mysql'" in r.output
    assert "ModuleNotFoundError" not in r.output and "Traceback" not in r.output


def test_an_unreachable_database_is_one_line_naming_host_and_cause(tmp_path: Path) -> None:
    port = closed_port()
    cfg = config(tmp_path, f"postgresql://warden@127.0.0.1:{port}/warden")
    r = warden("check", "--config", cfg)
    assert r.exit_code == 2, r.output
    (line,) = [x for x in r.output.splitlines() if x.strip().startswith("database_url:")]
    assert f"127.0.0.1:{port}" in line and "does not answer" in line
    assert "refused" in line.lower()
    assert "Traceback" not in r.output and "1 problem:" in r.output


def test_placeholder_and_empty_secrets_are_errors(tmp_path: Path, sqlite_url: str) -> None:
    cfg = config(
        tmp_path,
        sqlite_url,
        "api_token: ''",
        "sinks:",
        "  - {id: hook, type: webhook, options: {url: 'https://h.example.org/',"
        " secret: '${WEBHOOK_SECRET}'}}",
        "  - {id: ok, type: webhook, options: {url: 'https://h.example.org/', secret: s3cr3t}}",
    )
    r = warden("check", "--config", cfg)
    assert r.exit_code == 2, r.output
    assert "api_token: is empty" in r.output
    assert "sinks.hook.options.secret: is '${WEBHOOK_SECRET}', a placeholder" in r.output
    assert "sinks.ok" not in r.output and "s3cr3t" not in r.output


def test_a_near_miss_metric_is_a_warning_with_did_you_mean(db_url: str, tmp_path: Path) -> None:
    cfg = config(tmp_path, db_url)
    r = warden("check", "--config", cfg)  # no observations yet: said so, not passed as ok
    assert r.exit_code == 0, r.output
    assert "warning: threshold inhouse.qa.high: benchmark 'inhouse_qa' metric 'accuracy':" in (
        r.output
    )
    assert "cannot be checked" in r.output and "1 warning" in r.output
    store = Store(db_url)
    store.upgrade()
    now = store_now()
    rows = [
        Observation("m", "inhouse_qa", metric, 0.7, now, f"k{metric}", "log.eval", "0" * 64)
        for metric in ("match/accuracy", "match/stderr")
    ]
    with store.write() as conn:
        obs_rows.insert_observations(conn, "lab", rows, now)
    store.dispose()
    r = warden("check", "--config", cfg)
    assert r.exit_code == 0, r.output
    assert (
        "warning: threshold inhouse.qa.high: benchmark 'inhouse_qa' metric 'accuracy': no such "
        "metric (observations have match/accuracy, match/stderr); did you mean 'match/accuracy'?"
    ) in r.output
    r = warden("check", "--strict", "--config", cfg)
    assert r.exit_code == 2 and "did you mean 'match/accuracy'?" in r.output
    (tmp_path / "c.yaml").write_text(CATALOG.replace("metric: accuracy", "metric: match/accuracy"))
    r = warden("check", "--strict", "--config", cfg)
    assert r.exit_code == 0 and "warning" not in r.output, r.output


def test_an_unknown_benchmark_suggests_the_nearest_ids(tmp_path: Path, sqlite_url: str) -> None:
    cfg = config(tmp_path, sqlite_url)
    (tmp_path / "c.yaml").write_text(
        CATALOG.replace("benchmarks: [{id: inhouse_qa, title: In-house QA}]\n", "").replace(
            "benchmark: inhouse_qa", "benchmark: gpqa_diamnd"
        )
    )
    r = warden("check", "--config", cfg)
    assert r.exit_code == 2 and "unknown benchmark 'gpqa_diamnd'" in r.output, r.output
    assert "did you mean 'gpqa_diamond'?" in r.output


@pytest.fixture
def http_404() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/data.csv"
    server.shutdown()
    server.server_close()


def test_feed_urls_are_fetched_only_with_online(
    tmp_path: Path, sqlite_url: str, http_404: str
) -> None:
    cfg = config(
        tmp_path,
        sqlite_url,
        "feeds:",
        f"  - {{id: web, connector: epoch_benchmarks, options: {{source: '{http_404}'}}}}",
    )
    r = warden("check", "--config", cfg)
    assert r.exit_code == 0 and "1 feed URLs (give --online to fetch them)" in r.output
    r = warden("check", "--online", "--config", cfg)
    assert r.exit_code == 2 and f"{http_404} answers HTTP 404" in r.output, r.output


def test_the_daemon_logs_the_warnings_at_start_and_exports_their_count(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(
        tmp_path,
        sqlite_url,
        "feeds:",
        f"  - {{id: lab, connector: inspect_logs, options: {{source: {tmp_path / 'gone'}}}}}",
    )
    w = Warden(load_settings(cfg))
    try:
        with caplog.at_level(logging.WARNING, logger="warden.app.daemon"):
            report = w.check()
        text = generate_latest(w.metrics.registry).decode()
    finally:
        w.close()
    assert {f.check for f in report.findings} == {"feed_source", "threshold_metric"}
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("check: feeds.lab.options.source: ") for m in logged), logged
    assert any("check: threshold inhouse.qa.high: " in m for m in logged), logged
    assert 'warden_check_warnings{check="feed_source"} 1.0' in text
    assert 'warden_check_warnings{check="threshold_metric"} 1.0' in text
    assert 'warden_check_warnings{check="sink_secret"} 0.0' in text


def test_check_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "var" / "warden.db"
    cfg = config(tmp_path, f"sqlite:///{db}")
    r = warden("check", "--config", cfg)
    assert r.exit_code == 0 and "not checked: observations in the store (no database yet" in (
        r.output
    )
    assert not db.parent.exists()  # neither the file nor its folder was made


@pytest.mark.skipif(not PG_URL, reason="WARDEN_TEST_DATABASE_URL is not set")
def test_a_reachable_postgresql_passes(tmp_path: Path) -> None:
    assert PG_URL is not None
    r = warden("check", "--config", config(tmp_path, PG_URL))
    assert r.exit_code == 0 and "the postgresql database answers" in r.output, r.output


def test_nearest_prefers_a_path_suffix_then_edit_distance() -> None:
    assert nearest("accuracy", ["match/accuracy", "match/stderr", "acc"]) == ["match/accuracy"]
    assert nearest("cyber.cybnch.unguided.high", ["cyber.cybench.unguided.high", "x"]) == [
        "cyber.cybench.unguided.high"
    ]
    assert nearest("zzz", ["match/accuracy"]) == []


def store_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 11, 1, tzinfo=UTC)


def test_check_never_echoes_a_secret_of_a_bad_url(tmp_path: Path, sqlite_url: str) -> None:
    """Mistyped URLs (a wrong scheme, no scheme, a space) still carry their password or token:
    the errors name the key and the URL without them."""
    cfg = config(
        tmp_path,
        sqlite_url,
        "feeds:",
        "  - {id: a, connector: epoch_benchmarks, options: "
        "{source: 'htp://user:pw1@example.org/x.csv?token=SECRET1'}}",
        "sinks:",
        "  - {id: h, type: webhook, options: {url: 'notaurl?token=SECRET2&page=2'}}",
        "  - {id: g, type: webhook, options: {url: 'http://u:pw3@exa mple.org/x?key=SECRET3'}}",
    )
    r = warden("check", "--config", cfg)
    assert r.exit_code == 2, r.output
    for secret in ("SECRET1", "SECRET2", "SECRET3", "pw1", "pw3"):
        assert secret not in r.output, r.output
    assert "feeds.a.options.source: 'htp:/example.org/x.csv?token=***' does not exist" in r.output
    assert "sinks.h: options.url:" in r.output and "'notaurl?token=***&page=2'" in r.output

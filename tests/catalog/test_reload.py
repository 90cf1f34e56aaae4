"""Catalog changes: recorded in the trigger log, reloaded on SIGHUP or file change, and an invalid
catalog never replaces the last good one."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import generate_latest

from tests.app.test_daemon import Daemon, free_port, write_config
from tests.support.factories import T0, TINY_CATALOG, threshold
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.catalog.reload import CatalogWatch
from warden.core.chain import CATALOG
from warden.store import alerts
from warden.triggerlog.entries import catalog_entry, verify

SECOND = (
    TINY_CATALOG
    + """
  - id: test.tiny.includes.high
    title: Tiny task, includes scorer
    domain: test
    level: high
    sources: [{title: F, url: "https://example.org/"}]
    when: {benchmark: tiny, metric: includes/accuracy, op: ">=", value: 0.5}
    then: {severity: warning}
"""
)


def test_catalog_entries_diff_against_the_last_one() -> None:
    a, b = threshold(id="x.a.high"), threshold(id="x.b.high")
    first = catalog_entry((0, "0" * 64), T0, {}, [a, b], ["c.yaml"])
    assert first is not None and first.kind == CATALOG
    assert (first.body["added"], first.body["changed"], first.body["removed"]) == (
        ["x.a.high", "x.b.high"],
        [],
        [],
    )
    assert catalog_entry((1, first.hash), T0, first.body["versions"], [a, b], []) is None
    a2 = threshold(id="x.a.high", when={"value": 0.6})
    second = catalog_entry((1, first.hash), T0, first.body["versions"], [a2], ["c.yaml"])
    assert second is not None
    assert (second.body["added"], second.body["changed"], second.body["removed"]) == (
        [],
        ["x.a.high"],
        ["x.b.high"],
    )
    assert verify([first, second]) is None


def make(tmp_path: Path, db_url: str) -> tuple[Warden, Path]:
    cat = tmp_path / "catalog.yaml"
    cat.write_text(TINY_CATALOG)
    return Warden(Settings(database_url=db_url, catalog=[str(cat)])), cat


def test_reload_swaps_in_a_valid_catalog_and_keeps_the_last_good_one(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    w, cat = make(tmp_path, db_url)
    assert w.note_catalog() == 1 and w.note_catalog() is None  # unchanged: nothing new
    cat.write_text(SECOND)
    assert w.reload_catalog() is True
    assert [t.id for t in w.catalog.thresholds] == [
        "test.tiny.match.high",
        "test.tiny.includes.high",
    ]
    cat.write_text(SECOND.replace("level: high", "level: extreme"))
    with caplog.at_level(logging.ERROR):
        assert w.reload_catalog() is False
    assert "catalog reload failed; keeping the last good catalog" in caplog.text
    assert "level" in caplog.text and "catalog.yaml:" in caplog.text
    assert len(w.catalog.thresholds) == 2  # the last good one
    text = generate_latest(w.metrics.registry).decode()
    assert "warden_catalog_last_reload_successful 0.0" in text
    with w.store.read() as conn:
        entries = list(alerts.entries(conn))
    assert [e.kind for e in entries] == [CATALOG, CATALOG]
    assert entries[1].body["added"] == ["test.tiny.includes.high"]
    assert verify(entries) is None
    w.close()


def test_the_watch_reloads_on_change_or_when_asked(tmp_path: Path) -> None:
    cat = tmp_path / "c.yaml"
    cat.write_text("thresholds: []\n")
    calls: list[str] = []
    watch = CatalogWatch(lambda: [cat], lambda: calls.append("reload") is None)
    watch.check()
    assert calls == []
    cat.write_text("thresholds: []\n# edited\n")
    watch.check()
    assert calls == ["reload"]
    watch.ask()
    watch.check()
    watch.check()
    assert calls == ["reload", "reload"]


def test_the_daemon_reloads_on_sighup_and_on_file_change(
    tmp_path: Path, inspect_logs: dict[str, Path]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    cfg = write_config(tmp_path, "http://127.0.0.1:9/none", logs, port)
    cat = tmp_path / "tiny.yaml"
    daemon = Daemon(cfg, port)
    try:
        daemon.wait_ready()

        def metric() -> str:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            return next(
                line
                for line in text.splitlines()
                if line.startswith("warden_catalog_last_reload_successful")
            )

        cat.write_text(cat.read_text().replace("level: high", "level: extreme"))
        deadline = time.monotonic() + 20
        while metric().endswith(" 1.0") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert metric().endswith(" 0.0"), daemon.stderr()
        cat.write_text(SECOND)
        daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while metric().endswith(" 0.0") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert metric().endswith(" 1.0"), daemon.stderr()
    finally:
        assert daemon.stop() == 0
    log = (tmp_path / "warden.stderr").read_text()
    assert "catalog reload failed; keeping the last good catalog" in log
    assert "catalog: trigger 2 records 1 added, 0 changed, 0 removed thresholds" in log

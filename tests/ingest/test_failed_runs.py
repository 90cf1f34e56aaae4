"""Rejects end: a failed Inspect run is a failed run (counted, listed), not an open reject that
fails every backfill; `warden rejects dismiss` closes rejects, keeping who and why; ingest and
backfill exit 1 only for new rejects. On real SQLite files and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import insert, select

from tests.connectors.lm_eval_docs import results_doc
from warden.store import Store
from warden.store.engine import alembic_config
from warden.store.schema import failed_runs, rejects


def warden(*args: str | Path) -> Result:
    from warden.interfaces.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def logs(tmp_path: Path, inspect_logs: dict[str, Path]) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    for name in ("eval", "error"):
        shutil.copy(inspect_logs[name], folder / inspect_logs[name].name)
    return folder


@pytest.fixture
def config(tmp_path: Path, db_url: str, logs: Path) -> Path:
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(
        f"database_url: {db_url!r}\n"
        f"feeds: [{{id: lab, connector: inspect_logs, options: {{source: {logs}}}}}]\n"
    )
    return cfg


def listed(*args: str | Path) -> list[dict[str, object]]:
    r = warden(*args, "--json")
    assert r.exit_code == 0, r.output
    rows: list[dict[str, object]] = json.loads(r.output)
    return rows


def test_a_failed_run_does_not_fail_every_backfill(config: Path) -> None:
    for _ in range(2):  # it used to stay an open reject: every backfill exited 1
        r = warden("backfill", "lab", "--config", config)
        assert r.exit_code == 0, r.output
        assert ", 0 rejected, 0 skipped, 0 not finished, 1 failed run;" in r.output
        assert "failed run " in r.output and "the sandbox fell over" in r.output
    assert listed("rejects", "--config", config) == []
    (run,) = listed("rejects", "--failed-runs", "--config", config)
    assert (run["feed"], run["status"]) == ("lab", "error")
    (feed,) = listed("feeds", "--config", config)
    assert (feed["open_rejects"], feed["failed_runs"], feed["observations"]) == (0, 1, 2)
    table = warden("feeds", "--config", config).output
    assert "failed_runs" in table.splitlines()[0]


def test_backfill_exits_1_only_for_new_rejects(config: Path, logs: Path) -> None:
    (logs / "cut.json").write_text('{"version": 2, "status": "success", "eval": {')
    r = warden("backfill", "lab", "--config", config)
    assert r.exit_code == 1 and "1 rejected," in r.output, r.output
    r = warden("backfill", "lab", "--config", config)
    assert r.exit_code == 0, r.output
    assert "1 rejected (0 new, 1 recorded before)" in r.output


def test_dismiss_closes_rejects_keeping_who_and_why(config: Path, tmp_path: Path) -> None:
    mistaken = tmp_path / "results_2026-01-01T00-00-00.json"  # lm-eval, read as Inspect
    mistaken.write_text(json.dumps(results_doc()))
    assert warden("ingest", "--config", config, mistaken).exit_code == 1
    (reject,) = listed("rejects", "--config", config)
    r = warden("rejects", "dismiss", "--config", config, "--reason", "wrong connector")
    assert r.exit_code == 2 and "give the IDs of the rejects to dismiss, or --all" in r.output
    r = warden("rejects", "dismiss", "999", "--reason", "x", "--config", config)
    assert r.exit_code == 2 and "no open reject 999" in r.output
    r = warden(
        "rejects", "dismiss", str(reject["id"]), "--reason", "wrong connector", "--by", "alice",
        "--config", config,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"dismissed reject {reject['id']}: cli: {mistaken}" in r.output
    assert "1 rejects dismissed by alice: wrong connector" in r.output
    assert listed("rejects", "--config", config) == []
    (closed,) = listed("rejects", "--all", "--config", config)
    assert (closed["dismissed_by"], closed["dismiss_reason"]) == ("alice", "wrong connector")
    assert closed["resolved_at"]
    # The same bytes read again are the same reject, closed: not new, not a failure.
    r = warden("ingest", "--config", config, mistaken)
    assert r.exit_code == 0 and "(0 new, 1 recorded before)" in r.output
    assert listed("rejects", "--config", config) == []


def test_dismiss_all_of_a_feed(config: Path, logs: Path) -> None:
    (logs / "cut.json").write_text("{")
    (logs / "cut2.json").write_text("[")
    assert warden("backfill", "lab", "--config", config).exit_code == 1
    assert len(listed("rejects", "--config", config)) == 2
    r = warden("rejects", "dismiss", "--all", "--feed", "lab", "--reason", "old", "-c", config)
    assert r.exit_code == 0 and "2 rejects dismissed by " in r.output
    assert listed("rejects", "--config", config) == []


def test_failed_runs_recorded_as_rejects_move_to_their_table(db_url: str) -> None:
    store = Store(db_url)
    cfg = alembic_config(store.engine)
    command.upgrade(cfg, "0008")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    row = {"feed": "lab", "source": "a.eval", "content_hash": "0" * 64, "message": "boom",
           "created_at": now, "field": "status"}  # fmt: skip
    with store.write() as conn:
        conn.execute(
            insert(rejects),
            [
                {**row, "reason": "run_error", "identity": "1" * 64},
                {**row, "reason": "run_cancelled", "identity": "2" * 64},
                {**row, "reason": "malformed", "identity": "3" * 64},
            ],
        )
    store.upgrade()
    with store.read() as conn:
        left = conn.execute(select(rejects.c.reason)).scalars().all()
        moved = conn.execute(select(failed_runs.c.status, failed_runs.c.created_at)).all()
    store.dispose()
    assert left == ["malformed"]
    assert sorted(moved) == [("cancelled", now), ("error", now)]

"""The `warden` command, in-process through click's runner, on real SQLite files."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from tests.support.factories import TINY_CATALOG as TINY
from warden.interfaces.cli.main import main
from warden.store import Store
from warden.store.schema import triggers

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY)
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\n"
        f"catalog: [bundled, {tmp_path / 'tiny.yaml'}]\n"
    )
    return cfg


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_help_explains_commands_and_exit_codes() -> None:
    r = warden("--help")
    assert r.exit_code == 0
    for command in ("run", "check", "ingest", "evaluate", "status", "log", "db"):
        assert command in r.output
    assert "Exit codes" in r.output
    assert "SIGTERM" in warden("run", "--help").output


def test_check_passes_on_the_demo_config() -> None:
    r = warden("check", "--config", REPO / "deploy/demo/warden.yaml")
    assert r.exit_code == 0 and "ok:" in r.output and "1 feeds, 1 sinks" in r.output
    assert re.search(
        r"\d+ thresholds in \d+ catalog files, \d+ benchmarks and \d+ models", r.output
    )


def test_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("level: high", "level: huge").replace(">=", "=="))
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(f"""
catalog: [{bad}]
feeds:
  - {{id: a, connector: nosuch}}
  - {{id: b, connector: inspect_logs, options: {{pth: x}}}}
sinks:
  - {{id: s, type: webhook, options: {{url: "not a url"}}}}
  - {{id: t, type: pager}}
""")
    r = warden("check", "--config", cfg)
    assert r.exit_code == 2
    text = r.output
    assert "level" in text and "when.op" in text and f"{bad}:" in text
    (line,) = [x for x in text.splitlines() if "'nosuch': unknown; available: " in x]
    assert "inspect_logs" in line and "observations_json" in line
    assert "options.pth: unknown key" in text and "options.source: Field required" in text
    assert "options.url" in text
    assert "'pager': unknown" in text
    assert "Traceback" not in text


def test_config_errors_are_one_clean_message(tmp_path: Path) -> None:
    r = warden("status", "--config", tmp_path / "missing.yaml")
    assert r.exit_code == 2 and "config file not found" in r.output


def test_ingest_evaluate_status_and_the_trigger_log(
    config: Path, tmp_path: Path, inspect_logs: dict[str, Path]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(inspect_logs["eval"], logs)
    r = warden("ingest", "--config", config, logs)
    assert r.exit_code == 0, r.output
    assert "2 new, 0 already known, 0 rejected" in r.output and "1 triggers" in r.output
    assert "0 new, 2 already known" in warden("ingest", "--config", config, logs).output

    r = warden("log", "--config", config)
    assert "test.tiny.match.high" in r.output and "inactive -> firing" in r.output
    lines = warden("log", "--json", "--config", config).output.splitlines()
    catalog, entry = (json.loads(line) for line in lines)
    assert catalog["kind"] == "catalog" and "test.tiny.match.high" in catalog["added"]
    assert entry["to"] == "firing" and entry["subject"] == "mockllm/model"
    assert entry["evidence"][0]["source"].endswith(".eval")
    rows = list(csv.DictReader(io.StringIO(warden("log", "--csv", "--config", config).output)))
    assert [r["kind"] for r in rows] == ["catalog", "transition"]
    assert rows[1]["threshold"] == "test.tiny.match.high" and rows[1]["to"] == "firing"

    status = json.loads(warden("status", "--json", "--config", config).output)
    assert {
        "threshold": "test.tiny.match.high",
        "subject": "mockllm/model",
        "state": "firing",
    }.items() <= status["states"][0].items()
    assert "cyber.cybench.unguided.high" in status["thresholds_without_evidence"]
    assert status["outbox"] == {}  # no sinks configured

    ev = json.loads(warden("evaluate", "--json", "--config", config).output)
    verdicts = {(e["threshold"], e["subject"]): e["verdict"] for e in ev["evaluations"]}
    assert verdicts[("test.tiny.match.high", "mockllm/model")] == "breached"
    assert verdicts[("autonomy.metr_time_horizon.p50.high", "frontier")] == "unknown"
    assert ev["triggers"] == []


def test_log_verify_finds_the_first_bad_entry(
    config: Path, tmp_path: Path, inspect_logs: dict[str, Path]
) -> None:
    warden("ingest", "--config", config, inspect_logs["eval"])
    r = warden("log", "verify", "--config", config)
    assert r.exit_code == 0 and "ok: 2 entries verified" in r.output  # the catalog, the alert
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    with store.write() as conn:
        conn.execute(update(triggers).values(subject="someone/else"))
    r = warden("log", "verify", "--config", config)
    assert r.exit_code == 1 and "trigger 1:" in r.output and "'subject'" in r.output
    # It reads only the store: a broken catalog does not stop it.
    (tmp_path / "tiny.yaml").write_text("thresholds: [{id: broken}]\n")
    assert warden("check", "--config", config).exit_code == 2
    r = warden("log", "verify", "--config", config)
    assert r.exit_code == 1 and "trigger 1:" in r.output


def test_a_failed_inspect_run_is_a_failed_run_not_a_reject(
    config: Path, inspect_logs: dict[str, Path]
) -> None:
    """An Inspect run that ended in error is what its run left, not bad input: recorded once as
    a failed run (shown by `warden feeds` and `warden rejects --failed-runs`), never an open
    reject that fails every later ingest or backfill of its folder."""
    r = warden("ingest", "--config", config, inspect_logs["error"])
    assert r.exit_code == 0, r.output
    assert "0 rejected, 0 skipped, 0 not finished, 1 failed run;" in r.output
    assert "failed run " in r.output and "the sandbox fell over" in r.output
    assert json.loads(warden("rejects", "--json", "--config", config).output) == []
    (run,) = json.loads(warden("rejects", "--failed-runs", "--json", "--config", config).output)
    assert run["feed"] == "cli" and run["status"] == "error"
    assert "the sandbox fell over" in run["message"]
    (feed,) = json.loads(warden("feeds", "--json", "--config", config).output)
    assert (feed["feed"], feed["open_rejects"], feed["failed_runs"]) == ("cli", 0, 1)
    r = warden("ingest", "--config", config, inspect_logs["error"])  # again: still not a failure
    assert r.exit_code == 0 and "1 failed run" in r.output
    assert len(json.loads(warden("rejects", "--failed-runs", "--json", "-c", config).output)) == 1


def test_ingest_exits_1_only_for_new_rejects(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"eval": {"task": "t"}, "status": "success"')  # cut short
    r = warden("ingest", "--config", config, bad)
    assert r.exit_code == 1 and "1 rejected, 0 skipped" in r.output
    r = warden("ingest", "--config", config, bad)  # recorded before: reported, not a failure
    assert r.exit_code == 0 and "1 rejected (0 new, 1 recorded before)" in r.output


def test_unknown_connector_is_a_usage_error(config: Path, tmp_path: Path) -> None:
    r = warden("ingest", "--config", config, "--connector", "nosuch", tmp_path)
    assert r.exit_code == 2 and "unknown; available" in r.output


def test_a_connector_needing_options_points_to_feeds_and_backfill(
    config: Path, tmp_path: Path
) -> None:
    r = warden("ingest", "--config", config, "--connector", "csv", tmp_path)
    assert r.exit_code == 2 and "options.model: Field required" in r.output
    assert "declare a feed with them in the config and run `warden backfill FEED`" in r.output


def test_db_upgrade_is_idempotent(config: Path) -> None:
    assert warden("db", "upgrade", "--config", config).exit_code == 0
    r = warden("db", "upgrade", "--config", config)
    assert r.exit_code == 0 and "latest schema" in r.output


def test_help_does_not_import_the_heavy_parts() -> None:
    """`warden --help` stays fast: commands import the store, pydantic models and the rest
    only when they run (perf/run.py --only startup times it)."""
    import subprocess
    import sys

    heavy = ("sqlalchemy", "pydantic", "requests", "yaml")
    code = (
        "import sys, warden.interfaces.cli.main; "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout

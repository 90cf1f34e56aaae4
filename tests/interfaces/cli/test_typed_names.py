"""Labels and ids are checked where people type them: a silence or a route on a label no alert
has is refused with the known names (a silence takes --force), and a threshold id nothing knows
gets the nearest ids, on real SQLite files (and PostgreSQL for the store's ids)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.support.factories import TINY_CATALOG as TINY
from warden.interfaces.cli.main import main


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def config(tmp_path: Path, db_url: str, inspect_logs: dict[str, Path]) -> Path:
    own = "mitigations: [Pause.], labels: {team: evals}}"
    (tmp_path / "tiny.yaml").write_text(TINY.replace("mitigations: [Pause.]}", own))
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(f"database_url: {db_url!r}\ncatalog: [bundled, {tmp_path / 'tiny.yaml'}]\n")
    r = warden("ingest", "--config", cfg, inspect_logs["eval"])  # test.tiny.match.high fires
    assert r.exit_code == 0, r.output
    return cfg


SILENCE = ["silence", "add", "--for", "2h", "--by", "ops", "--comment", "drill"]


def test_a_silence_on_a_misspelt_label_is_refused_naming_the_known_ones(config: Path) -> None:
    r = warden(*SILENCE, "--match", "domian=compute", "--config", config)
    assert r.exit_code == 2, r.output
    assert "unknown label 'domian' (did you mean 'domain'?): no alert has it" in r.output
    assert "(labels: alert, domain, family, framework, level, scope, severity, state, subject," in (
        r.output
    )
    assert "give --force" in r.output
    listed = json.loads(warden("silence", "list", "--json", "--config", config).output)
    assert listed == []
    r = warden(*SILENCE, "--match", "domian=compute", "--force", "--config", config)
    assert r.exit_code == 0 and r.output.startswith("silence 1 "), r.output


def test_a_silence_on_a_value_no_alert_has_is_refused(config: Path) -> None:
    r = warden(*SILENCE, "--match", "threshold=test.tiny.match.hihg", "--config", config)
    assert r.exit_code == 2
    assert "no alert has threshold='test.tiny.match.hihg'" in r.output
    assert "did you mean 'test.tiny.match.high'?" in r.output
    r = warden(*SILENCE, "--match", "team=evals", "--match-re", "subject=mock.*", "-c", config)
    assert r.exit_code == 0, r.output  # a threshold's own label; any subject


def test_ack_of_a_misspelt_threshold_suggests_the_nearest_ids(config: Path) -> None:
    r = warden("ack", "test.tiny.match.hihg", "mockllm/model", "--by", "alice", "-c", config)
    assert r.exit_code == 2, r.output
    assert (
        "no threshold 'test.tiny.match.hihg' in the catalog or the store; did you mean "
        "'test.tiny.match.high'?"
    ) in r.output
    assert "nothing to acknowledge" not in r.output  # what it used to say, and only that
    r = warden("ack", "test.tiny.match.high", "mockllm/modle", "--by", "alice", "-c", config)
    assert r.exit_code == 2 and "did you mean 'mockllm/model'?" in r.output
    r = warden("ack", "test.tiny.match.high", "mockllm/model", "--by", "alice", "-c", config)
    assert r.exit_code == 0 and "acknowledged by alice" in r.output


def test_the_trigger_log_filters_suggest_the_nearest_ids(config: Path, tmp_path: Path) -> None:
    for args in (["log", "--threshold"], ["log", "export", "--threshold"]):
        r = warden(*args, "test.tiny.match.hihg", "--config", config)
        assert r.exit_code == 2, r.output
        assert "--threshold 'test.tiny.match.hihg': no such threshold" in r.output
        assert "did you mean 'test.tiny.match.high'?" in r.output
    r = warden("log", "--threshold", "test.tiny.match.high", "--config", config)
    assert r.exit_code == 0 and "inactive -> firing" in r.output


def test_a_route_on_an_unknown_label_is_a_config_error(tmp_path: Path, sqlite_url: str) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(
        f"database_url: {sqlite_url}\ncatalog: [{tmp_path / 'tiny.yaml'}]\n"
        "sinks: [{id: chat, type: log}]\n"
        "routes: [{match: {domian: test}, sinks: [chat]}, {match: {domain: test}, sinks: [chat],"
        " group_by: [subjcet]}]\n"
    )
    r = warden("check", "--config", cfg)
    assert r.exit_code == 2, r.output
    assert "routes.0: unknown label 'domian' (did you mean 'domain'?)" in r.output
    assert "routes.1: unknown label 'subjcet' (did you mean 'subject'?)" in r.output
    assert warden("status", "--config", cfg).exit_code == 2  # the daemon refuses it too

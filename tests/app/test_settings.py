from __future__ import annotations

from pathlib import Path

import pytest

from warden.app.settings import load_settings
from warden.core.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("WARDEN_") and key != "WARDEN_TEST_DATABASE_URL":
            monkeypatch.delenv(key)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "warden.yaml"
    path.write_text(text)
    return path


def test_defaults_without_a_config_file() -> None:
    s = load_settings(None)
    assert s.database_url == "sqlite:///var/warden.db"
    assert s.catalog == ["bundled"]
    assert (s.http.host, s.http.port) == ("127.0.0.1", 9464)
    assert s.api_token is None
    assert s.feeds == [] and s.sinks == []
    assert s.catalog_paths()[0].joinpath("cyber.yaml").is_file()


def test_file_values_and_environment_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        """
database_url: sqlite:///x.db
http: {host: 0.0.0.0, port: 9000}
api_token: s3cret
feeds:
  - {id: lab, connector: inspect_logs, every: 30, options: {path: /logs}}
sinks:
  - {id: hook, type: webhook, options: {url: "http://127.0.0.1:1/x"}}
""",
    )
    monkeypatch.setenv("WARDEN_HTTP__PORT", "9500")
    s = load_settings(path)
    assert s.http.port == 9500  # env wins
    assert s.http.host == "0.0.0.0"  # the rest of the section stays from the file
    assert s.api_token is not None and s.api_token.get_secret_value() == "s3cret"
    assert s.feeds[0].every == 30 and s.feeds[0].options == {"path": "/logs"}
    assert s.sinks[0].type == "webhook"


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "evaluate_every: 5\n")
    monkeypatch.setenv("WARDEN_CONFIG", str(path))
    assert load_settings(None).evaluate_every == 5


def test_unknown_key_is_named_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "database_url: sqlite:///x.db\nhttp:\n  host: 1.2.3.4\n  prot: 1\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    message = str(exc.value)
    assert f"{path}:4" in message and "http.prot: unknown key" in message


def test_wrong_types_are_all_reported_with_their_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
http: {port: high}
feeds:
  - {id: lab, connector: inspect_logs, every: -1}
""",
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    problems = [str(p) for p in exc.value.problems]
    assert any("http.port" in p and "'high'" in p for p in problems)
    assert any("feeds.0.every" in p for p in problems)
    assert exc.value.exit_code == 2


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "api_token: 987654321\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert "api_token" in str(exc.value)
    assert "987654321" not in str(exc.value)


def test_unknown_environment_setting_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDEN_DATABSE_URL", "sqlite:///typo.db")
    with pytest.raises(ConfigError, match="WARDEN_DATABSE_URL"):
        load_settings(None)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")
    path = write(tmp_path, "http: [unclosed\n")
    with pytest.raises(ConfigError, match=r"warden.yaml:\d+: invalid YAML"):
        load_settings(path)


def test_duplicate_feed_ids_are_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
feeds:
  - {id: a, connector: inspect_logs}
  - {id: a, connector: inspect_logs}
""",
    )
    with pytest.raises(ConfigError, match="duplicate id 'a'"):
        load_settings(path)


def test_bad_environment_values_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "http: {host: 127.0.0.1, port: 9000}\n")
    monkeypatch.setenv("WARDEN_HTTP__PORT", "abc")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert "environment WARDEN_HTTP__PORT: http.port" in str(exc.value)
    assert "warden.yaml" not in str(exc.value)


def test_non_json_list_in_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARDEN_CATALOG", "bundled")
    with pytest.raises(ConfigError, match="catalog"):
        load_settings(None)


def test_a_feed_runs_every_n_seconds_or_on_a_cron_schedule(tmp_path: Path) -> None:
    from warden.app.scheduler import Schedules

    path = write(
        tmp_path,
        "feeds:\n"
        "  - {id: epoch, connector: observations_json, cron: '15 */6 * * *', options: {path: x}}\n",
    )
    (feed,) = load_settings(path).feeds
    assert feed.cron == "15 */6 * * *"
    schedules = Schedules()
    schedules.cron("feed:epoch", feed.cron, lambda: None)
    schedules.start()
    try:
        first = schedules.next_run("feed:epoch")
        assert first is not None and first.minute == 15 and first.hour % 6 == 0
    finally:
        schedules.shutdown()
    for line, message in (
        ("cron: '61 * * * *'", "feeds.0: Value error, cron '61 * * * *'"),
        ("cron: 'every day'", "Wrong number of fields"),
        ("every: 30, cron: '* * * * *'", "give either every or cron, not both"),
    ):
        assert message in feed_error(tmp_path, line)


def feed_error(tmp_path: Path, options: str) -> str:
    """The config error of a feed with `options` (YAML flow-mapping text)."""
    bad = write(tmp_path, f"feeds:\n  - {{id: f, connector: observations_json, {options}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(bad)
    return str(caught.value)


def test_periods_are_seconds_or_durations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        """
evaluate_every: 5m
verify_every: 6h
forecast_every: 90
feeds:
  - {id: metr, connector: metr_horizons, every: 1d, stale_after: 45d, options: {path: x}}
routes:
  - {sinks: [log], repeat_interval: 4h, escalate_after: 30m, escalate_to: [log]}
sinks: [{id: log, type: log}]
""",
    )
    s = load_settings(path)
    assert (s.evaluate_every, s.verify_every, s.forecast_every) == (300, 21600, 90)
    assert (s.feeds[0].every, s.feeds[0].stale_after) == (86400, 45 * 86400)
    assert (s.routes[0].repeat_interval, s.routes[0].escalate_after) == (14400, 1800)
    monkeypatch.setenv("WARDEN_EVALUATE_EVERY", "2m")
    assert load_settings(path).evaluate_every == 120
    for line, problem in (
        ("every: 1x", "feeds.0.every: Value error, expected seconds, or a duration such as '30m'"),
        ("every: -5m", "feeds.0.every: Value error, expected seconds"),
        ("stale_after: 0", "feeds.0.stale_after: Input should be greater than 0"),
    ):
        assert problem in feed_error(tmp_path, line)

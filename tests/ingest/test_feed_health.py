"""Feed health on real stores: `warden feeds`, `warden rejects` and `rejects retry`,
`warden backfill`, and the feed metrics, with real files and a loopback HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from prometheus_client import generate_latest

from warden.app.daemon import Warden
from warden.app.settings import load_settings
from warden.interfaces.cli.main import main

GOOD = [
    {"model": "acme/m1", "benchmark": "lab/eval", "metric": "acc", "value": 0.4,
     "observed_at": "2025-06-01T00:00:00Z"},
    {"model": "acme/m1", "benchmark": "lab/eval", "metric": "acc", "value": 0.5,
     "observed_at": "2026-02-01T00:00:00Z"},
]  # fmt: skip


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def setup(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.json").write_text(json.dumps(GOOD))
    (data / "bad.json").write_text('[{"model": "acme/m2", "benchmark": "lab/eval"')  # cut short
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\n"
        "feeds:\n"
        f"  - {{id: lab, connector: observations_json, every: 3600, options: {{source: {data}}}}}\n"
        f"  - {{id: gone, connector: observations_json, cron: '0 * * * *',"
        f" options: {{source: {tmp_path / 'missing'}}}}}\n"
    )
    return cfg, data


def test_backfill_rejects_retry_and_feeds(tmp_path: Path) -> None:
    cfg, data = setup(tmp_path)
    r = warden("feeds", "--config", cfg)  # a command that reads the store never makes one
    assert r.exit_code == 2 and "no database at" in r.output and not (tmp_path / "w.db").exists()
    assert warden("db", "upgrade", "--config", cfg).exit_code == 0
    listed = json.loads(warden("feeds", "--json", "--config", cfg).output)
    assert [(f["feed"], f["schedule"], f["state"]) for f in listed] == [
        ("lab", "every 1h", "never run"),
        ("gone", "cron 0 * * * *", "never run"),
    ]
    r = warden("backfill", "lab", "--from", "2026-01-01", "--config", cfg)
    assert r.exit_code == 1  # bad.json was rejected
    assert (
        "lab: 1 new, 0 already known, 1 rejected, 0 skipped, 0 not finished, 1 before 2026-01-01 "
        "left out" in r.output
    )
    rejects = json.loads(warden("rejects", "--json", "--config", cfg).output)
    assert [(x["feed"], Path(x["source"]).name, x["reason"]) for x in rejects] == [
        ("lab", "bad.json", "truncated")
    ] or [(x["feed"], Path(x["source"]).name) for x in rejects] == [("lab", "bad.json")]
    # Still broken: retry leaves it open.
    r = warden("rejects", "retry", "--config", cfg)
    assert r.exit_code == 1 and "0 rejects resolved, 1 still open" in r.output
    # Fixed: retry reads it again and resolves it.
    (data / "bad.json").write_text(json.dumps([{**GOOD[1], "model": "acme/m2"}]))
    r = warden("rejects", "retry", "--config", cfg)
    assert r.exit_code == 0 and "1 rejects resolved, 0 still open; 1 new observations" in r.output
    assert json.loads(warden("rejects", "--json", "--config", cfg).output) == []
    history = json.loads(warden("rejects", "--all", "--json", "--config", cfg).output)
    assert len(history) == 1 and history[0]["resolved_at"]
    # The retry was a feed run: it read what the feed had not read (its saved cursor knew
    # nothing of the backfill with --from), so a backfill now finds everything stored already.
    (data / "later.json").write_text(json.dumps([{**GOOD[1], "model": "acme/m3"}]))
    r = warden("backfill", "lab", "--config", cfg)
    assert r.exit_code == 0 and "lab: 1 new, 3 already known, 0 rejected" in r.output
    # A backfill without --from saves the feed's cursor: its next run reads nothing again.
    w = Warden(load_settings(cfg))
    try:
        again = w.run_feed("lab")
    finally:
        w.close()
    assert (again.ingested, again.duplicates, again.error) == (0, 0, None)
    listed = {f["feed"]: f for f in json.loads(warden("feeds", "--json", "--config", cfg).output)}
    assert listed["lab"]["state"] == "ok" and listed["lab"]["observations"] == 4
    assert listed["lab"]["open_rejects"] == 0


def test_failures_are_counted_by_reason_and_feed_up_follows_the_last_run(tmp_path: Path) -> None:
    cfg, _ = setup(tmp_path)
    w = Warden(load_settings(cfg))
    try:
        failed = w.run_feed("gone")
        assert failed.error_reason == "not_found" and "missing" in (failed.error or "")
        ok = w.run_feed("lab")
        assert ok.error is None
        text = generate_latest(w.metrics.registry).decode()
    finally:
        w.close()
    assert 'warden_feed_up{feed="gone"} 0.0' in text
    assert 'warden_feed_up{feed="lab"} 1.0' in text
    assert 'warden_feed_failures_total{feed="gone",reason="not_found"} 1.0' in text
    assert 'warden_feed_last_run_duration_seconds{feed="lab"}' in text
    listed = {f["feed"]: f for f in json.loads(warden("feeds", "--json", "--config", cfg).output)}
    assert listed["gone"]["state"] == "failing (not_found)"


def test_unknown_feeds_and_bad_dates_exit_2(tmp_path: Path) -> None:
    cfg, _ = setup(tmp_path)
    assert warden("db", "upgrade", "--config", cfg).exit_code == 0
    for args, message in (
        (["backfill", "nope"], "no feed 'nope' in the config (lab, gone)"),
        (["backfill", "lab", "--from", "soon"], "--from: not a date"),
        (["rejects", "retry", "--feed", "nope"], "--feed 'nope': no such feed"),
    ):
        r = CliRunner().invoke(main, [*args, "--config", str(cfg)])
        assert r.exit_code == 2 and message in r.output, (args, r.output)


def test_a_feed_silent_past_its_stale_after_raises_its_own_alert(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    data = tmp_path / "data"
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\n"
        "feeds:\n"
        f"  - {{id: lab, connector: observations_json, stale_after: 3600,"
        f" options: {{source: {data}}}}}\n"
    )
    now = [datetime(2026, 3, 1, tzinfo=UTC)]
    w = Warden(load_settings(cfg), clock=lambda: now[0])
    try:
        w.note_catalog()
        assert w.run_feed("lab").error_reason == "not_found"  # the folder is not there yet
        (ev,) = [e for e in w.evaluate().evaluations if e.threshold == "warden.feed.lab.silent"]
        assert ev.verdict.value == "ok" and ev.subject == "lab"
        now[0] += timedelta(hours=2)
        (t,) = [t for _, t in w.evaluate().transitions]
        assert (t.threshold, t.subject, t.to_state.value) == (
            "warden.feed.lab.silent",
            "lab",
            "firing",
        )
        assert "7200 s and it never succeeded (>= 3600 s)" in t.evaluation.reason
        (listed,) = json.loads(warden("feeds", "--json", "--config", cfg).output)
        assert listed["state"] == "failing (not_found), silent"
        data.mkdir()
        (data / "a.json").write_text(json.dumps(GOOD))
        w.run_feed("lab")  # success: its own alert resolves at once
        with w.store.read() as conn:
            from warden.store import alerts

            states = alerts.load_states(conn, ["warden.feed.lab.silent"])
        assert states[("warden.feed.lab.silent", "lab")].value == "resolved"
        # `warden feeds` runs on the real clock: months after that success, the feed is silent.
        (listed,) = json.loads(warden("feeds", "--json", "--config", cfg).output)
        assert listed["state"] == "silent"
    finally:
        w.close()
    entries = [json.loads(x) for x in warden("log", "--json", "--config", cfg).output.splitlines()]
    fired = [e for e in entries if e.get("threshold") == "warden.feed.lab.silent"]
    assert [e["to"] for e in fired] == ["firing", "resolved"]
    assert fired[0]["labels"] == {"feed": "lab"} and fired[0]["severity"] == "warning"


def test_rejects_in_an_archive_name_their_member(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("good.json", json.dumps([{**GOOD[0], "model": "acme/z"}]))
        z.writestr("inner/cut.json", '[{"model": "acme/m3"')
    cfg = tmp_path / "zip.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'z.db'}\n"
        f"feeds: [{{id: lab, connector: observations_json, options: {{source: {archive}}}}}]\n"
    )
    assert warden("backfill", "lab", "--config", cfg).exit_code == 1
    (r,) = json.loads(warden("rejects", "--json", "--config", cfg).output)
    assert Path(r["source"]).name == "batch.zip" and r["record"] == "inner/cut.json", r


def test_rejects_retry_counts_the_new_rejects_of_what_it_read_again(tmp_path: Path) -> None:
    cfg, data = setup(tmp_path)
    assert warden("backfill", "lab", "--config", cfg).exit_code == 1  # bad.json: cut short
    (data / "bad.json").write_text('{"not": "a list"}')  # "fixed", but wrong another way
    r = warden("rejects", "retry", "--config", cfg)
    assert r.exit_code == 1, r.output
    assert "1 rejects resolved, 0 still open, 1 new rejects" in r.output
    (left,) = json.loads(warden("rejects", "--json", "--config", cfg).output)
    assert Path(left["source"]).name == "bad.json" and left["reason"] != "truncated"
    # A retry whose run fails (the source is gone) resolves nothing.
    data.rename(data.with_name("moved"))
    r = warden("rejects", "retry", "--config", cfg)
    assert r.exit_code == 1 and "0 rejects resolved, 1 still open" in r.output, r.output
    assert "the run failed" in r.output
    assert len(json.loads(warden("rejects", "--json", "--config", cfg).output)) == 1
    table = warden("rejects", "--all", "--config", cfg).output
    assert "resolved_at" in table.splitlines()[0]

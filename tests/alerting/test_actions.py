"""Routes, silences, inhibition, acknowledgements, repeats and escalation on real stores, with
log sinks writing to files and the real dispatcher."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from warden.alerting import actions as alerting
from warden.app.daemon import Warden
from warden.app.settings import Settings, load_settings
from warden.core.errors import ConfigError, UsageError
from warden.core.matchers import Matchers
from warden.core.model import Observation
from warden.interfaces.cli.main import main
from warden.store import observations as obs_rows
from warden.triggerlog.entries import verify

CATALOG = """
benchmarks: [{id: ctf, title: CTF, metrics: {acc: {}}}]
thresholds:
  - id: cyber.ctf.early_warning
    title: CTF early warning
    domain: cyber
    level: early_warning
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: ctf, metric: acc, op: ">=", value: 0.3}
    then: {severity: warning}
  - id: cyber.ctf.critical
    title: CTF critical
    domain: cyber
    level: critical
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: ctf, metric: acc, op: ">=", value: 0.6}
    then: {severity: critical, labels: {team: red}}
"""
T0 = datetime(2026, 4, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make(tmp_path: Path, clock: Clock, **extra: Any) -> Warden:
    (tmp_path / "c.yaml").write_text(CATALOG)
    sinks = [
        {"id": name, "type": "log", "options": {"path": str(tmp_path / f"{name}.jsonl")}}
        for name in ("pager", "chat", "boss")
    ]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "c.yaml")],
        sinks=sinks,
        **extra,
    )
    return Warden(settings, clock=clock)


def put(w: Warden, model: str, value: float, key: str) -> None:
    o = Observation(model, "ctf", "acc", value, w.clock(), key, "s", "0" * 64)
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, "f", [o], w.clock())
    w.evaluate()
    while w.dispatcher.run_once():
        pass


def got(tmp_path: Path, sink: str) -> list[tuple[str, str, str]]:
    path = tmp_path / f"{sink}.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    # A grouped notification (transitions of one cycle, by route) lists each in `alerts`.
    alerts = [a for x in lines for a in x.get("alerts", [{**x["trigger"], "to": x["status"]}])]
    return [(a["threshold"], a["subject"], a["to"]) for a in alerts]


ROUTES = [
    {"match": {"severity": "critical"}, "sinks": ["pager"], "continue": True},
    {"match": {"domain": "cyber"}, "sinks": ["chat"], "send_resolved": False},
]


def test_routes_first_match_continue_and_send_resolved(tmp_path: Path) -> None:
    clock = Clock()
    w = make(tmp_path, clock, routes=ROUTES, inhibit=[])
    try:
        put(w, "m1", 0.4, "k1")  # early warning fires: cyber, not critical -> chat only
        put(w, "m1", 0.7, "k2")  # critical fires -> pager and (continue) chat
        put(w, "m1", 0.1, "k3")  # both resolve: chat does not want resolved
    finally:
        w.close()
    assert got(tmp_path, "pager") == [
        ("cyber.ctf.critical", "m1", "firing"),
        ("cyber.ctf.critical", "m1", "resolved"),
    ]
    assert got(tmp_path, "chat") == [
        ("cyber.ctf.early_warning", "m1", "firing"),
        ("cyber.ctf.critical", "m1", "firing"),
    ]
    assert got(tmp_path, "boss") == []


def test_inhibition_silences_and_the_trigger_log(tmp_path: Path) -> None:
    clock = Clock()
    w = make(tmp_path, clock, routes=[{"match": {"domain": "cyber"}, "sinks": ["chat"]}])
    try:
        put(w, "m1", 0.7, "k1")  # both fire in one cycle: the critical inhibits the early warning
        alerting.add_silence(w.store, Matchers(match={"subject": "m2"}), T0,
                             T0 + timedelta(hours=1), "ops", "maintenance", T0)  # fmt: skip
        put(w, "m2", 0.7, "k2")  # silenced: logged, not delivered
        with w.store.read() as conn:
            from warden.store import alerts

            entries = list(alerts.entries(conn))
        clock.now = T0 + timedelta(hours=2)
        assert alerting.log_ended(w.store, clock.now) == [1]
    finally:
        w.close()
    assert got(tmp_path, "chat") == [("cyber.ctf.critical", "m1", "firing")]
    by = {(e.threshold, e.subject): e.body for e in entries if e.kind == "transition"}
    assert (
        by[("cyber.ctf.early_warning", "m1")]["delivery"]["inhibited_by"]
        == "cyber.ctf.critical (m1)"
    )
    assert by[("cyber.ctf.critical", "m2")]["delivery"]["silenced_by"] == [1]
    assert by[("cyber.ctf.critical", "m2")]["delivery"]["sinks"] == []
    kinds = [e.kind for e in entries]
    assert kinds.count("silence") == 1


def test_an_alert_no_route_takes_is_logged_as_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    w = make(tmp_path, clock, routes=[{"match": {"severity": "critical"}, "sinks": ["pager"]}])
    try:
        with caplog.at_level("WARNING", logger="warden.alerting.cycle"):
            put(w, "m1", 0.4, "k1")  # the early warning fires: severity warning, no route
            put(w, "m1", 0.7, "k2")  # the critical fires: routed
    finally:
        w.close()
    warned = [r.getMessage() for r in caplog.records if "no route takes" in r.getMessage()]
    assert len(warned) == 1, warned  # one line per cycle, not one per trigger
    assert warned[0].startswith("1 triggers no route takes (recorded in the trigger log, not")
    assert got(tmp_path, "pager") == [("cyber.ctf.critical", "m1", "firing")]


def test_many_unrouted_triggers_make_one_line_and_none_without_sinks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    routes = [{"match": {"severity": "critical"}, "sinks": ["pager"]}]
    (tmp_path / "a").mkdir()
    w = make(tmp_path / "a", Clock(), routes=routes)
    try:
        with caplog.at_level("WARNING", logger="warden.alerting.cycle"):
            for i in range(12):
                o = Observation(f"m{i}", "ctf", "acc", 0.4, w.clock(), f"k{i}", "s", "0" * 64)
                with w.store.write() as conn:
                    obs_rows.insert_observations(conn, "f", [o], w.clock())
            w.evaluate()
    finally:
        w.close()
    warned = [r.getMessage() for r in caplog.records if "no route takes" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("12 triggers") and "and 7 more" in warned[0]
    caplog.clear()
    catalog = [str(tmp_path / "a" / "c.yaml")]
    bare = Warden(Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}", catalog=catalog),
                  clock=Clock())  # fmt: skip
    try:
        with caplog.at_level("WARNING", logger="warden.alerting.cycle"):
            o = Observation("m", "ctf", "acc", 0.9, bare.clock(), "k", "s", "0" * 64)
            with bare.store.write() as conn:
                obs_rows.insert_observations(conn, "f", [o], bare.clock())
            assert len(bare.evaluate().transitions) == 2  # no sinks: recorded only
    finally:
        bare.close()
    assert not [r for r in caplog.records if "no route takes" in r.getMessage()]


def test_a_resolution_goes_only_where_the_alert_went(tmp_path: Path) -> None:
    """An early warning inhibited (or silenced) for all its life is never announced, so its
    resolution is not either (as Alertmanager does); one that was announced is resolved."""
    clock = Clock()
    w = make(tmp_path, clock, routes=[{"match": {"domain": "cyber"}, "sinks": ["chat"]}])
    try:
        put(w, "m1", 0.7, "k1")  # both fire at once: the early warning is inhibited
        put(w, "m1", 0.1, "k2")  # both resolve at once: nothing inhibits it any more
        alerting.add_silence(w.store, Matchers(match={"subject": "m2"}), T0,
                             T0 + timedelta(minutes=30), "ops", "maintenance", T0)  # fmt: skip
        put(w, "m2", 0.7, "k3")  # silenced while it fires
        clock.now = T0 + timedelta(hours=1)
        put(w, "m2", 0.1, "k4")  # resolves after the silence ended
        put(w, "m3", 0.4, "k5")  # the early warning alone: announced
        put(w, "m3", 0.7, "k6")  # the critical joins it
        put(w, "m3", 0.1, "k7")  # both resolve: both were announced
        put(w, "m1", 0.4, "k8")  # a new episode for m1's early warning: announced
        put(w, "m1", 0.1, "k9")  # and resolved
        with w.store.read() as conn:
            from warden.store import alerts

            entries = [e for e in alerts.entries(conn) if e.kind == "transition"]
    finally:
        w.close()
    assert got(tmp_path, "chat") == [
        ("cyber.ctf.critical", "m1", "firing"),
        ("cyber.ctf.critical", "m1", "resolved"),
        ("cyber.ctf.early_warning", "m3", "firing"),
        ("cyber.ctf.critical", "m3", "firing"),
        ("cyber.ctf.early_warning", "m3", "resolved"),
        ("cyber.ctf.critical", "m3", "resolved"),
        ("cyber.ctf.early_warning", "m1", "firing"),
        ("cyber.ctf.early_warning", "m1", "resolved"),
    ]
    resolved = [e.body["delivery"] for e in entries if e.to_state == "resolved"]
    unannounced = [d.get("unannounced", []) for d in resolved]
    # m1's early warning and m2's two alerts, in the trigger log: why no resolution was sent.
    assert unannounced.count(["chat"]) == 3 and unannounced.count([]) == 4


def test_acknowledgement_stops_repeats_and_escalation(tmp_path: Path) -> None:
    clock = Clock()
    route = {"match": {"threshold": "cyber.ctf.critical"}, "sinks": ["pager"],
             "repeat_interval": "1h", "escalate_after": "2h", "escalate_to": ["boss"]}  # fmt: skip
    w = make(tmp_path, clock, routes=[route])
    try:
        put(w, "m1", 0.7, "k1")
        for minutes, repeats, escalations in ((30, 0, 0), (61, 1, 0), (125, 1, 1), (130, 0, 0)):
            clock.now = T0 + timedelta(minutes=minutes)
            done = alerting.renotify(w.store, w.catalog, w.router, clock.now)
            assert (done.repeats, done.escalations) == (repeats, escalations), minutes
        while w.dispatcher.run_once():
            pass
        seq = alerting.acknowledge(w.store, "cyber.ctf.critical", "m1", "alice", "on it", clock.now)
        clock.now = T0 + timedelta(hours=5)
        assert alerting.renotify(w.store, w.catalog, w.router, clock.now).repeats == 0
        put(w, "m1", 0.1, "k2")  # resolves; the notification shows the acknowledgement
        with w.store.read() as conn:
            from warden.store import alerts

            entries = list(alerts.entries(conn))
        with pytest.raises(UsageError, match="nothing to acknowledge"):
            alerting.acknowledge(w.store, "cyber.ctf.critical", "m1", "bob", "", clock.now)
    finally:
        w.close()
    assert got(tmp_path, "pager") == [("cyber.ctf.critical", "m1", "firing")] * 3 + [
        ("cyber.ctf.critical", "m1", "resolved")
    ]
    assert got(tmp_path, "boss") == [("cyber.ctf.critical", "m1", "firing")]
    ack = next(e for e in entries if e.seq == seq)
    assert (ack.kind, ack.body["actor"], ack.body["note"]) == ("ack", "alice", "on it")
    resolved = [e for e in entries if e.kind == "transition"][-1].body
    assert resolved["to"] == "resolved" and resolved["acknowledged"]["by"] == "alice"
    deliveries = [e.body for e in entries if e.kind == "delivery"]
    assert {(d["sink"], d["action"]) for d in deliveries} == {
        ("pager", "delivery delivered"),
        ("boss", "delivery delivered"),
    }
    assert len(deliveries) == 5  # firing, two repeats, the escalation, resolved
    assert verify(entries) is None


def test_cli_ack_and_silences(tmp_path: Path) -> None:
    clock = Clock()
    w = make(tmp_path, clock)
    put(w, "m1", 0.7, "k1")
    w.close()
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\ncatalog: [{tmp_path / 'c.yaml'}]\n"
    )

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, [*args, "--config", str(cfg)])

    r = run("ack", "cyber.ctf.critical", "m1", "--by", "alice", "--note", "looking")
    assert r.exit_code == 0 and "acknowledged by alice" in r.output, r.output
    r = run("ack", "999", "--by", "alice")
    assert r.exit_code == 2 and "trigger 999: no such alert" in r.output
    r = run("silence", "add", "--match", "domain=cyber", "--for", "2h", "--by", "ops",
            "--comment", "drill")  # fmt: skip
    assert r.exit_code == 0 and r.output.startswith("silence 1 "), r.output
    listed = json.loads(run("silence", "list", "--json").output)
    assert [(s["id"], s["match"]) for s in listed] == [(1, {"domain": "cyber"})]
    for args, message in (
        (["silence", "add", "--for", "1h", "--by", "o", "--comment", "c"], "at least one matcher"),
        (["silence", "add", "--match", "x", "--for", "1h", "--by", "o", "--comment", "c"],
         "write LABEL=VALUE"),
        (["silence", "add", "--match", "a=b", "--from", "2030-01-02", "--until", "2030-01-01",
          "--by", "o", "--comment", "c"], "ends"),
        (["silence", "add", "--match-re", "a=(", "--for", "1h", "--by", "o", "--comment", "c"],
         "not a regular expression"),
        (["silence", "expire", "7", "--by", "o"], "no silence 7"),
    ):  # fmt: skip
        r = run(*args)
        assert r.exit_code == 2 and message in r.output, (args, r.output)
    r = run("silence", "expire", "1", "--by", "ops")
    assert r.exit_code == 0 and json.loads(run("silence", "list", "--json").output) == []
    table = run("log").output
    assert "(ack)" in table and "acknowledged by alice" in table and "silence 1" in table
    log = [json.loads(x) for x in run("log", "--json").output.splitlines()]
    assert [e["kind"] for e in log if e["kind"] in ("ack", "silence")] == [
        "ack",
        "silence",
        "silence",
    ]


def test_routes_must_name_sinks_and_unreachable_routes_are_warned(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CATALOG)
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"catalog: [{tmp_path / 'c.yaml'}]\n"
        "sinks: [{id: chat, type: log}]\n"
        "routes: [{match: {domain: bio}, sinks: [chat]}, {match: {domain: cyber}, sinks: [nope]}]\n"
    )
    with pytest.raises(ConfigError, match=r"routes\.1: no sink .nope. \(sinks: chat\)"):
        load_settings(cfg)
    cfg.write_text(cfg.read_text().replace("[nope]", "[chat]"))
    r = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert r.exit_code == 0 and "warning: routes.0 matches no threshold" in r.output
    assert "routes.1" not in r.output
    cfg.write_text(cfg.read_text().replace("{domain: cyber}", "{threshold: cyber.ctf.critical}"))
    r = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    warned = "warning: no route takes 1 thresholds when they fire: cyber.ctf.early_warning"
    assert warned in r.output


def test_the_summary_of_a_condition_without_a_benchmark_is_its_explanation() -> None:
    from warden.core.notification import summary

    trigger = {"to": "firing", "threshold": "warden.feed.lab.silent", "subject": "lab",
               "title": "Feed lab has not succeeded", "value": 7200.0,
               "condition": {"feed": "lab", "op": ">=", "value": 3600.0},
               "reason": "7200 s since its last successful run (>= 3600 s)"}  # fmt: skip
    assert summary(trigger) == (
        "[FIRING] warden.feed.lab.silent (lab): Feed lab has not succeeded: "
        "7200 s since its last successful run (>= 3600 s)"
    )
    assert "None" not in summary({**trigger, "reason": ""})


def test_sinks_that_forget_are_reminded_of_active_alerts(tmp_path: Path) -> None:
    clock = Clock()
    w = make(tmp_path, clock, routes=[{"match": {"domain": "cyber"}, "sinks": ["pager"]}])
    reminded: list[list[tuple[str, str, int]]] = []

    class Forgetful:  # like the Alertmanager sink: refresh(notifications), refresh_every
        refresh_every = 600.0

        def refresh(self, notifications: list[Any]) -> None:
            reminded.append(
                [
                    (n.trigger["threshold"], n.trigger["subject"], n.trigger_seq)
                    for n in notifications
                ]
            )

    try:
        put(w, "m1", 0.4, "k1")  # early warning firing, routed to pager
        put(w, "m2", 0.7, "k2")  # m2: both fire; the early warning is inhibited (not routed)
        alerting.add_silence(w.store, Matchers(match={"subject": "m3"}), T0,
                             T0 + timedelta(hours=9), "ops", "drill", T0)  # fmt: skip
        put(w, "m3", 0.4, "k3")  # silenced: not reminded either
        w.sinks["pager"].refresh = Forgetful().refresh  # type: ignore[attr-defined]
        w.sinks["pager"].refresh_every = 600.0  # type: ignore[attr-defined]
        w.follow_up()
        clock.now += timedelta(minutes=5)
        w.follow_up()  # within refresh_every: not again
        clock.now += timedelta(minutes=6)
        w.follow_up()
    finally:
        w.close()
    assert len(reminded) == 2
    assert sorted((t, s) for t, s, _ in reminded[0]) == [
        ("cyber.ctf.critical", "m2"),
        ("cyber.ctf.early_warning", "m1"),
    ]


FLAPPY = """
benchmarks: [{id: ctf, title: CTF, metrics: {acc: {}}}]
thresholds:
  - id: cyber.ctf.high
    title: CTF
    domain: cyber
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: ctf, metric: acc, op: ">=", value: 0.5}
    for: 2
    clear_at: 0.3
    keep_firing_for: 1h
    then: {severity: critical}
"""


def test_a_flapping_value_notifies_once_each_way(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(FLAPPY)
    clock = Clock()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "c.yaml")],
        sinks=[{"id": "pager", "type": "log", "options": {"path": str(tmp_path / "pager.jsonl")}}],
    )
    w = Warden(settings, clock=clock)
    values = [0.55, 0.6] + [0.45, 0.52, 0.35, 0.51, 0.29, 0.58] * 4 + [0.2] * 10
    try:
        for i, value in enumerate(values):
            clock.now = T0 + timedelta(minutes=10 * i)
            put(w, "m1", value, f"k{i}")
    finally:
        w.close()
    # 34 observations crossing 0.5 about twenty times: one firing, one resolved. The dips to
    # 0.29 go past clear_at, but keep_firing_for holds the alert through them; only the last,
    # an hour and more of 0.2, resolves it.
    assert got(tmp_path, "pager") == [
        ("cyber.ctf.high", "m1", "firing"),
        ("cyber.ctf.high", "m1", "resolved"),
    ]

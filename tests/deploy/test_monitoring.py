"""The monitoring files under deploy/ as shipped: Prometheus and Alertmanager configs checked by
their own tools, the rules' unit tests and conventions, and the Grafana dashboard's JSON.

promtool and amtool come from Debian's `prometheus` and `prometheus-alertmanager` packages
(tests/support/promstack.py: skipped without them, failing under WARDEN_REQUIRE_PROMSTACK=1).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.deployfiles import (
    ALERTMANAGER,
    DASHBOARD,
    PROMETHEUS,
    RELAYS,
    RULES,
    alerts,
    load,
    rule_groups,
    run,
)
from tests.support.promstack import DEPLOY, need

# --- Prometheus -----------------------------------------------------------------------------


def test_promtool_checks_the_prometheus_config_and_its_rule_file() -> None:
    promtool = need("promtool")["promtool"]
    r = run([promtool, "check", "config", str(PROMETHEUS / "prometheus.yml")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 1 rule files found" in r.stdout


def test_promtool_checks_the_rules() -> None:
    promtool = need("promtool")["promtool"]
    r = run([promtool, "check", "rules", str(RULES)])
    assert r.returncode == 0, r.stdout + r.stderr
    count = sum(len(g["rules"]) for g in rule_groups())
    assert f"SUCCESS: {count} rules found" in r.stdout


@pytest.mark.parametrize("rules", [RULES, RELAYS], ids=lambda p: p.name)
def test_promtool_runs_the_rules_unit_tests(rules: Path) -> None:
    promtool = need("promtool")["promtool"]
    r = run([promtool, "test", "rules", rules.with_suffix(".test.yml").name], cwd=PROMETHEUS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_promtool_checks_the_relays() -> None:
    promtool = need("promtool")["promtool"]
    r = run([promtool, "check", "rules", str(RELAYS)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(alerts(RELAYS))} rules found" in r.stdout


def relays_threshold_states(groups: list[dict[str, Any]]) -> list[str]:
    """The alerts among `groups` that relay warden's threshold states."""
    return [
        r["alert"]
        for g in groups
        for r in g["rules"]
        if "alert" in r and "warden_threshold_info" in r["expr"]
    ]


def test_one_path_to_alertmanager_is_shipped_by_default() -> None:
    """Warden's Alertmanager sink and the relays together send every threshold event to
    Alertmanager twice, under two alertnames: the shipped Prometheus config loads no relay, and
    the shipped compose config sends threshold alerts through warden's sink."""
    prometheus = load(PROMETHEUS / "prometheus.yml")
    loaded = [load(PROMETHEUS / name)["groups"] for name in prometheus["rule_files"]]
    assert RELAYS.name not in prometheus["rule_files"]
    assert [relays_threshold_states(groups) for groups in loaded] == [[]] * len(loaded)
    assert relays_threshold_states(rule_groups(RELAYS)) == alerts(RELAYS) != []
    warden = load(DEPLOY / "compose" / "warden.yaml")
    sinks = [s for s in warden["sinks"] if s["type"] == "alertmanager"]
    assert [s["options"]["urls"] for s in sinks] == [["http://alertmanager:9093"]]


@pytest.mark.parametrize("rules", [RULES, RELAYS], ids=lambda p: p.name)
def test_every_alert_is_unit_tested_firing_and_not_firing(rules: Path) -> None:
    tests = load(rules.with_suffix(".test.yml"))["tests"]
    cases = [case for t in tests for case in t.get("alert_rule_test", [])]
    firing = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert set(alerts(rules)) - firing == set(), "alerts never tested firing"
    assert set(alerts(rules)) - quiet == set(), "alerts never tested not firing"
    assert len(alerts(rules)) == len(set(alerts(rules))), "duplicate alert names"


def test_counters_in_the_rules_unit_tests_start_at_zero() -> None:
    """Warden exports its counters at 0 before their first event (README, Metrics), and
    increase() only sees an event on a series that existed before it: a unit test whose counter
    appears at 1 would pass on a series warden never sends."""
    tests = load(PROMETHEUS / "rules.test.yml")["tests"]
    counters = [
        s for t in tests for s in t["input_series"] if s["series"].split("{")[0].endswith("_total")
    ]
    assert counters
    for series in counters:
        assert re.match(r"0(?![\d.])", series["values"]), series


@pytest.mark.parametrize("rules", [RULES, RELAYS], ids=lambda p: p.name)
def test_rules_follow_the_conventions(rules: Path) -> None:
    for group in rule_groups(rules):
        for rule in group["rules"]:
            if "record" in rule:  # level:metric:operations
                assert re.fullmatch(r"[a-z_]+:warden_[a-z_]+:[a-z0-9_]+", rule["record"]), rule
            else:
                assert re.fullmatch(r"Warden[A-Z][A-Za-z]+", rule["alert"]), rule["alert"]
                labels = rule.get("labels", {})
                annotations = rule["annotations"]
                assert {"summary", "description"} <= set(annotations), rule["alert"]
                if group["name"] == "warden.operations":
                    assert labels["domain"] == "operations", rule["alert"]
                    assert labels["severity"] in {"critical", "warning", "info"}, rule["alert"]
                else:  # relayed threshold states take domain (and severity) from warden
                    assert "domain" not in labels, rule["alert"]
                    assert "group_left" in rule["expr"] and "warden_threshold_info" in rule["expr"]


# --- Alertmanager ---------------------------------------------------------------------------


def test_amtool_checks_the_alertmanager_config() -> None:
    amtool = need("amtool")["amtool"]
    r = run([amtool, "check-config", str(ALERTMANAGER)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
    assert "4 inhibit rules" in r.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (
            "alertname=WardenThresholdFiring severity=critical domain=bio_chem level=high",
            "safety-page",
        ),
        (
            "alertname=WardenThresholdFiring severity=warning domain=cyber level=high",
            "security-review",
        ),
        ("alertname=WardenThresholdFiring severity=warning domain=general", "safety"),
        ("alertname=WardenThresholdFiring severity=info domain=general", "safety-digest"),
        ("alertname=WardenThresholdWarning severity=warning domain=demo", "safety"),
        ("alertname=WardenDown severity=critical domain=operations", "operators-page"),
        ("alertname=WardenFeedStale severity=warning domain=operations", "operators"),
        # warden's own feed-silence thresholds (domain operations) go to the operators too
        ("alertname=WardenThresholdFiring severity=warning domain=operations", "operators"),
        ("alertname=SomethingElse", "default"),
    ],
)
def test_alertmanager_routes_by_severity_and_domain(labels: str, receiver: str) -> None:
    amtool = need("amtool")["amtool"]
    r = run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER}",
            f"--verify.receivers={receiver}",
            *labels.split(),
        ]
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == receiver


def test_alertmanager_inhibits_early_warnings_by_critical_alerts_of_the_same_subject() -> None:
    config = load(ALERTMANAGER)
    rules = [
        (r["source_matchers"], r["target_matchers"], r["equal"]) for r in config["inhibit_rules"]
    ]
    critical = ['severity="critical"', 'level=~".+"']
    assert (critical, ['level="early_warning"'], ["domain", "subject"]) in rules
    assert (critical, ['alertname="WardenThresholdWarning"'], ["domain", "subject"]) in rules
    # every receiver is used, and is a webhook
    names = {r["name"] for r in config["receivers"]}
    used: set[str] = set()

    def walk(route: dict[str, Any]) -> None:
        if "receiver" in route:
            used.add(route["receiver"])
        for child in route.get("routes", []):
            walk(child)

    walk(config["route"])
    assert used == names
    assert all(r["webhook_configs"] for r in config["receivers"])


# --- Grafana --------------------------------------------------------------------------------

# What Grafana's dashboard model of schemaVersion 39 (Grafana 11) holds at the top level and in
# each panel, and the panel types of core Grafana this dashboard may use.
DASHBOARD_FIELDS = {
    "uid": str,
    "title": str,
    "schemaVersion": int,
    "version": int,
    "editable": bool,
    "graphTooltip": int,
    "time": dict,
    "timepicker": dict,
    "timezone": str,
    "refresh": str,
    "tags": list,
    "templating": dict,
    "annotations": dict,
    "panels": list,
}
PANEL_TYPES = {"stat", "timeseries", "table", "bargauge", "gauge", "state-timeline", "text"}


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def test_the_dashboard_is_valid_for_its_schema_version() -> None:
    doc = dashboard()
    for field, kind in DASHBOARD_FIELDS.items():
        assert isinstance(doc.get(field), kind), field
    assert doc["schemaVersion"] == 39
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", doc["uid"])
    assert {"from", "to"} <= set(doc["time"])
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    cells: set[tuple[int, int]] = set()
    for panel in doc["panels"]:
        where = panel["title"]
        assert panel["type"] in PANEL_TYPES, where
        assert panel["title"] and panel["description"], where
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "xywh"), where
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, where
        panel_cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not panel_cells & cells, f"{where} overlaps another panel"
        cells |= panel_cells
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert {"defaults", "overrides"} <= set(panel["fieldConfig"]), where
        assert panel["targets"], f"{where}: no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), where
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], where
            assert target["expr"].strip(), where
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= set(variables), f"{where}: undefined variables {used - set(variables)}"


def test_the_dashboard_reads_only_recording_rules_that_exist() -> None:
    recorded = {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]
    used = {n for e in exprs for n in re.findall(r"\b[a-z_]+:[a-z_]+:[a-z0-9_]+\b", e)}
    assert used <= recorded, used - recorded
    assert used, "the dashboard reads no recording rule"


def panel(title: str) -> dict[str, Any]:
    (found,) = [p for p in dashboard()["panels"] if p["title"] == title]
    return found


def test_the_dashboard_draws_threshold_levels_over_frontier_values() -> None:
    p = panel("Frontier values and threshold levels")
    assert p["type"] == "timeseries"
    values, levels = (t["expr"] for t in p["targets"])
    assert values.startswith("warden_frontier_value{")
    # the levels of the thresholds on a benchmark metric the panel draws a frontier of
    assert levels.startswith("warden_threshold_level{")
    assert "on (job, instance, benchmark, metric) warden_frontier_value{" in levels
    assert 'domain=~"$domain"' in levels
    (dashed,) = p["fieldConfig"]["overrides"]
    assert dashed["matcher"] == {"id": "byFrameRefID", "options": p["targets"][1]["refId"]}


def test_the_dashboard_lists_projected_crossings_as_dates() -> None:
    p = panel("Projected crossings")
    assert p["type"] == "table"
    (target,) = p["targets"]
    assert target["expr"].startswith(
        "1000 * warden_threshold_projected_crossing_timestamp_seconds{"
    )  # Grafana's time units take milliseconds
    assert target["format"] == "table" and target["instant"] is True
    assert p["fieldConfig"]["defaults"]["unit"] == "time:YYYY-MM-DD"
    order = p["transformations"][0]["options"]["indexByName"]
    assert order["threshold"] < order["percentile"]
    assert "Empty when no trend crosses" in p["description"]


def test_the_threshold_board_shows_what_its_description_says() -> None:
    p = panel("Threshold states")
    (target,) = p["targets"]
    assert 'state!="inactive"' in target["expr"]
    assert "not inactive" in p["description"]


def test_grafana_provisioning_parses() -> None:
    (ds,) = load(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")["datasources"]
    assert ds["type"] == "prometheus" and ds["isDefault"] is True
    (provider,) = load(DEPLOY / "grafana/provisioning/dashboards/warden.yaml")["providers"]
    assert provider["type"] == "file"

"""Live: a real Prometheus scrapes a real `warden run` on the demo feed, with the shipped
rules.yml, alerting to a real Alertmanager with the shipped alertmanager.yml.

One stack per module (tests/support/promstack.py): warden on deploy/demo's config (SQLite and the
demo
logs copied to a temp folder, feed and evaluation every second) plus the two thresholds of
deploy/compose/thresholds.yaml and a frontier threshold on a trend pushed over the API, projected
every second (TREND: so the forecast metrics and the dashboard's projected crossings have data);
Prometheus scraping and evaluating every second; Alertmanager with its webhooks sent to a
loopback receiver. Then:
- `up{job="warden"}` is 1 and every metric warden exports is there with its labels, the counters
  over configured sets at 0 for every member;
- every expression of the recording rules, the alerting rules and the dashboard returns data
  (alerts that must stay quiet while warden is healthy return nothing, and the series they
  compare must return data instead: ALERT_SIGNALS);
- the demo threshold firing in warden reaches Alertmanager through warden's own Alertmanager
  sink (the one path shipped by default), is routed to its receiver, and inhibits the early
  warning of the same domain and subject; no relay of deploy/prometheus/relays.yml (not loaded by
  default) reaches Alertmanager, so nothing arrives twice.

Skipped when the binaries are missing, unless WARDEN_REQUIRE_PROMSTACK=1 (.ci/run sets it).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support import promstack
from tests.support.promstack import DEPLOY, WARDEN, Process, query, wait_until
from tests.support.receiver import Receiver, receiver
from warden.ingest.feedrun import FAILURE_REASONS
from warden.metrics.collector import DELIVERY_OUTCOMES

RULES = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
DASHBOARD = json.loads((DEPLOY / "grafana" / "warden.json").read_text())

DEMO = "demo.capability.match_accuracy.high"  # deploy/demo/thresholds.yaml: fires, critical
EARLY = "demo.capability.match_accuracy.early_warning"  # deploy/compose/thresholds.yaml: fires
FRONTIER = "demo.capability.frontier.high"  # deploy/compose/thresholds.yaml: warning
MODEL = "mockllm/model"
DEMO_VALUE = 2 / 3  # both demo logs score mockllm/model 2 of 3

# A frontier threshold on a benchmark of its own, and a trend to project: one closed-weights model
# of the registry measured every 60 days for two years, doubling every 120 days, at 200 minutes
# today. Its frontier is projected to reach 480 minutes in about 150 days. Nothing else reads the
# benchmark, and the threshold stays inactive.
TREND = "demo.trend.frontier.high"
TREND_CATALOG = f"""
benchmarks:
  - id: demo_trend
    title: A demo time horizon (pushed by tests/deploy/test_prometheus.py)
    metrics: {{p50_minutes: {{scale: minutes, direction: higher}}}}
models:
  - {{id: demo/trend, organisation: Demo, open_weights: false}}
thresholds:
  - id: {TREND}
    title: The demo frontier reaches day-long tasks
    domain: demo
    level: high
    sources: [{{title: S, url: "https://example.org/"}}]
    when: {{benchmark: demo_trend, metric: p50_minutes, op: ">=", value: 480}}
    scope: frontier
    then: {{severity: warning}}
"""

# Label sets of every series warden exports (besides job and instance), for the metrics whose
# series exist on the demo. The counters of failures and rejects below have none while healthy.
EXPECTED_LABELS = {
    "warden_build_info": {"version", "python"},
    "warden_observation_value": {"model", "benchmark", "metric"},
    "warden_threshold_state": {"threshold", "subject", "state"},
    "warden_threshold_info": {"threshold", "title", "level", "domain", "severity", "scope"},
    "warden_threshold_margin": {"threshold", "subject", "kind"},
    "warden_frontier_value": {"benchmark", "metric", "scope"},
    "warden_triggers_total": {"threshold", "state"},
    "warden_feed_last_attempt_timestamp_seconds": {"feed"},
    "warden_feed_last_success_timestamp_seconds": {"feed"},
    "warden_feed_up": {"feed"},
    "warden_feed_last_run_duration_seconds": {"feed"},
    "warden_observations_ingested_total": {"feed"},
    "warden_deliveries_total": {"sink", "outcome"},
    "warden_sink_up": {"sink"},
    "warden_feed_failures_total": {"feed", "reason"},
    "warden_evaluation_failures_total": {"threshold"},
    "warden_threshold_level": {"threshold", "benchmark", "metric", "kind"},
    "warden_threshold_projected_crossing_timestamp_seconds": {
        "threshold",
        "percentile",
        "window",
        "since",
        "stale",
    },
    "warden_threshold_forecast_data_age_seconds": {"threshold"},
    "warden_frontier_doubling_time_seconds": {"benchmark", "metric", "scope"},
    "warden_outbox_messages": {"status"},
    "warden_evaluation_duration_seconds_bucket": {"le"},
    "warden_evaluation_duration_seconds_count": set(),
    "warden_catalog_last_reload_successful": set(),
    "warden_trigger_log_verified": set(),
    "warden_trigger_log_last_verification_timestamp_seconds": set(),
    "warden_metrics_subjects_omitted": set(),
    "warden_metrics_scrape_errors_total": set(),
}
# Counters whose series appear with the first event they count: none while warden is healthy.
# Their names must still be advertised (# TYPE) by warden, which the metadata API shows. (The
# counters alerts take increase() of are exported at 0 from the start: EXPECTED_LABELS.)
ABSENT_WHILE_HEALTHY = {
    "warden_observations_rejected_total": "the demo logs are valid",
    # deploy/compose/thresholds.yaml declares mockllm/model, so that its per-model series are
    # exported (warden exports them only for registry models): nothing is unmapped.
    "warden_unmapped_observations_total": "every model and benchmark id is in the registry",
}

# Prometheus alerts that fire on the demo: none. The demo thresholds (firing, critical and
# early_warning, and the frontier one at its warning level) reach Alertmanager through warden's
# own sink; the relays of relays.yml are not loaded by default.
FIRING_ON_DEMO: set[str] = set()
# What Alertmanager holds on the demo: warden's sink alerts, named by threshold id. The early
# warning is not among them: warden's own inhibition (DEFAULT_INHIBIT) holds it back while the
# critical alert of the same domain and subject fires, so the sink never posts it.
SINK_ALERTS = {
    "demo.capability.match_accuracy.high",
    "demo.capability.frontier.high",
}
# For every other alert: the series it compares, which must return data while the alert itself
# returns nothing (so a quiet alert is quiet because warden is healthy, not because a name or a
# label in it is wrong). Each is the alert's expression without its comparison.
ALERT_SIGNALS = {
    "WardenDown": ['up{job="warden"}'],
    "WardenFeedStale": ["time() - warden_feed_last_success_timestamp_seconds"],
    "WardenFeedFailing": ["warden_feed_up"],
    # No delivery has failed: 0 for every sink (the counter starts at 0).
    "WardenDeliveriesFailing": [
        'sum by (job, instance, sink) (increase(warden_deliveries_total{outcome="failed"}[30m]))'
    ],
    "WardenSinkDown": ["warden_sink_up"],
    "WardenOutboxBacklog": [
        "max by (job, instance, sink) (warden_notification_oldest_pending_age_seconds)"
    ],
    "WardenEvaluationErrors": [
        'max by (job, instance, threshold) (warden_threshold_state{state="error"})',
        "sum by (job, instance, threshold) (increase(warden_evaluation_failures_total[15m]))",
    ],
    "WardenCatalogReloadFailed": ["warden_catalog_last_reload_successful"],
    "WardenTriggerLogBroken": ["warden_trigger_log_verified"],
    "WardenTriggerLogCheckpointsStopped": [
        "warden_trigger_log_last_checkpoint_timestamp_seconds",
        "warden_trigger_log_checkpoint_interval_seconds",
    ],
    "WardenStoreUnreadable": ["increase(warden_metrics_scrape_errors_total[5m])"],
    "WardenMetricsSubjectsOmitted": ["warden_metrics_subjects_omitted"],
}


@dataclass
class Stack:
    warden: Process
    alertmanager: Process
    prometheus: Process
    hooks: Receiver


def start_warden(tmp: Path, alertmanager: str) -> Process:
    """promstack.start_warden, plus TREND_CATALOG, a forecast every second, and warden's own
    Alertmanager sink to `alertmanager` (a base URL) on the demo's route: the default path of
    threshold alerts to Alertmanager."""
    port = promstack.free_port()
    path = promstack.warden_config(tmp, port)
    config = yaml.safe_load(path.read_text())
    (tmp / "trend.yaml").write_text(TREND_CATALOG)
    config["catalog"].append(str(tmp / "trend.yaml"))
    config["forecast_every"] = 1
    config["sinks"].append(
        {"id": "alertmanager", "type": "alertmanager", "options": {"urls": [alertmanager]}}
    )
    (route,) = config["routes"]
    route["sinks"].append("alertmanager")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    argv = [str(WARDEN), "run", "--config", str(path)]
    return Process("warden", argv, port, "/readyz", tmp / "warden.log", env)


def push_trend(warden: Process, tmp: Path) -> None:
    """TREND's observations, through the push API."""
    token = yaml.safe_load((tmp / "warden.yaml").read_text())["api_token"]
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    body = [
        {
            "model": "demo/trend",
            "benchmark": "demo_trend",
            "metric": "p50_minutes",
            "value": 200.0 * 2 ** (-60 * (12 - i) / 120),
            "observed_at": (now - timedelta(days=60 * (12 - i))).isoformat(),
        }
        for i in range(13)
    ]
    r = requests.post(
        warden.url + "/api/v1/observations",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json() == {"ingested": 13, "duplicates": 0}, r.text


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tools = promstack.need("prometheus", "alertmanager")
    tmp = tmp_path_factory.mktemp("promstack")
    with receiver() as hooks:
        base = hooks.url.rsplit("/", 1)[0]
        with (
            promstack.running(
                promstack.start_alertmanager(tools["alertmanager"], tmp, base)
            ) as alertmanager,
            promstack.running(start_warden(tmp, alertmanager.url)) as warden,
            promstack.running(
                promstack.start_prometheus(
                    tools["prometheus"],
                    tmp,
                    f"127.0.0.1:{warden.port}",
                    f"127.0.0.1:{alertmanager.port}",
                )
            ) as prometheus,
        ):
            s = Stack(warden, alertmanager, prometheus, hooks)
            push_trend(warden, tmp)
            # Warden has ingested the demo feed and the demo threshold fires ...
            wait_until(
                "the demo threshold firing in warden",
                lambda: (
                    f'state="firing",subject="{MODEL}",threshold="{DEMO}"'
                    in requests.get(warden.url + "/metrics", timeout=5).text
                ),
                30,
            )
            # ... and has projected the trend ...
            wait_until(
                "a projected crossing in warden",
                lambda: (
                    f'percentile="50",since="all",stale="false",threshold="{TREND}"'
                    in requests.get(warden.url + "/metrics", timeout=5).text
                ),
                30,
            )
            # ... and Prometheus has scraped that, twice (rates need two samples), and
            # evaluated the rules on it.
            wait_until(
                "two scrapes of warden after the demo fired",
                lambda: query(
                    prometheus,
                    f'count_over_time(warden_threshold_state{{threshold="{DEMO}",'
                    f'state="firing"}}[1m]) >= 2',
                ),
                30,
            )
            yield s


def values(result: list[dict[str, Any]]) -> list[float]:
    return [float(r["value"][1]) for r in result]


def one(stack: Stack, expr: str) -> float:
    result = wait_until(expr, lambda: query(stack.prometheus, expr), 15)
    assert len(result) == 1, (expr, result)
    return values(result)[0]


# --- scraping -------------------------------------------------------------------------------


def test_prometheus_scrapes_warden(stack: Stack) -> None:
    assert one(stack, 'up{job="warden"}') == 1
    (target,) = [
        t
        for t in requests.get(stack.prometheus.url + "/api/v1/targets", timeout=5).json()["data"][
            "activeTargets"
        ]
        if t["labels"]["job"] == "warden"
    ]
    assert target["health"] == "up" and target["lastError"] == ""


@pytest.mark.parametrize("name", sorted(EXPECTED_LABELS))
def test_metric_is_present_with_its_labels(stack: Stack, name: str) -> None:
    result = wait_until(name, lambda: query(stack.prometheus, f'{name}{{job="warden"}}'), 10)
    for series in result:
        labels = set(series["metric"]) - {"__name__", "job", "instance"}
        assert labels == EXPECTED_LABELS[name], series["metric"]


@pytest.mark.parametrize("name", sorted(ABSENT_WHILE_HEALTHY))
def test_counters_without_events_are_advertised(stack: Stack, name: str) -> None:
    assert query(stack.prometheus, name) == [], f"{name}: {ABSENT_WHILE_HEALTHY[name]}, or is it?"
    r = requests.get(
        stack.prometheus.url + "/api/v1/targets/metadata",
        params={"match_target": '{job="warden"}', "metric": name.removesuffix("_total")},
        timeout=5,
    )
    assert r.json()["data"], f"warden does not advertise {name}"


def test_threshold_state_is_a_stateset(stack: Stack) -> None:
    result = query(stack.prometheus, f'warden_threshold_state{{threshold="{DEMO}"}}')
    states = {r["metric"]["state"]: float(r["value"][1]) for r in result}
    assert states == {
        "inactive": 0,
        "pending": 0,
        "warning": 0,
        "firing": 1,
        "resolved": 0,
        "nodata": 0,
        "error": 0,
    }
    assert {r["metric"]["subject"] for r in result} == {MODEL}


def test_threshold_info_carries_the_catalog(stack: Stack) -> None:
    (info,) = wait_until(
        "info", lambda: query(stack.prometheus, f'warden_threshold_info{{threshold="{DEMO}"}}'), 10
    )
    assert info["metric"] | {"__name__": "", "instance": ""} == {
        "__name__": "",
        "instance": "",
        "job": "warden",
        "threshold": DEMO,
        "title": "Demo model answers most demo questions correctly",
        "level": "high",
        "domain": "demo",
        "severity": "critical",
        "scope": "per_model",
    }
    thresholds = {
        r["metric"]["threshold"] for r in query(stack.prometheus, "warden_threshold_info")
    }
    assert {DEMO, EARLY, FRONTIER} <= thresholds and len(thresholds) > 40  # and the bundled ones


def test_margins_and_frontier_values(stack: Stack) -> None:
    def margin(threshold: str, subject: str, kind: str) -> float:
        return one(
            stack,
            f'warden_threshold_margin{{threshold="{threshold}",subject="{subject}",kind="{kind}"}}',
        )

    # >= thresholds: level minus value; negative once crossed
    assert margin(DEMO, MODEL, "trigger") == pytest.approx(0.5 - DEMO_VALUE)
    assert margin(DEMO, MODEL, "warning") == pytest.approx(0.3 - DEMO_VALUE)
    assert margin(FRONTIER, "frontier", "trigger") == pytest.approx(0.9 - DEMO_VALUE)
    assert margin(FRONTIER, "frontier", "warning") == pytest.approx(0.6 - DEMO_VALUE)
    frontier = one(
        stack,
        'warden_frontier_value{benchmark="demo_capability",metric="match/accuracy",scope="all"}',
    )
    assert frontier == pytest.approx(DEMO_VALUE)
    open_weights = one(stack, 'warden_frontier_value{scope="open_weights"}')
    assert open_weights == pytest.approx(DEMO_VALUE)  # mockllm/model is declared open-weights


def test_feed_and_delivery_figures(stack: Stack) -> None:
    assert one(stack, 'warden_observations_ingested_total{feed="demo"}') == 4
    assert one(stack, 'warden_feed_up{feed="demo"}') == 1
    assert one(stack, 'warden_observation_value{model="mockllm/model"}') == pytest.approx(
        DEMO_VALUE
    )
    # The console and Alertmanager sinks take every message at the first attempt: one delivery
    # per message.
    wait_until(
        "the outbox delivered and empty",
        lambda: (
            one(stack, 'warden_outbox_messages{status="pending"}') == 0
            and one(stack, 'sum(warden_deliveries_total{outcome="delivered"})')
            == one(stack, 'warden_outbox_messages{status="delivered"}')
            >= 2
        ),
        15,
    )
    outbox = query(stack.prometheus, "warden_outbox_messages")
    assert {r["metric"]["status"] for r in outbox} == {
        "pending",
        "delivered",
        "failed",
        "superseded",
    }
    assert one(stack, "warden_trigger_log_verified") == 1
    assert one(stack, "warden_metrics_subjects_omitted") == 0
    assert one(stack, "warden_catalog_last_reload_successful") == 1


def test_counters_over_configured_sets_start_at_zero(stack: Stack) -> None:
    """Every sink x outcome, feed x reason and threshold has its counter before any event, so
    the alerts' increase() sees the first one."""

    def by(expr: str, label: str) -> dict[str, float]:
        result = wait_until(expr, lambda: query(stack.prometheus, expr), 10)
        return {r["metric"][label]: float(r["value"][1]) for r in result}

    deliveries = by('warden_deliveries_total{sink="console"}', "outcome")
    assert set(deliveries) == set(DELIVERY_OUTCOMES)
    assert deliveries["failed"] == deliveries["retry"] == 0 < deliveries["delivered"]
    assert by('warden_feed_failures_total{feed="demo"}', "reason") == dict.fromkeys(
        FAILURE_REASONS, 0.0
    )
    assert query(stack.prometheus, 'warden_feed_failures_total{feed="api"}') == []  # no runs
    failures = by("warden_evaluation_failures_total", "threshold")
    assert set(failures) == set(by("warden_threshold_info", "threshold"))
    assert set(failures.values()) == {0.0}


def test_threshold_levels_and_projected_crossings(stack: Stack) -> None:
    def level(threshold: str, kind: str) -> float:
        return one(
            stack,
            f'warden_threshold_level{{threshold="{threshold}",benchmark="demo_capability",'
            f'metric="match/accuracy",kind="{kind}"}}',
        )

    assert (level(DEMO, "trigger"), level(DEMO, "warning")) == (0.5, 0.3)
    assert (level(FRONTIER, "trigger"), level(FRONTIER, "warning")) == (0.9, 0.6)
    assert (
        query(stack.prometheus, f'warden_threshold_level{{threshold="{EARLY}",kind="warning"}}')
        == []
    )
    crossing = "warden_threshold_projected_crossing_timestamp_seconds"
    at = {
        r["metric"]["percentile"]: float(r["value"][1])
        for r in wait_until(
            crossing,
            partial(
                query, stack.prometheus, f'{crossing}{{threshold="{TREND}",window="projection"}}'
            ),
            10,
        )
    }
    assert set(at) == {"10", "50", "90"} and at["10"] <= at["50"] <= at["90"]
    days = (datetime.fromtimestamp(at["50"], UTC) - datetime.now(UTC)).days
    assert 100 < days < 200, days
    doubling = one(stack, 'warden_frontier_doubling_time_seconds{benchmark="demo_trend"}')
    assert doubling / 86400 == pytest.approx(120, rel=0.05)


# --- every expression -----------------------------------------------------------------------


def rule_cases() -> list[Any]:
    cases = []
    for group in RULES["groups"]:
        for rule in group["rules"]:
            name = rule.get("record") or rule["alert"]
            cases.append(pytest.param(rule, id=name))
    return cases


def dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (f"{p['title']}/{t['refId']}", t["expr"])
        for p in DASHBOARD["panels"]
        for t in p.get("targets", [])
    ]


def substituted(expr: str) -> str:
    """A dashboard expression as Grafana sends it with every variable at "All" (`.*`)."""
    variables = {v["name"] for v in DASHBOARD["templating"]["list"]}
    out = re.sub(
        r"\$\{(\w+)\}|\$(\w+)", lambda m: ".*" if (m[1] or m[2]) in variables else m[0], expr
    )
    assert "$" not in out, f"an unknown variable in {expr!r}"
    return out


METRIC_NAME = re.compile(r"(?<![\w:])(warden_\w+|[a-z_]+:[\w:]+|up|process_\w+)(?![\w(])")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (label values and durations stripped)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(METRIC_NAME.findall(without_strings))


@pytest.mark.parametrize("rule", rule_cases())
def test_rule_expression_against_live_prometheus(stack: Stack, rule: dict[str, Any]) -> None:
    expr = rule["expr"]
    if "record" in rule:
        # The expression returns data, and Prometheus recorded it.
        assert wait_until(rule["record"], lambda: query(stack.prometheus, expr), 15)
        assert wait_until(rule["record"], lambda: query(stack.prometheus, rule["record"]), 15)
    elif rule["alert"] in FIRING_ON_DEMO:
        assert wait_until(rule["alert"], lambda: query(stack.prometheus, expr), 15)
    else:
        assert query(stack.prometheus, expr) == [], f"{rule['alert']} fires on a healthy warden"
        signals = ALERT_SIGNALS[rule["alert"]]
        for signal in signals:
            assert metric_names(signal) <= metric_names(expr), (signal, expr)
            assert wait_until(signal, partial(query, stack.prometheus, signal), 15), signal


def test_every_quiet_alert_has_its_signals() -> None:
    alerts = {r["alert"] for g in RULES["groups"] for r in g["rules"] if "alert" in r}
    assert set(ALERT_SIGNALS) == alerts - FIRING_ON_DEMO


@pytest.mark.parametrize(
    ("panel", "expr"), dashboard_exprs(), ids=[p for p, _ in dashboard_exprs()]
)
def test_dashboard_expression_returns_data(stack: Stack, panel: str, expr: str) -> None:
    live = substituted(expr)
    assert wait_until(f"{panel}: {live}", lambda: query(stack.prometheus, live), 15)


@pytest.mark.parametrize(
    "variable",
    [v for v in DASHBOARD["templating"]["list"] if v["type"] == "query"],
    ids=lambda v: v["name"],
)
def test_dashboard_variable_has_values(stack: Stack, variable: dict[str, Any]) -> None:
    m = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable["definition"])
    assert m, variable["definition"]
    metric, label = m.groups()
    r = requests.get(
        f"{stack.prometheus.url}/api/v1/label/{label}/values",
        params={"match[]": metric},
        timeout=5,
    )
    assert r.json()["data"], variable["definition"]


def test_every_selected_metric_exists(stack: Stack) -> None:
    """No expression names a metric Prometheus has never seen, `or` fallbacks included."""
    exprs = [r["expr"] for g in RULES["groups"] for r in g["rules"]]
    exprs += [substituted(e) for _, e in dashboard_exprs()]
    names = set().union(*map(metric_names, exprs))
    known = set(
        requests.get(stack.prometheus.url + "/api/v1/label/__name__/values", timeout=5).json()[
            "data"
        ]
    )
    missing = names - known - set(ABSENT_WHILE_HEALTHY)
    assert not missing, f"selected but never scraped or recorded: {sorted(missing)}"


# --- alerting -------------------------------------------------------------------------------


def am_alerts(stack: Stack, alertname: str) -> list[dict[str, Any]]:
    r = requests.get(
        stack.alertmanager.url + "/api/v2/alerts",
        params={"filter": f'alertname="{alertname}"'},
        timeout=5,
    )
    r.raise_for_status()
    alerts: list[dict[str, Any]] = r.json()
    return alerts


def am_alert(stack: Stack, threshold: str, state: str) -> dict[str, Any]:
    """The sink's alert of `threshold` (its alertname) in Alertmanager's `state`."""

    def found() -> dict[str, Any] | None:
        return next((a for a in am_alerts(stack, threshold) if a["status"]["state"] == state), None)

    alert: dict[str, Any] = wait_until(f"{threshold} {state}", found, 20)
    return alert


def test_demo_threshold_reaches_alertmanager_through_the_sink(stack: Stack) -> None:
    alert = am_alert(stack, DEMO, "active")
    labels = alert["labels"]
    assert {k: labels[k] for k in ("alertname", "subject", "severity", "level", "domain")} == {
        "alertname": DEMO,
        "subject": MODEL,
        "severity": "critical",
        "level": "high",
        "domain": "demo",
    }
    assert alert["annotations"]["state"] == "firing"
    assert "Demo model answers most demo questions correctly" in alert["annotations"]["summary"]
    assert [r["name"] for r in alert["receivers"]] == ["safety-page"]


def test_the_critical_alert_is_delivered_by_its_route(stack: Stack) -> None:
    def delivered() -> bool:
        for request in stack.hooks.requests:
            body = request.json()
            if request.path == "/safety-page" and any(
                a["labels"].get("alertname") == DEMO and a["status"] == "firing"
                for a in body["alerts"]
            ):
                assert body["receiver"] == "safety-page"
                return True
        return False

    assert wait_until("a webhook to /safety-page for the demo threshold", delivered, 20)


def test_the_early_warning_is_held_back_by_warden_while_the_critical_alert_fires(
    stack: Stack,
) -> None:
    """Warden inhibits the early warning of the same domain and subject itself, so it never
    reaches Alertmanager; its state in warden is still firing (metrics show it)."""
    am_alert(stack, DEMO, "active")
    assert one(stack, f'warden_threshold_state{{threshold="{EARLY}",state="firing"}}') == 1
    assert am_alerts(stack, EARLY) == []


def test_the_frontier_warning_reaches_alertmanager(stack: Stack) -> None:
    alert = am_alert(stack, FRONTIER, "active")
    assert alert["annotations"]["state"] == "warning"
    assert alert["labels"]["subject"] == "frontier"
    assert alert["labels"]["severity"] == "warning"
    assert [r["name"] for r in alert["receivers"]] == ["safety"]


def test_nothing_else_is_alerting(stack: Stack) -> None:
    r = requests.get(stack.alertmanager.url + "/api/v2/alerts", timeout=5)
    names = {a["labels"]["alertname"] for a in r.json()}
    # The sink's alerts and nothing else: no WardenThreshold* relay of the same events.
    assert names == SINK_ALERTS, names

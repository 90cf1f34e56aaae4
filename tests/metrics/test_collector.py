"""Threshold metrics and the exposition: statesets with every state, margins, threshold levels,
frontier values, the cardinality rules, counters at 0 before their first event, trigger-log
verification, OpenMetrics negotiation and `promtool check metrics` (with a forecast), on real
stores and real HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import generate_latest
from sqlalchemy import update

from tests.support.server import serving
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.core.model import Observation
from warden.ingest.feedrun import FAILURE_REASONS
from warden.metrics.collector import DELIVERY_OUTCOMES
from warden.store import observations as obs_rows
from warden.store.schema import triggers

CATALOG = """
benchmarks:
  - {id: lab_eval, title: Lab eval, metrics: {accuracy: {scale: fraction}}}
models:
  - {id: acme/open, open_weights: true, organisation: Acme}
  - {id: acme/closed, open_weights: false, organisation: Acme}
thresholds:
  - id: lab.eval.frontier
    title: Frontier crossed
    domain: cyber
    level: high
    sources: [{title: F, url: "https://example.org/"}]
    when: {benchmark: lab_eval, metric: accuracy, op: ">=", value: 0.8}
    scope: frontier
    warn_at: 0.6
    then: {severity: critical}
  - id: lab.eval.per_model
    title: Per model crossed
    domain: cyber
    level: early_warning
    sources: [{title: F, url: "https://example.org/"}]
    when: {benchmark: lab_eval, metric: accuracy, op: ">=", value: 0.5}
    warn_at: 0.3
    confidence: 0.95
    then: {severity: warning}
"""
# A frontier threshold on a time horizon, for a forecast (tests/forecasting/test_projection.py has
# more).
HORIZON = """
benchmarks:
  - id: horizon
    title: Time horizon
    metrics: {p50_minutes: {scale: minutes, direction: higher}}
thresholds:
  - id: lab.horizon.frontier
    title: Frontier reaches day-long tasks
    domain: ai_rnd_autonomy
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: horizon, metric: p50_minutes, op: ">=", value: 480}
    scope: frontier
    then: {severity: warning}
"""
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def make(tmp_path: Path, *more: str, **extra: Any) -> Warden:
    """A warden on CATALOG (c.yaml) and the catalog files `more`."""
    files = [tmp_path / "c.yaml", *(tmp_path / f"c{i}.yaml" for i in range(1, len(more) + 1))]
    for path, text in zip(files, (CATALOG, *more), strict=True):
        path.write_text(text)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}", catalog=[str(f) for f in files], **extra
    )
    return Warden(settings, clock=lambda: NOW)


def put(w: Warden, model: str, value: float, stderr: float | None = None) -> None:
    o = Observation(model, "lab_eval", "accuracy", value, NOW, f"k-{model}", "s", "0" * 64, stderr)
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, "f", [w.catalog.registry.normalise(o)], NOW)


def put_trend(w: Warden) -> None:
    """A new frontier model every 60 days for two years, doubling every 120 days, at 200
    minutes today: a projected crossing of 480 in about 150 days."""
    rows = []
    for i in range(13):
        at = NOW - timedelta(days=60 * (12 - i))
        value = 200.0 * 2 ** (-(NOW - at).days / 120)
        rows.append(Observation(f"lab/m{i}", "horizon", "p50_minutes", value, at, f"h{i}", "s",
                                "0" * 64))  # fmt: skip
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, "f", rows, NOW)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name{labels}` in an exposition, or None."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            got = (
                dict(
                    part.split("=", 1)
                    for part in line[line.find("{") + 1 : line.rfind("}")].split(",")
                )
                if "{" in line
                else {}
            )
            if {k: v.strip('"') for k, v in got.items()} == labels:
                return float(line.rsplit(" ", 1)[1])
    return None


def test_states_margins_and_frontier_values(tmp_path: Path) -> None:
    w = make(tmp_path)
    try:
        put(w, "acme/open", 0.55, stderr=0.05)  # 0.55 - 1.96 x 0.05 = 0.452: not past 0.5
        put(w, "acme/closed", 0.7)
        put(w, "lab/unknown", 0.2)  # in no registry
        put(w, "lab/rogue", 0.6)  # in no registry, and firing (below the frontier)
        w.sweep()
        text = generate_latest(w.metrics.registry).decode()
    finally:
        w.close()
    # the frontier subject has all seven states, the current one 1
    assert sample(text, "warden_threshold_state", state="warning", subject="frontier",
                  threshold="lab.eval.frontier") == 1.0  # fmt: skip
    for state in ("inactive", "pending", "firing", "resolved", "nodata", "error"):
        assert sample(text, "warden_threshold_state", state=state, subject="frontier",
                      threshold="lab.eval.frontier") == 0.0  # fmt: skip
    # per model: a registry model that never left inactive still has its stateset
    assert (
        sample(
            text,
            "warden_threshold_state",
            state="inactive",
            subject="acme/open",
            threshold="lab.eval.per_model",
        )
        == 0.0
    )  # fmt: skip  (it is in warning)
    assert sample(text, "warden_threshold_state", state="warning", subject="acme/open",
                  threshold="lab.eval.per_model") == 1.0  # fmt: skip
    # margins compare what the threshold compares: the lower 0.95 bound for confidence
    bound = 0.55 - 1.959964 * 0.05
    assert sample(text, "warden_threshold_margin", kind="trigger", subject="acme/open",
                  threshold="lab.eval.per_model") == pytest.approx(0.5 - bound)  # fmt: skip
    assert sample(text, "warden_threshold_margin", kind="warning", subject="frontier",
                  threshold="lab.eval.frontier") == pytest.approx(-0.1)  # fmt: skip
    assert sample(text, "warden_frontier_value", benchmark="lab_eval", metric="accuracy",
                  scope="all") == 0.7  # fmt: skip
    assert sample(text, "warden_frontier_value", benchmark="lab_eval", metric="accuracy",
                  scope="open_weights") == 0.55  # fmt: skip
    assert sample(text, "warden_threshold_info", threshold="lab.eval.frontier",
                  title="Frontier crossed", level="high", domain="cyber", severity="critical",
                  scope="frontier") == 1.0  # fmt: skip
    # each threshold's levels, in the metric's canonical unit
    levels = {(t, k): v for t, v, k in [("lab.eval.frontier", 0.8, "trigger"),
              ("lab.eval.frontier", 0.6, "warning"), ("lab.eval.per_model", 0.5, "trigger"),
              ("lab.eval.per_model", 0.3, "warning")]}  # fmt: skip
    for (threshold, kind), level in levels.items():
        assert sample(text, "warden_threshold_level", threshold=threshold, benchmark="lab_eval",
                      metric="accuracy", kind=kind) == level  # fmt: skip
    assert text.count("warden_threshold_level{") == len(levels)
    # the unknown inactive model is left out: its pair (counted) and its value (with the pair)
    assert 'subject="lab/unknown"' not in text and 'model="lab/unknown"' not in text
    assert sample(text, "warden_metrics_subjects_omitted") == 1.0
    # the unknown firing model is exported: its pair, and so its value
    assert sample(text, "warden_threshold_state", state="firing", subject="lab/rogue",
                  threshold="lab.eval.per_model") == 1.0  # fmt: skip
    assert sample(text, "warden_observation_value", model="lab/rogue", benchmark="lab_eval",
                  metric="accuracy") == 0.6  # fmt: skip


def test_the_cap_keeps_alerting_subjects(tmp_path: Path) -> None:
    w = make(tmp_path, metrics={"subjects": "all", "max_subjects": 0})
    try:
        put(w, "acme/open", 0.9)  # breached: firing
        put(w, "acme/closed", 0.1)  # ok: inactive, so capped away
        w.sweep()
        text = generate_latest(w.metrics.registry).decode()
    finally:
        w.close()
    assert sample(text, "warden_threshold_state", state="firing", subject="acme/open",
                  threshold="lab.eval.per_model") == 1.0  # fmt: skip
    assert sample(text, "warden_observation_value", model="acme/open", benchmark="lab_eval",
                  metric="accuracy") == 0.9  # fmt: skip
    # the cap bounds the value series too: acme/closed's pair is left out, and its value with it
    assert 'subject="acme/closed"' not in text and 'model="acme/closed"' not in text
    assert sample(text, "warden_metrics_subjects_omitted") == 1.0  # one pair, not its value


def test_values_on_a_series_only_frontier_thresholds_read_are_the_registry_models(
    tmp_path: Path,
) -> None:
    w = make(tmp_path, HORIZON, metrics={"subjects": "all", "max_subjects": 0})
    try:
        rows = [Observation(m, "horizon", "p50_minutes", v, NOW, f"h-{m}", "s", "0" * 64)
                for m, v in (("acme/open", 90.0), ("lab/unlisted", 300.0))]  # fmt: skip
        with w.store.write() as conn:
            obs_rows.insert_observations(conn, "f", rows, NOW)
        w.sweep()
        text = generate_latest(w.metrics.registry).decode()
    finally:
        w.close()
    # No per-model threshold reads horizon: no pairs, so the registry bounds its value series.
    assert sample(text, "warden_observation_value", model="acme/open", benchmark="horizon",
                  metric="p50_minutes") == 90.0  # fmt: skip
    assert 'model="lab/unlisted"' not in text
    assert sample(text, "warden_frontier_value", benchmark="horizon", metric="p50_minutes",
                  scope="all") == 300.0  # fmt: skip
    assert sample(text, "warden_metrics_subjects_omitted") == 0.0


def test_counters_are_exported_at_zero_for_every_configured_sink_feed_and_threshold(
    tmp_path: Path,
) -> None:
    """increase() cannot see the first event of a series that appears with it: the counters
    over configured sets start at 0 (and follow catalog reloads)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    feed = {"id": "lab", "connector": "inspect_logs", "options": {"path": str(logs)}}
    sink = {"id": "hook", "type": "log", "options": {"path": str(tmp_path / "alerts.jsonl")}}
    w = make(tmp_path, feeds=[{**feed, "stale_after": 3600}], sinks=[sink])
    try:
        text = generate_latest(w.metrics.registry).decode()
        for outcome in DELIVERY_OUTCOMES:
            assert sample(text, "warden_deliveries_total", sink="hook", outcome=outcome) == 0.0
        for reason in FAILURE_REASONS:
            assert sample(text, "warden_feed_failures_total", feed="lab", reason=reason) == 0.0
        # the push API's feed has no runs to fail, only observations to count
        assert 'warden_feed_failures_total{feed="api"' not in text
        assert sample(text, "warden_observations_ingested_total", feed="api") == 0.0
        silence = "warden.feed.lab.silent"
        for threshold in ("lab.eval.frontier", "lab.eval.per_model", silence):
            assert sample(text, "warden_evaluation_failures_total", threshold=threshold) == 0.0
        # a feed's silence threshold has no benchmark level to draw
        assert f'warden_threshold_level{{threshold="{silence}"' not in text

        (tmp_path / "c.yaml").write_text(CATALOG.replace("lab.eval.per_model", "lab.eval.renamed"))
        assert w.reload_catalog()
        text = generate_latest(w.metrics.registry).decode()
        assert sample(text, "warden_evaluation_failures_total", threshold="lab.eval.renamed") == 0
        assert 'warden_evaluation_failures_total{threshold="lab.eval.per_model"}' not in text
        assert sample(text, "warden_evaluation_failures_total", threshold=silence) == 0.0
    finally:
        w.close()


def test_trigger_log_verification_is_a_metric(tmp_path: Path) -> None:
    w = make(tmp_path)
    try:
        put(w, "acme/open", 0.9)
        w.sweep()
        assert w.verify_log() is None
        text = generate_latest(w.metrics.registry).decode()
        assert sample(text, "warden_trigger_log_verified") == 1.0
        assert (
            sample(text, "warden_trigger_log_last_verification_timestamp_seconds")
            == NOW.timestamp()
        )
        with w.store.write() as conn:
            conn.execute(update(triggers).where(triggers.c.seq == 1).values(subject="forged"))
        broken = w.verify_log()
        assert broken is not None and broken.seq == 1
        text = generate_latest(w.metrics.registry).decode()
        assert sample(text, "warden_trigger_log_verified") == 0.0
    finally:
        w.close()


def test_openmetrics_is_negotiated_and_promtool_finds_nothing_with_a_forecast(
    tmp_path: Path,
) -> None:
    w = make(tmp_path, HORIZON, api_token="t")
    put(w, "acme/open", 0.9)
    put_trend(w)
    w.sweep()
    w.forecast()
    with serving(w) as base:
        plain = requests.get(f"{base}/metrics", timeout=10)
        om = requests.get(
            f"{base}/metrics",
            headers={"Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"},
            timeout=10,
        )
    assert plain.headers["content-type"].startswith("text/plain; version=")
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")
    assert "warden_threshold_state" in om.text
    # the scrape has a forecast (below), which promtool checks too
    assert "warden_threshold_projected_crossing_timestamp_seconds{" in plain.text
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("WARDEN_REQUIRE_PROMSTACK"):
            pytest.fail("promtool is not installed")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=plain.text, capture_output=True, text=True
    )
    found = (checked.stdout + checked.stderr).strip()
    assert checked.returncode == 0 and not found, found
    # the forecast is in the scrape promtool checked, by percentile (a "quantile" label is for
    # summaries only: promtool refuses it on a gauge)
    crossing = "warden_threshold_projected_crossing_timestamp_seconds"
    p10, p50, p90 = (
        sample(
            plain.text,
            crossing,
            threshold="lab.horizon.frontier",
            percentile=p,
            window="projection",
            since="all",
            stale="false",
        )
        for p in ("10", "50", "90")
    )
    assert p10 is not None and p50 is not None and p90 is not None
    assert NOW.timestamp() < p10 <= p50 <= p90
    assert NOW + timedelta(days=100) < datetime.fromtimestamp(p50, UTC) < NOW + timedelta(days=200)

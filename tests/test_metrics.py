"""Threshold metrics and the exposition: statesets with every state, margins, frontier values,
the cardinality cap, trigger-log verification, OpenMetrics negotiation and `promtool check
metrics`, on real stores and real HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import generate_latest
from sqlalchemy import update

from tests.server import serving
from warden.daemon import Warden
from warden.model import Observation
from warden.settings import Settings
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
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def make(tmp_path: Path, **extra: Any) -> Warden:
    (tmp_path / "c.yaml").write_text(CATALOG)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}", catalog=[str(tmp_path / "c.yaml")], **extra
    )
    return Warden(settings, clock=lambda: NOW)


def put(w: Warden, model: str, value: float, stderr: float | None = None) -> None:
    o = Observation(model, "lab_eval", "accuracy", value, NOW, f"k-{model}", "s", "0" * 64, stderr)
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, "f", [w.catalog.registry.normalise(o)], NOW)


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
    # the unknown model's series are left out and counted (its value and its threshold subject)
    assert 'subject="lab/unknown"' not in text and 'model="lab/unknown"' not in text
    assert sample(text, "warden_metrics_subjects_omitted") == 2.0


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
    assert 'subject="acme/closed"' not in text


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


def test_openmetrics_is_negotiated_and_promtool_finds_nothing(tmp_path: Path) -> None:
    w = make(tmp_path, api_token="t")
    put(w, "acme/open", 0.9)
    w.sweep()
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
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("WARDEN_REQUIRE_PROMSTACK"):
            pytest.fail("promtool is not installed")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=plain.text, capture_output=True, text=True
    )
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr

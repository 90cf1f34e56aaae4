"""`/metrics` answers with prometheus_client's own exposition of the daemon's registry: the text
format 0.0.4 by default, OpenMetrics 1.0 when asked for as Prometheus asks (gzip and its
negotiation: tests/interfaces/api/test_app.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import requests
from prometheus_client import generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

from tests.metrics.test_collector import CATALOG as METRICS_CATALOG
from tests.support.server import serving
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.core.model import Observation
from warden.store import observations as obs_rows

# tests/metrics/test_collector.py's catalog, with a title to escape and one more model.
CATALOG = METRICS_CATALOG.replace(
    "title: Frontier crossed", """title: 'Frontier "crossed"'"""
).replace(
    "thresholds:", "  - {id: acme/mid, open_weights: false, organisation: Acme}\nthresholds:", 1
)
NOW = datetime(2026, 3, 1, tzinfo=UTC)
OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"  # as Prometheus asks


def daemon(tmp_path: Path) -> Warden:
    """A daemon on a SQLite file whose per-model threshold is breached, warned and ok."""
    (tmp_path / "c.yaml").write_text(CATALOG)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "c.yaml")],
        metrics={"subjects": "all"},
    )
    w = Warden(settings, clock=lambda: NOW)
    for model, value, stderr in [
        ("acme/open", 0.55, 0.05), ("acme/closed", 0.9, None), ("acme/mid", 0.1, None),
        ("lab/unknown", 0.2, None),
    ]:  # fmt: skip
        o = Observation(
            model, "lab_eval", "accuracy", value, NOW, f"k-{model}", "s", "0" * 64, stderr
        )
        with w.store.write() as conn:
            obs_rows.insert_observations(conn, "f", [w.catalog.registry.normalise(o)], NOW)
    w.sweep()
    return w


def masked(body: bytes) -> bytes:
    """The exposition with the process collector's values (which move between two collections)
    blanked."""
    return re.sub(rb"(?m)^(process_\S+) \S+$", rb"\1 _", body)


def test_metrics_endpoint_serves_prometheus_client_bytes_in_both_formats(tmp_path: Path) -> None:
    w = daemon(tmp_path)
    registry = w.metrics.registry
    with serving(w) as base:
        text = requests.get(f"{base}/metrics", timeout=10)
        text_expected = generate_latest(registry)
        om = requests.get(f"{base}/metrics", headers={"Accept": OPENMETRICS}, timeout=10)
        om_expected: bytes = openmetrics.generate_latest(registry)  # type: ignore[no-untyped-call]
    assert text.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert om.headers["content-type"] == openmetrics.CONTENT_TYPE_LATEST
    assert masked(text.content) == masked(text_expected)
    assert masked(om.content) == masked(om_expected)
    assert om.content.endswith(b"# EOF\n") and om.content.count(b"# EOF") == 1
    assert b"# EOF" not in text.content
    assert b'warden_threshold_state{state="firing",subject="acme/closed"' in text.content
    assert b'title="Frontier \\"crossed\\""' in text.content  # label values escaped
    assert b"process_cpu_seconds_total " in text.content  # the mask hides values, not lines

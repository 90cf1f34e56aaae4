"""The HTTP API under uvicorn on loopback, with a loopback webhook receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.receiver import Receiver, receiver
from tests.support.server import serving
from warden.app.daemon import Warden
from warden.app.settings import Settings

CATALOG = """
benchmarks: [{id: lab_eval, title: Lab eval}]
thresholds:
  - id: lab.eval.high
    title: Lab eval crossed
    domain: cyber
    level: high
    sources: [{title: F, url: "https://example.org/"}]
    when: {benchmark: lab_eval, metric: accuracy, op: ">=", value: 0.5}
    warn_at: 0.3
    then: {severity: critical, mitigations: [Pause.]}
"""
TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_warden(
    db_url: str, tmp_path: Path, hook_url: str, token: str | None = TOKEN, **more: Any
) -> Warden:
    cat = tmp_path / "catalog.yaml"
    cat.write_text(CATALOG)
    settings = Settings(
        database_url=db_url,
        catalog=[str(cat)],
        api_token=token,
        sinks=[{"id": "hook", "type": "webhook", "options": {"url": hook_url}}],
        **more,
    )
    return Warden(settings)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def api(db_url: str, tmp_path: Path, hook: Receiver) -> Iterator[str]:
    with serving(make_warden(db_url, tmp_path, hook.url)) as url:
        yield url


def point(model: str = "lab/model-1", value: object = 0.72, **kw: object) -> dict[str, object]:
    return {
        "model": model,
        "benchmark": "lab_eval",
        "metric": "accuracy",
        "value": value,
        "stderr": 0.03,
        "n": 200,
        "observed_at": "2026-11-01T12:00:00+02:00",
        **kw,
    }


def metrics(url: str) -> str:
    return requests.get(f"{url}/metrics", timeout=10).text


def test_push_fires_an_alert_at_the_webhook(api: str, hook: Receiver) -> None:
    r = requests.post(f"{api}/api/v1/observations", json=[point()], headers=AUTH, timeout=10)
    assert r.status_code == 200 and r.json() == {"ingested": 1, "duplicates": 0}
    (req,) = hook.wait_for(1)
    body = req.json()
    assert body["status"] == "firing" and body["trigger"]["subject"] == "lab/model-1"
    assert body["trigger"]["evidence"][0]["observed_at"] == "2026-11-01T10:00:00+00:00"
    again = requests.post(f"{api}/api/v1/observations", json=[point()], headers=AUTH, timeout=10)
    assert again.json() == {"ingested": 0, "duplicates": 1}
    text = metrics(api)
    assert (
        'warden_threshold_state{state="firing",subject="lab/model-1",threshold="lab.eval.high"} 1.0'
    ) in text
    assert 'warden_observations_ingested_total{feed="api"} 1.0' in text
    # lab/model-1 is in no registry, but it is firing: its alert is exported (an alert is never
    # hidden), and with it its value series; the frontier value counts it. Nothing is left out.
    values = [x for x in text.splitlines() if x.startswith("warden_observation_value{")]
    assert any('model="lab/model-1"' in x for x in values)
    assert "warden_metrics_subjects_omitted 0.0" in text
    assert 'warden_frontier_value{benchmark="lab_eval",metric="accuracy",scope="all"} 0.72' in text
    assert 'warden_triggers_total{state="firing",threshold="lab.eval.high"} 1.0' in text
    hook.wait_for(1)
    assert 'warden_deliveries_total{outcome="delivered",sink="hook"} 1.0' in metrics(api)


def sink_up(url: str) -> str:
    (line,) = [x for x in metrics(url).splitlines() if x.startswith('warden_sink_up{sink="hook"}')]
    return line.split()[-1]


def wait_for_outcome(url: str, outcome: str) -> None:
    deadline = time.monotonic() + 20
    wanted = f'warden_deliveries_total{{outcome="{outcome}",sink="hook"}} '
    while not any(
        x.startswith(wanted) and float(x.split()[-1]) >= 1 for x in metrics(url).splitlines()
    ):
        assert time.monotonic() < deadline, f"no {outcome} delivery recorded"
        time.sleep(0.02)


def test_sink_up_is_0_while_deliveries_are_retried_and_1_once_one_succeeds(
    db_url: str, tmp_path: Path, hook: Receiver
) -> None:
    hook.statuses = [503] * 10_000  # every attempt fails until the test clears them
    retry = {"max_attempts": 1000, "backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.1}
    with serving(make_warden(db_url, tmp_path, hook.url, dispatch=retry)) as url:
        assert sink_up(url) == "1.0"  # no delivery yet
        requests.post(f"{url}/api/v1/observations", json=[point()], headers=AUTH, timeout=10)
        wait_for_outcome(url, "retry")
        assert sink_up(url) == "0.0"  # every attempt so far failed: the sink is down
        with hook._cond:
            hook.statuses.clear()
        wait_for_outcome(url, "delivered")
        assert sink_up(url) == "1.0"


def test_token_is_required(api: str) -> None:
    url = f"{api}/api/v1/observations"
    assert requests.post(url, json=[point()], timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert requests.post(url, json=[point()], headers=wrong, timeout=10).status_code == 401


def test_without_a_token_the_write_api_is_off(db_url: str, tmp_path: Path, hook: Receiver) -> None:
    with serving(make_warden(db_url, tmp_path, hook.url, token=None)) as url:
        r = requests.post(
            f"{url}/api/v1/observations",
            json=[point()],
            headers={"Authorization": "Bearer None"},
            timeout=10,
        )
        assert r.status_code == 403 and "off" in r.json()["detail"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "field", "reason"),
    [
        (b"[{not json", 400, None, "malformed"),
        (json.dumps([point(), point(value="0.5")]).encode(), 422, "value", "invalid_value"),
        (
            b'[{"model": "m", "benchmark": "lab_eval", "metric": "accuracy", "value": NaN,'
            b' "observed_at": "2026-01-01T00:00:00Z"}]',
            422,
            "value",
            "invalid_value",
        ),
        (
            json.dumps([point(observed_at="2026-11-01T12:00:00")]).encode(),
            422,
            "observed_at",
            "invalid_value",
        ),
        (
            json.dumps([{k: v for k, v in point().items() if k != "model"}]).encode(),
            422,
            "model",
            "missing_field",
        ),
        (json.dumps([point(colour="red")]).encode(), 422, "colour", "invalid_value"),
        (json.dumps({"model": "m"}).encode(), 422, None, "invalid_value"),
    ],
)
def test_bad_pushes_name_the_field_are_counted_and_change_nothing(
    api: str, body: bytes, status: int, field: str | None, reason: str
) -> None:
    r = requests.post(
        f"{api}/api/v1/observations",
        data=body,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert detail["reason"] == reason
    assert detail.get("field") == field
    if field is not None and body.startswith(b"[{") and b"NaN" not in body:
        assert detail["record"] in ("0", "1")
    text = metrics(api)
    assert f'warden_observations_rejected_total{{feed="api",reason="{reason}"}} 1.0' in text
    assert 'warden_observations_ingested_total{feed="api"} 0.0' in text
    assert "warden_threshold_state{" not in text


def test_health_and_readiness(api: str) -> None:
    assert requests.get(f"{api}/healthz", timeout=10).json() == {"status": "ok"}
    r = requests.get(f"{api}/readyz", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert "warden_build_info{" in metrics(api)


def test_oversized_body_is_refused(api: str) -> None:
    from warden.interfaces.api.limits import PUSH_BODY_BYTES

    body = b"[" + b" " * PUSH_BODY_BYTES + b"]"
    r = requests.post(
        f"{api}/api/v1/observations",
        data=body,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 413 and "limit" in r.json()["detail"]["message"]


def test_only_catalog_benchmark_metrics_become_value_series(api: str) -> None:
    pushed = [point(), point(benchmark="unlisted_eval"), point(metric="other_metric")]
    r = requests.post(f"{api}/api/v1/observations", json=pushed, headers=AUTH, timeout=10)
    assert r.json() == {"ingested": 3, "duplicates": 0}  # kept, never dropped
    text = metrics(api)
    assert 'warden_observations_ingested_total{feed="api"} 3.0' in text
    assert 'benchmark="lab_eval",metric="accuracy"' in text
    assert "unlisted_eval" not in text and "other_metric" not in text


def test_a_batch_with_an_impossible_value_stores_the_rest_and_says_what_was_refused(
    api: str,
) -> None:
    good = {**point(), "benchmark": "gpqa_diamond", "metric": "accuracy", "value": 0.5}
    percent = {**good, "model": "lab/model-2", "value": 85.0}  # a percentage in a fraction
    r = requests.post(f"{api}/api/v1/observations", json=[good, percent], headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["ingested"], body["duplicates"]) == (1, 0)
    (refused,) = body["rejected"]
    assert (refused["record"], refused["field"], refused["reason"]) == (
        "1",
        "value",
        "invalid_value",
    )
    assert "a percentage?" in refused["message"]
    text = metrics(api)
    assert 'warden_observations_rejected_total{feed="api",reason="invalid_value"} 1.0' in text


def test_metrics_are_gzipped_when_asked(api: str) -> None:
    import gzip

    plain = requests.get(f"{api}/metrics", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    zipped = requests.get(f"{api}/metrics", headers={"Accept-Encoding": "gzip"}, stream=True,
                          timeout=10)  # fmt: skip
    assert zipped.headers["content-encoding"] == "gzip"
    raw = zipped.raw.read(decode_content=False)
    text = gzip.decompress(raw).decode()
    assert "# TYPE warden_threshold_state gauge" in text and len(raw) < len(plain.content) / 3
    om = requests.get(
        f"{api}/metrics",
        headers={
            "Accept": "application/openmetrics-text; version=1.0.0",
            "Accept-Encoding": "gzip",
        },
        timeout=10,
    )
    assert om.headers["content-encoding"] == "gzip" and om.text.endswith("# EOF\n")
    for header, zipped_ in (("GZIP", True), ("gzip;q=0", False), ("*", True), ("br", False)):
        r = requests.get(f"{api}/metrics", headers={"Accept-Encoding": header}, timeout=10)
        assert (r.headers.get("content-encoding") == "gzip") is zipped_, header

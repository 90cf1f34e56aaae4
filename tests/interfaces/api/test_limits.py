"""What one client may cost the daemon, against the real app under uvicorn on loopback: every
endpoint's body is bounded (a 200 MiB acknowledgement is refused before it is read), a client
slow to send its request is disconnected, failed authentication is throttled per address (with
a metric), and /readyz fails while the trigger log does not verify."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.server import serving
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.interfaces.api.limits import OTHER_BODY_BYTES, AuthThrottle, SlowClientH11
from warden.store import alerts as alert_rows
from warden.store.schema import triggers

AUTH = {"Authorization": "Bearer t0ken"}


@pytest.fixture
def base(tmp_path: Path) -> Iterator[tuple[str, Warden]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", api_token="t0ken")
    w = Warden(settings)
    with serving(w) as url:
        yield url, w


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * 65536
        sent += 65536


@pytest.mark.parametrize("path", ["/api/v1/acks", "/api/v1/silences"])
def test_a_huge_body_is_refused_before_it_is_read(base: tuple[str, Warden], path: str) -> None:
    url, _ = base
    declared = requests.post(url + path, data=b" " * (OTHER_BODY_BYTES + 1), headers=AUTH,
                             timeout=30)  # fmt: skip
    assert declared.status_code == 413 and "limit" in declared.json()["detail"]["message"]
    # Chunked, with no Content-Length: counted as it arrives and cut at the limit.
    streamed = requests.post(url + path, data=_chunks(200 * 2**20), headers=AUTH, timeout=30)
    assert streamed.status_code == 413
    ok = requests.post(url + "/api/v1/silences", json={}, headers=AUTH, timeout=10)
    assert ok.status_code == 422  # a small body still reaches the endpoint


def test_a_client_slow_to_send_its_request_is_disconnected(
    base: tuple[str, Warden], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SlowClientH11, "header_timeout_seconds", 0.5)
    url, _ = base
    host, port = url.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)), timeout=10)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    started = time.monotonic()
    assert slow.recv(1024) == b""  # closed by the server
    assert time.monotonic() - started < 9
    slow.close()
    assert requests.get(url + "/healthz", timeout=10).status_code == 200


def test_failed_authentication_is_throttled_per_address(base: tuple[str, Warden]) -> None:
    url, _ = base
    wrong = {"Authorization": "Bearer nope"}
    codes = [
        requests.post(url + "/api/v1/acks", json={}, headers=wrong, timeout=10).status_code
        for _ in range(25)
    ]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    r = requests.post(url + "/api/v1/acks", json={}, headers=AUTH, timeout=10)
    assert (
        r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    )  # the address, whatever it sends
    metrics = requests.get(url + "/metrics", timeout=10).text
    assert "warden_http_auth_failures_total 20.0" in metrics
    assert "warden_http_auth_throttled_total 6.0" in metrics


def test_the_throttle_forgets_after_its_window() -> None:
    now = [0.0]
    throttle = AuthThrottle(max_failures=3, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        throttle.failed("a")
    assert throttle.retry_after("a") == 60 and throttle.retry_after("b") is None
    now[0] = 30
    assert throttle.retry_after("a") == 30
    now[0] = 61
    assert throttle.retry_after("a") is None


def test_readyz_fails_while_the_trigger_log_does_not_verify(base: tuple[str, Warden]) -> None:
    url, w = base
    w.note_catalog()
    assert w.verify_log() is None
    assert requests.get(url + "/readyz", timeout=10).status_code == 200
    with w.store.write() as conn:
        conn.execute(triggers.update().values(content='{"tampered": true}'))
    assert w.verify_log() is not None
    r = requests.get(url + "/readyz", timeout=10)
    assert r.status_code == 503 and "does not verify" in r.json()["detail"]
    with w.store.read() as conn:
        assert list(alert_rows.entries(conn))

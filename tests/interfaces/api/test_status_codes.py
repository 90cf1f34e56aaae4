"""Every status the HTTP API documents (docs/reference/http-api.md) is the one it answers, each
with the documented body `{"detail": {"message": ...}}`: the real app under uvicorn on loopback,
on a real SQLite file."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.interfaces.api.test_app import AUTH, CATALOG, point
from tests.support.server import serving
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.interfaces.api.limits import BodyLimit


def make(tmp_path: Path, token: str | None = "t0ken") -> Warden:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "catalog.yaml")],
        api_token=token,
    )
    return Warden(settings)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Warden]]:
    w = make(tmp_path)
    with serving(w) as url:
        yield url, w


def message(r: requests.Response) -> str:
    detail = r.json()["detail"]
    assert isinstance(detail, dict), r.text  # never FastAPI's own list or string
    text: str = detail["message"]
    return text


def post(url: str, body: bytes | object, **kw: object) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    return requests.post(url, data=data, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


def test_400_for_a_body_that_is_not_json_a_cut_push_included(api: tuple[str, Warden]) -> None:
    url, _ = api
    r = post(f"{url}/api/v1/observations", b"[{not json")
    assert r.status_code == 400 and r.json()["detail"]["reason"] == "malformed"
    cut = json.dumps([point()]).encode()[:-7]  # an upload cut short
    r = post(f"{url}/api/v1/observations", cut)
    assert r.status_code == 400, r.text  # used to be 422
    assert r.json()["detail"]["reason"] == "truncated"
    r = post(f"{url}/api/v1/acks", b"{not json")
    assert r.status_code == 400 and message(r) == "the body is not JSON"
    r = post(f"{url}/api/v1/silences", b"{")
    assert r.status_code == 400 and message(r) == "the body is not JSON"


def test_401_without_the_token(api: tuple[str, Warden]) -> None:
    url, _ = api
    for path in ("observations", "acks", "silences"):
        r = requests.post(f"{url}/api/v1/{path}", json=[], timeout=10)
        assert r.status_code == 401 and message(r) == "missing or wrong bearer token"
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_403_when_no_token_is_configured(tmp_path: Path) -> None:
    with serving(make(tmp_path, token=None)) as url:
        r = post(f"{url}/api/v1/observations", [point()])
        assert r.status_code == 403 and "no api_token is configured" in message(r)


def test_404_for_what_does_not_exist(api: tuple[str, Warden]) -> None:
    url, _ = api
    r = post(f"{url}/api/v1/acks", {"trigger": 999, "by": "alice"})
    assert r.status_code == 404 and "no such alert" in message(r)
    r = post(f"{url}/api/v1/acks", {"threshold": "lab.eval.hihg", "subject": "m", "by": "a"})
    assert r.status_code == 404 and "did you mean 'lab.eval.high'?" in message(r)
    r = requests.delete(f"{url}/api/v1/silences/7?by=ops", headers=AUTH, timeout=10)
    assert r.status_code == 404 and message(r) == "no silence 7"
    r = requests.get(f"{url}/api/v1/nothing", timeout=10)
    assert r.status_code == 404 and message(r) == "Not Found"


def test_405_for_a_method_an_endpoint_does_not_take(api: tuple[str, Warden]) -> None:
    url, _ = api
    r = requests.get(f"{url}/api/v1/acks", timeout=10)
    assert r.status_code == 405 and message(r) == "Method Not Allowed"


def test_408_for_a_body_that_stops_arriving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = BodyLimit.__init__.__defaults__
    assert defaults is not None
    monkeypatch.setattr(BodyLimit.__init__, "__defaults__", (*defaults[:-1], 0.5))
    with serving(make(tmp_path)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(
                b"POST /api/v1/acks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            chunks = []
            while chunk := s.recv(65536):  # the head and the body may come apart: read to close
                chunks.append(chunk)
            answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.1 408"), answer
    assert '{"detail": {"message": "the body did not arrive within 0.5 s"}}' in answer


def test_409_when_the_state_does_not_allow_it(api: tuple[str, Warden]) -> None:
    url, _ = api
    r = post(f"{url}/api/v1/acks", {"threshold": "lab.eval.high", "subject": "m", "by": "a"})
    assert r.status_code == 409 and "nothing to acknowledge" in message(r)
    r = post(
        f"{url}/api/v1/silences",
        {"match": {"domain": "cyber"}, "duration": "1h", "created_by": "o", "comment": "c"},
    )
    assert r.status_code == 201, r.text
    silence = r.json()["id"]
    assert requests.delete(f"{url}/api/v1/silences/{silence}?by=o", headers=AUTH, timeout=10).ok
    r = requests.delete(f"{url}/api/v1/silences/{silence}?by=o", headers=AUTH, timeout=10)
    assert r.status_code == 409 and "already ended" in message(r)


def test_413_for_a_body_over_the_limit(api: tuple[str, Warden]) -> None:
    url, _ = api
    r = post(f"{url}/api/v1/acks", b" " * (64 * 2**10 + 1))
    assert r.status_code == 413 and "limit" in message(r)


def test_422_for_a_request_that_does_not_fit(api: tuple[str, Warden]) -> None:
    url, _ = api
    r = post(f"{url}/api/v1/observations", [{k: v for k, v in point().items() if k != "model"}])
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "missing_field"
    r = post(f"{url}/api/v1/acks", {"by": ""})
    assert r.status_code == 422 and message(r).startswith("by:")
    silence = {"match": {"domian": "cyber"}, "duration": "1h", "created_by": "o", "comment": "c"}
    r = post(f"{url}/api/v1/silences", silence)
    assert r.status_code == 422 and "unknown label 'domian' (did you mean 'domain'?)" in (
        message(r)
    )
    assert '"force": true' in message(r)
    assert post(f"{url}/api/v1/silences", {**silence, "force": True}).status_code == 201
    r = requests.delete(f"{url}/api/v1/silences/abc?by=o", headers=AUTH, timeout=10)
    assert r.status_code == 422 and message(r).startswith("path.silence_id: ")
    r = requests.get(f"{url}/api/v1/silences?all=maybe", headers=AUTH, timeout=10)
    assert r.status_code == 422 and message(r).startswith("query.all: ")
    r = requests.delete(f"{url}/api/v1/silences/1", headers=AUTH, timeout=10)
    assert r.status_code == 422 and message(r).startswith("by:")


def test_429_after_too_many_failed_authentications(api: tuple[str, Warden]) -> None:
    url, _ = api
    wrong = {"Authorization": "Bearer nope"}
    codes = [
        requests.post(f"{url}/api/v1/acks", json={}, headers=wrong, timeout=10).status_code
        for _ in range(25)
    ]
    assert codes[-1] == 429 and 401 in codes
    r = requests.post(f"{url}/api/v1/acks", json={}, headers=wrong, timeout=10)
    assert r.status_code == 429 and "too many failed authentications" in message(r)
    assert int(r.headers["Retry-After"]) >= 1


def test_503_while_the_store_is_unavailable(api: tuple[str, Warden], tmp_path: Path) -> None:
    url, w = api
    db = tmp_path / "w.db"
    w.store.dispose()
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{db}{suffix}").exists():
            os.rename(f"{db}{suffix}", f"{db}{suffix}.away")
    # SQLite cannot open a folder: the store is down. The daemon's threads keep running and may
    # open the missing path first, which makes an empty file there: remove it and try again.
    for _ in range(50):
        try:
            db.mkdir()
            break
        except FileExistsError:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:
        raise AssertionError(f"{db} keeps being made again")
    try:
        r = requests.get(f"{url}/readyz", timeout=10)
        assert r.status_code == 503 and "unavailable" in r.json()["detail"]
        r = post(f"{url}/api/v1/observations", [point()])
        assert r.status_code == 503, r.text
        assert "unavailable" in message(r) and "try again later" in message(r)
        assert r.headers["Retry-After"] == "30"
        r = requests.get(f"{url}/api/v1/silences", headers=AUTH, timeout=10)
        assert r.status_code == 503
    finally:
        db.rmdir()
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{db}{suffix}.away").exists():
                os.rename(f"{db}{suffix}.away", f"{db}{suffix}")
    deadline = time.monotonic() + 30  # generous on a busy machine: the store is back at once
    while requests.get(f"{url}/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert post(f"{url}/api/v1/observations", [point()]).status_code == 200

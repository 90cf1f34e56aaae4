"""Who may read and write over HTTP: named tokens with roles, the legacy api_token, public_read,
refusals without leaks; and the OpenAPI schema and its docs pages from bundled assets."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.server import serving
from tests.support.varied_run import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN, run, sha
from warden.app.daemon import Warden
from warden.app.settings import Settings, load_settings
from warden.core.errors import ConfigError

READS = [
    "/api/v1/triggers",
    "/api/v1/triggers/1",
    "/api/v1/triggers/1/replay",
    "/api/v1/alerts",
    "/api/v1/thresholds",
    "/api/v1/feeds",
    "/api/v1/forecasts",
    "/api/v1/rejects",
    "/api/v1/log/verify",
    "/api/v1/silences",
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_each_role_and_no_token(tmp_path: Path, db_url: str) -> None:
    w, _ = run(tmp_path, db_url)
    with serving(w) as url:
        for path in READS:
            r = requests.get(url + path, timeout=10)
            assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", path
            assert r.json() == {"detail": {"message": "missing or wrong bearer token"}}
            if path in READS[:4]:  # (20 failures from one address are throttled: 429)
                r = requests.get(url + path, headers=bearer("not-a-token-at-all"), timeout=10)
                assert r.status_code == 401, path
                assert "not-a-token" not in r.text
            for token in (READ_TOKEN, WRITE_TOKEN, ADMIN_TOKEN):
                r = requests.get(url + path, headers=bearer(token), timeout=10)
                assert r.status_code == 200, (path, r.text)
        current = requests.get(f"{url}/api/v1/alerts", headers=bearer(READ_TOKEN), timeout=10)
        alert = current.json()[0]
        ack = {"threshold": alert["threshold"], "subject": alert["subject"], "note": "seen"}
        r = requests.post(f"{url}/api/v1/acks", json=ack, headers=bearer(READ_TOKEN), timeout=10)
        assert r.status_code == 403
        assert r.json()["detail"]["message"] == (
            "token 'reader' has role read; POST /api/v1/acks needs write"
        )
        assert READ_TOKEN not in r.text
        # A write token acts under its own name; it may not name someone else.
        r = requests.post(
            f"{url}/api/v1/acks", json={**ack, "by": "mallory"}, headers=bearer(WRITE_TOKEN),
            timeout=10,
        )  # fmt: skip
        assert r.status_code == 422 and "recorded under its name 'alice'" in r.text
        r = requests.post(f"{url}/api/v1/acks", json=ack, headers=bearer(WRITE_TOKEN), timeout=10)
        assert r.status_code == 200, r.text
        seq = r.json()["trigger"]
        silence = {"match": {"subject": alert["subject"]}, "duration": "1h", "comment": "drill"}
        r = requests.post(
            f"{url}/api/v1/silences", json=silence, headers=bearer(ADMIN_TOKEN), timeout=10
        )
        assert r.status_code == 201, r.text
        by_root = r.json()["id"]
        # Ending another's silence takes an admin token.
        r = requests.delete(
            f"{url}/api/v1/silences/{by_root}", headers=bearer(WRITE_TOKEN), timeout=10
        )
        assert r.status_code == 403 and "needs an admin token" in r.text
        r = requests.post(
            f"{url}/api/v1/silences", json=silence, headers=bearer(WRITE_TOKEN), timeout=10
        )
        own = r.json()["id"]
        r = requests.delete(f"{url}/api/v1/silences/{own}", headers=bearer(WRITE_TOKEN), timeout=10)
        assert r.status_code == 200, r.text
        r = requests.delete(
            f"{url}/api/v1/silences/{by_root}", headers=bearer(ADMIN_TOKEN), timeout=10
        )
        assert r.status_code == 200, r.text
        listed = requests.get(
            f"{url}/api/v1/silences?all=true", headers=bearer(READ_TOKEN), timeout=10
        ).json()
        assert {s["id"]: s["created_by"] for s in listed}[by_root] == "root"
        assert {s["id"]: s["expired_by"] for s in listed}[own] == "alice"
        r = requests.get(f"{url}/api/v1/triggers/{seq}", headers=bearer(READ_TOKEN), timeout=10)
        assert r.json()["content"]["actor"] == "alice"
        assert r.json()["entry"]["kind"] == "ack"


def test_public_read_opens_reading_only(tmp_path: Path, sqlite_url: str) -> None:
    w, _ = run(tmp_path, sqlite_url, public_read=True)
    with serving(w) as url:
        for path in READS:
            assert requests.get(url + path, timeout=10).status_code == 200, path
        # A wrong token is still refused: public reading is for requests without one.
        r = requests.get(url + READS[0], headers=bearer("wrong-token-xxxxxxxx"), timeout=10)
        assert r.status_code == 401
        r = requests.post(f"{url}/api/v1/acks", json={"trigger": 1}, timeout=10)
        assert r.status_code == 401


def test_no_token_configured_refuses_reading(tmp_path: Path, sqlite_url: str) -> None:
    (tmp_path / "c.yaml").write_text("thresholds: []\n")
    w = Warden(Settings(database_url=sqlite_url, catalog=[str(tmp_path / "c.yaml")]))
    with serving(w) as url:
        r = requests.get(f"{url}/api/v1/triggers", timeout=10)
        assert r.status_code == 403
        assert "no api_token is configured" in r.text and "public_read" in r.text


def test_legacy_api_token_is_an_admin_and_env_tokens_work(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.yaml").write_text("thresholds: []\n")
    monkeypatch.setenv("LAB_CI_TOKEN", "ci-token-abcdefghijkl")
    config = tmp_path / "warden.yaml"
    config.write_text(
        f"database_url: {sqlite_url}\ncatalog: [{tmp_path / 'c.yaml'}]\n"
        "api_token: legacy-token-123456\n"
        "http:\n  tokens:\n    - {name: ci, role: read, env: LAB_CI_TOKEN}\n"
    )
    w = Warden(load_settings(config))
    with serving(w) as url:
        for token in ("legacy-token-123456", "ci-token-abcdefghijkl"):
            r = requests.get(f"{url}/api/v1/triggers", headers=bearer(token), timeout=10)
            assert r.status_code == 200, r.text
        silence = {"match": {"x": "y"}, "duration": "1h", "comment": "c", "force": True}
        r = requests.post(
            f"{url}/api/v1/silences", json=silence, headers=bearer("legacy-token-123456"),
            timeout=10,
        )  # fmt: skip
        # The shared token names no one: the body does, as before.
        assert r.status_code == 422 and r.json()["detail"]["message"].startswith("created_by:")
        r = requests.post(
            f"{url}/api/v1/silences", json={**silence, "created_by": "ops"},
            headers=bearer("legacy-token-123456"), timeout=10,
        )  # fmt: skip
        assert r.status_code == 201
        r = requests.post(
            f"{url}/api/v1/silences", json=silence, headers=bearer("ci-token-abcdefghijkl"),
            timeout=10,
        )  # fmt: skip
        assert r.status_code == 403 and "'ci' has role read" in r.text


def test_token_settings_name_the_problem_without_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHORT_TOKEN", "s3cr3t")
    config = tmp_path / "warden.yaml"
    config.write_text(
        "http:\n  tokens:\n"
        "    - {name: a, role: read, env: SHORT_TOKEN}\n"
        "    - {name: b, role: boss, sha256: " + sha("x") + "}\n"
        "    - {name: c, role: read}\n"
        "    - {name: d, role: read, env: UNSET_TOKEN_VAR}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    text = str(exc.value)
    assert "warden.yaml:3" in text and "holds 6 characters" in text and "s3cr3t" not in text
    assert "role" in text and "'boss'" in text
    assert "give either sha256" in text
    assert "UNSET_TOKEN_VAR' is not set" in text


def test_openapi_and_bundled_docs(tmp_path: Path, sqlite_url: str) -> None:
    w, _ = run(tmp_path, sqlite_url)
    with serving(w) as url:
        spec = requests.get(f"{url}/openapi.json", timeout=10).json()
        assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
            "type": "http",
            "scheme": "bearer",
            "description": spec["components"]["securitySchemes"]["HTTPBearer"]["description"],
        }
        paths = spec["paths"]
        post_silence = paths["/api/v1/silences"]["post"]
        assert "201" in post_silence["responses"] and "200" not in post_silence["responses"]
        assert post_silence["security"] == [{"HTTPBearer": []}]
        body = post_silence["requestBody"]["content"]["application/json"]["schema"]
        assert body["title"] == "SilenceIn" and "comment" in body["properties"]
        ack = paths["/api/v1/acks"]["post"]
        assert ack["requestBody"]["content"]["application/json"]["schema"]["title"] == "AckIn"
        for path in ("/api/v1/triggers", "/api/v1/triggers/{seq}", "/api/v1/alerts"):
            op = paths[path]["get"]
            assert set(op["responses"]) >= {"200", "401", "403"}, path
            assert "$ref" in op["responses"]["200"]["content"]["application/json"]["schema"] or (
                op["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
            )
        assert {"TriggerDetail", "ReplayOut", "Problem", "SilenceCreated"} <= set(
            spec["components"]["schemas"]
        )
        for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            html = requests.get(url + page, timeout=10).text
            assert f"/docs/static/{asset}" in html and "cdn." not in html
            js = requests.get(f"{url}/docs/static/{asset}", timeout=10)
            assert js.status_code == 200 and len(js.content) > 500_000

"""Acknowledgements and silences over HTTP, on a real daemon app on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import requests

from tests.support.server import serving
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.core.model import Observation
from warden.store import alerts
from warden.store import observations as obs_rows

CATALOG = """
benchmarks: [{id: ctf, title: CTF, metrics: {acc: {}}}]
thresholds:
  - id: cyber.ctf.high
    title: CTF
    domain: cyber
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: ctf, metric: acc, op: ">=", value: 0.5}
    then: {severity: critical}
"""
AUTH = {"Authorization": "Bearer t0ken"}
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_acks_and_silences_over_http(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CATALOG)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "c.yaml")],
        api_token="t0ken",
    )
    w = Warden(settings, clock=lambda: NOW)
    o = Observation("m1", "ctf", "acc", 0.9, NOW, "k1", "s", "0" * 64)
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, "f", [o], NOW)
    (seq, _), *_ = w.evaluate().transitions
    with serving(w) as base:
        api = f"{base}/api/v1"
        assert (
            requests.post(f"{api}/acks", json={"trigger": seq, "by": "a"}, timeout=10).status_code
            == 401
        )
        r = requests.post(f"{api}/acks", json={"trigger": seq, "by": "alice", "note": "on it"},
                          headers=AUTH, timeout=10)  # fmt: skip
        assert r.status_code == 200, r.text
        ack_seq = r.json()["trigger"]
        r = requests.post(
            f"{api}/acks", json={"trigger": 999, "by": "alice"}, headers=AUTH, timeout=10
        )
        assert r.status_code == 404 and "no such alert" in r.json()["detail"]["message"]
        r = requests.post(f"{api}/acks", json={"threshold": "cyber.ctf.high", "subject": "nobody",
                          "by": "alice"}, headers=AUTH, timeout=10)  # fmt: skip
        assert r.status_code == 409
        r = requests.post(f"{api}/acks", json={"by": ""}, headers=AUTH, timeout=10)
        assert r.status_code == 422 and r.json()["detail"]["message"].startswith("by:")
        r = requests.post(
            f"{api}/silences",
            json={
                "match": {"domain": "cyber"},
                "duration": "2h",
                "created_by": "ops",
                "comment": "drill",
            },
            headers=AUTH,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        silence = r.json()["id"]
        listed = requests.get(f"{api}/silences", headers=AUTH, timeout=10).json()
        assert [(s["id"], s["match"], s["created_by"]) for s in listed] == [
            (silence, {"domain": "cyber"}, "ops")
        ]
        for body, message in (
            (
                {"match": {}, "duration": "1h", "created_by": "o", "comment": "c"},
                "at least one matcher",
            ),
            (
                {"match": {"a": "b"}, "created_by": "o", "comment": "c"},
                "either ends_at or duration",
            ),
            (
                {"match_re": {"a": "("}, "duration": "1h", "created_by": "o", "comment": "c"},
                "regular expression",
            ),
            ({"match": {"a": "b"}, "duration": "1h", "created_by": "o"}, "comment: Field required"),
        ):
            r = requests.post(f"{api}/silences", json=body, headers=AUTH, timeout=10)
            assert r.status_code == 422 and message in r.json()["detail"]["message"], r.text
        r = requests.delete(f"{api}/silences/{silence}?by=ops", headers=AUTH, timeout=10)
        assert r.status_code == 200
        assert (
            requests.delete(
                f"{api}/silences/{silence}?by=ops", headers=AUTH, timeout=10
            ).status_code
            == 409
        )
        assert (
            requests.delete(f"{api}/silences/77?by=ops", headers=AUTH, timeout=10).status_code
            == 404
        )
        assert requests.get(f"{api}/silences", headers=AUTH, timeout=10).json() == []
    store = w.store.__class__(settings.database_url)
    with store.read() as conn:
        entries = {e.seq: e for e in alerts.entries(conn)}
    store.dispose()
    assert entries[ack_seq].kind == "ack" and entries[ack_seq].body["actor"] == "alice"
    assert [e.body["action"] for e in entries.values() if e.kind == "silence"] == [
        "silence added",
        "silence expired",
    ]

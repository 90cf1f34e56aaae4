"""The trigger log's checkpoint and proofs over HTTP (warden/interfaces/api/log.py), on a real
daemon app on loopback, behind the read authentication; the daemon's checkpoint job writes the
newest checkpoint to its file; the metrics carry the tree size and the last checkpoint's time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import requests

from tests.support.server import serving
from tests.support.treelog import grow
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.triggerlog import proofs
from warden.triggerlog.checkpoint import parse, verifier
from warden.triggerlog.keys import Ed25519Key, load_key, new_key_pair

AUTH = {"Authorization": "Bearer t0ken"}
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_checkpoints_and_proofs_over_http(tmp_path: Path) -> None:
    private, public, _ = new_key_pair()
    (tmp_path / "log.key").write_bytes(private)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        api_token="t0ken",
        checkpoint_key=str(tmp_path / "log.key"),
        checkpoint_file=str(tmp_path / "checkpoint.txt"),
        log_origin="example.org/log",
    )
    w = Warden(settings, clock=lambda: NOW)
    key = load_key(public, "pub")
    assert isinstance(key, Ed25519Key)
    v = verifier(key, "example.org/log")
    with serving(w) as base:
        api = f"{base}/api/v1/log"
        r = requests.get(f"{api}/checkpoint", headers=AUTH, timeout=10)
        assert r.status_code == 404 and "no checkpoint" in r.json()["detail"]["message"]
        grow(w.store, 11, batch=4)
        w.checkpoint()  # the job of checkpoint_every
        kept = (tmp_path / "checkpoint.txt").read_text()
        assert requests.get(f"{api}/checkpoint", timeout=10).status_code == 401
        r = requests.get(f"{api}/checkpoint", headers=AUTH, timeout=10)
        assert r.status_code == 200 and r.text == kept
        assert r.headers["content-type"].startswith("text/plain")
        assert parse(kept, "kept").size == 11
        grow(w.store, 6)
        w.checkpoint()
        r = requests.get(f"{api}/proof/inclusion", params={"seq": 9}, headers=AUTH, timeout=10)
        assert r.status_code == 200, r.text
        said = proofs.verify(r.content, "inclusion", v)
        assert "entry 9" in said[1] and "17 entries" in said[1]
        r = requests.get(f"{api}/proof/consistency", params={"old": 11}, headers=AUTH, timeout=10)
        assert r.status_code == 200, r.text
        said = proofs.verify(r.content, "consistency", v, kept=parse(kept, "kept"))
        assert said[-1] == "it extends the kept checkpoint of 11 entries"
        assert json.loads(r.content)["old_checkpoint"] == kept  # the signed one issued then
        r = requests.get(f"{api}/proof/inclusion", params={"seq": 99}, headers=AUTH, timeout=10)
        assert r.status_code == 404
        r = requests.get(f"{api}/proof/consistency", params={"old": 40}, headers=AUTH, timeout=10)
        assert r.status_code == 422
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        assert "warden_trigger_log_tree_size 17.0" in metrics
        assert "warden_trigger_log_last_checkpoint_timestamp_seconds 1.7775936e+09" in metrics
        assert "warden_trigger_log_checkpoint_interval_seconds 3600.0" in metrics
    w.close()

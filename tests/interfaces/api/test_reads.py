"""The read API on a real daemon over loopback HTTP: the trigger log paged by keyset over a
large log (no duplicates, no gaps, filters as a scan would give), one trigger with its evidence,
definition, deliveries, acknowledgements and silences, its replay, and the other read endpoints.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from tests.support.server import serving
from tests.support.varied_run import READ_TOKEN, T0, _obs, run
from warden.core.chain import Entry, canonical, chain_hash
from warden.core.model import Rejection
from warden.store import alerts as alert_rows
from warden.store import feeds as feed_rows
from warden.store import observations as obs_rows
from warden.store.schema import triggers

AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}
STATES = ("pending", "firing", "warning", "resolved", "nodata")


def _bulk(n: int, first: int, prev: str) -> list[dict[str, Any]]:
    """`n` chained trigger-log rows after seq `first - 1` (hash `prev`): five thresholds, ten
    subjects, a state cycle, an ack every 7th entry."""
    rows = []
    for seq in range(first, first + n):
        kind = "ack" if seq % 7 == 0 else "transition"
        at = T0 + timedelta(days=10, minutes=seq)
        body = {
            "kind": kind,
            "seq": seq,
            "at": at.isoformat(),
            "threshold": f"bulk.t{seq % 5}",
            "threshold_version": "" if kind == "ack" else "v" * 64,
            "subject": f"m{seq % 10}",
            "from": "" if kind == "ack" else "inactive",
            "to": "" if kind == "ack" else STATES[(seq // 5) % len(STATES)],
        }
        content = canonical(body)
        digest = chain_hash(prev, content)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "threshold": body["threshold"],
                "threshold_version": body["threshold_version"],
                "subject": body["subject"],
                "from_state": body["from"],
                "to_state": body["to"],
                "content": content,
                "prev_hash": prev,
                "hash": digest,
                "kind": kind,
            }
        )
        prev = digest
    return rows


def _pages(url: str, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    link: str | None = f"/api/v1/triggers?{query}"
    while link is not None:
        r = requests.get(url + link, headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        link = page["next"]
    return items


def test_paging_a_large_log_by_keyset(tmp_path: Path, db_url: str) -> None:
    w, _ = run(tmp_path, db_url)
    with w.store.read() as conn:
        head = (
            conn.execute(triggers.select().order_by(triggers.c.seq.desc()).limit(1))
            .mappings()
            .first()
        )
    assert head is not None
    rows = _bulk(20_000, int(head["seq"]) + 1, str(head["hash"]))
    with w.store.write() as conn:  # as the daemon appends: the Merkle tree's leaves too
        for i in range(0, len(rows), 2000):
            alert_rows.append_triggers(conn, [Entry(**r) for r in rows[i : i + 2000]])
    total = int(head["seq"]) + len(rows)
    with serving(w) as url:
        items = _pages(url, "limit=500")
        # No duplicate, no gap. (The dispatcher may append delivery entries meanwhile: a page
        # read later starts from where the one before ended, so the list is still whole.)
        top = items[0]["seq"]
        assert top >= total and [i["seq"] for i in items] == list(range(top, 0, -1))
        firing = _pages(url, "threshold=bulk.t2&state=firing&order=asc&limit=97")
        expected = [
            r["seq"] for r in rows if r["threshold"] == "bulk.t2" and r["to_state"] == "firing"
        ]
        assert [i["seq"] for i in firing] == expected and len(expected) > 100
        acks = _pages(url, "kind=ack&subject=m3&limit=250")
        expected = [r["seq"] for r in reversed(rows) if r["kind"] == "ack" and r["subject"] == "m3"]
        assert [i["seq"] for i in acks] == expected
        since, until = rows[5000]["at"], rows[6000]["at"]
        q = f"since={since.isoformat()}&until={until.isoformat()}&limit=300"
        window = _pages(url, q.replace("+", "%2B"))
        assert [i["seq"] for i in window] == [r["seq"] for r in reversed(rows[5000:6000])]
        r = requests.get(f"{url}/api/v1/triggers?since=2026-01-01T00:00:00", headers=AUTH,
                         timeout=10)  # fmt: skip
        assert r.status_code == 422 and "offset" in r.json()["detail"]["message"]
        r = requests.get(f"{url}/api/v1/triggers?limit=501", headers=AUTH, timeout=10)
        assert r.status_code == 422
        verified = requests.get(f"{url}/api/v1/log/verify", headers=AUTH, timeout=60).json()
        assert verified["ok"] is True and verified["entries"] >= total


def test_one_trigger_with_everything_behind_it(tmp_path: Path, db_url: str) -> None:
    w, clock = run(tmp_path, db_url)
    with w.store.write() as conn:
        feed_rows.ensure_feed(conn, "lab", "inspect_logs")
        started = feed_rows.start_run(conn, "lab", "inspect_logs", clock())
        feed_rows.finish_run(
            conn, started, "lab", clock(), feed_rows.RunCounts(), "unreachable", reason="network"
        )
        obs_rows.insert_reject(
            conn, "lab", Rejection("/data/bad.json", "malformed", "not JSON", "ef" * 32), clock()
        )
    # A rising frontier over two years, for a forecast.
    with w.store.write() as conn:
        points = [
            _obs(f"acme/f{i}", "ctf", "acc", 0.1 + 0.04 * i, clock() - timedelta(days=700 - 50 * i))
            for i in range(12)
        ]  # fmt: skip
        obs_rows.insert_observations(conn, "lab", points, clock())
    w.forecast()
    with serving(w) as url:
        log = _pages(url, "kind=transition&order=asc")
        twice = next(
            i for i in log if i["threshold"] == "lab.ctf.twice" and i["to_state"] == "firing"
        )
        high = next(
            i for i in log if i["threshold"] == "lab.ctf.high" and i["subject"] == "acme/m2"
        )
        deadline = time.monotonic() + 15
        while True:  # delivered by the daemon's dispatcher, to the log sink
            r = requests.get(f"{url}/api/v1/triggers/{high['seq']}", headers=AUTH, timeout=10)
            assert r.status_code == 200, r.text
            detail = r.json()
            if detail["deliveries"] and detail["deliveries"][0]["status"] == "delivered":
                break
            assert time.monotonic() < deadline, detail["deliveries"]
            time.sleep(0.1)
        assert detail["deliveries"][0]["sink"] == "log"
        assert detail["deliveries"][0]["tries"][0]["outcome"] == "delivered"
        assert [(a["actor"], a["action"]) for a in detail["acks"]] == [("alice", "acknowledged")]
        assert detail["silences"] == []  # made after it
        detail = requests.get(f"{url}/api/v1/triggers/{twice['seq']}", headers=AUTH,
                              timeout=10).json()  # fmt: skip
        assert detail["deliveries"] == []  # silenced
        evidence = detail["evidence"]
        assert [e["value"] for e in evidence] == [0.85, 0.8] and all(
            not e["changed"] for e in evidence
        )
        first = evidence[0]
        assert first["stderr"] == 0.02 and first["n"] == 300 and first["feed"] == "lab"
        assert first["source"] == "https://evals.example.org/acme/m2/ctf.json"
        assert first["content_hash"] == "cd" * 32
        assert first["stored"]["provenance"]["org"] == "acme"
        assert first["stored"]["provenance"]["vendor_reported"] is False
        definition = detail["threshold"]
        assert definition["stored"] and definition["definition"]["for"] == 2
        digest = hashlib.sha256(json.dumps(definition["definition"], sort_keys=True).encode())
        assert digest.hexdigest() == definition["version"] == detail["entry"]["threshold_version"]
        assert [s["match"] for s in detail["silences"]] == [{"subject": "acme/m2"}]
        replayed = requests.get(f"{url}/api/v1/triggers/{twice['seq']}/replay", headers=AUTH,
                                timeout=10).json()  # fmt: skip
        assert replayed["outcome"] == "reproduced" and replayed["reproduced"] is True
        assert replayed["replayed"]["to_state"] == "firing"
        missing = requests.get(f"{url}/api/v1/triggers/999999", headers=AUTH, timeout=10)
        assert missing.status_code == 404 and "no such entry" in missing.text

        alerts = requests.get(f"{url}/api/v1/alerts", headers=AUTH, timeout=10).json()
        assert ("lab.ctf.high", "acme/m3", "warning") in {
            (a["threshold"], a["subject"], a["state"]) for a in alerts
        }
        m3 = next(a for a in alerts if a["subject"] == "acme/m3")
        assert m3["title"] == "Most CTF challenges solved" and m3["last_trigger"] is not None
        every = requests.get(f"{url}/api/v1/alerts?state=resolved&state=nodata", headers=AUTH,
                             timeout=10).json()  # fmt: skip
        assert {a["state"] for a in every} == {"resolved", "nodata"}

        catalog = requests.get(f"{url}/api/v1/thresholds", headers=AUTH, timeout=10).json()
        high_t = next(t for t in catalog if t["id"] == "lab.ctf.high")
        assert high_t["provenance"]["when.value"]["kind"] == "proxy"
        assert high_t["sources"] == [{"title": "Framework", "url": "https://example.org/framework"}]
        assert high_t["warn_at"] == 0.35
        cyber = requests.get(f"{url}/api/v1/thresholds?domain=autonomy", headers=AUTH, timeout=10)
        assert [t["id"] for t in cyber.json()] == ["lab.auto.stale"]

        feeds = requests.get(f"{url}/api/v1/feeds", headers=AUTH, timeout=10).json()
        assert [(f["feed"], f["state"]) for f in feeds] == [("lab", "failing (network)")]

        forecasts = requests.get(f"{url}/api/v1/forecasts", headers=AUTH, timeout=10).json()
        assert [f["threshold"] for f in forecasts] == ["lab.ctf.frontier"]
        assert forecasts[0]["value"] == 0.7 and forecasts[0]["fit"] and forecasts[0]["frontier"]

        rejects = requests.get(f"{url}/api/v1/rejects", headers=AUTH, timeout=10).json()
        assert [(r["feed"], r["reason"], r["source"]) for r in rejects["items"]] == [
            ("lab", "malformed", "/data/bad.json")
        ]
        assert rejects["next_cursor"] is None

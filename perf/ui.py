"""The web view at size: the trigger-log page (`GET /ui/triggers`) over a log of 1,000,000
entries.

    .venv/bin/python perf/ui.py [--entries 1000000] [--requests 200]

- `ui_trigger_log_page_ms`: p50 server time (from the request's arrival in the ASGI app to its
  last body byte) of the trigger-log page, 50 entries rendered to HTML (each entry's content
  parsed and worded as the sinks word it), under uvicorn on loopback with a read token: the first
  page, a page deep in the log (a cursor near seq 1,000) and a filtered deep page (threshold and
  state). Same-run baseline: the raw indexed SQL query the page runs
  (`warden.store.reads.trigger_page_sql`), executed alone in a read transaction. Target: p50 <
  50 ms.

Every entry holds the content of a real single-condition trigger (title, condition, provenance,
sources, scales, one observation of evidence: ~1.3 KB), so the page parses and words what it
would in production; rows are bulk-inserted with one executemany per 100,000 (the indexes of
schema.py in place); the hash chain is not valid (reads do not check it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

from warden.app.daemon import Warden
from warden.app.settings import Settings, TokenSettings
from warden.interfaces.api.app import create_app
from warden.store import reads
from warden.store.schema import UTCDateTime

sys.path.insert(0, str(Path(__file__).parent))
from api import STATES, T0, TOKEN, Timed, p50_ms, serve
from harness import emit, say

BATCH = 100_000


def content(seq: int, at: str, threshold: str, subject: str, to: str) -> str:
    """A transition's content as warden writes it (warden.triggerlog.entries.content_of)."""
    return json.dumps(
        {
            "seq": seq, "at": at, "threshold": threshold, "threshold_version": "v" * 64,
            "title": "Most CTF challenges solved", "level": "high", "domain": "cyber",
            "severity": "warning", "mitigations": ["Brief the board."], "safeguards": [],
            "runbook": None, "labels": {}, "annotations": {},
            "condition": {"benchmark": "ctf", "metric": "acc", "op": ">=", "value": 0.5,
                          "baseline": None, "ratio": None},
            "provenance": {"when.value": {"kind": "proxy", "note": "half of the challenges"}},
            "sources": [{"title": "Framework", "url": "https://example.org/framework"}],
            "scales": {"ctf/acc": "fraction"}, "warn_at": 0.4, "scope": "per_model",
            "subject": subject, "from": "inactive", "to": to, "verdict": "breached",
            "value": 0.8, "confirmations": 1, "reason": "0.8 ± 0.02: lower 0.9 bound 0.77 >= 0.5",
            "evidence": [{"observation": seq, "feed": "lab", "model": subject, "benchmark": "ctf",
                          "metric": "acc", "value": 0.8, "stderr": 0.02, "n": 300,
                          "observed_at": at, "source": f"https://evals.example.org/{subject}.json",
                          "content_hash": "cd" * 32}],
        },
        sort_keys=True,
        separators=(",", ":"),
    )  # fmt: skip


def fill(warden: Warden, count: int) -> None:
    fmt = UTCDateTime.SQLITE_FORMAT
    sql = (
        "INSERT INTO triggers (seq, at, threshold, threshold_version, subject, from_state, "
        "to_state, content, prev_hash, hash, kind) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    )
    for first in range(1, count + 1, BATCH):
        rows = []
        for seq in range(first, min(first + BATCH, count + 1)):
            moment = T0 + timedelta(seconds=30 * seq)
            at = moment.strftime(fmt)
            threshold, subject = f"perf.t{seq % 40:02d}.high", f"model-{seq % 500}"
            to = STATES[(seq // 40) % len(STATES)]
            digest = hashlib.sha256(str(seq).encode()).hexdigest()
            prev = hashlib.sha256(str(seq - 1).encode()).hexdigest()
            body = content(seq, moment.isoformat(), threshold, subject, to)
            rows.append((seq, at, threshold, "v" * 64, subject, "inactive", to, body, prev,
                         digest, "transition"))  # fmt: skip
        with warden.store.write() as conn:
            conn.exec_driver_sql(sql, rows)
    with warden.store.write() as conn:
        conn.exec_driver_sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warden-perf-ui-") as tmp:
        digest = hashlib.sha256(TOKEN.encode()).hexdigest()
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'w.db'}",
            http={"tokens": [TokenSettings(name="perf", role="read", sha256=digest)]},
        )
        warden = Warden(settings)
        started = time.perf_counter()
        fill(warden, args.entries)
        say(f"{args.entries} trigger-log rows inserted in {time.perf_counter() - started:.1f} s")
        app = Timed(create_app(warden))
        server, url = serve(app)
        deep = 1000 + 50
        cases = {
            "first page": ("", reads.TriggerFilter(), None),
            "deep page": (f"cursor={deep}", reads.TriggerFilter(), deep),
            "filtered deep page": (
                f"threshold=perf.t07.high&state=firing&cursor={deep + 200_000}",
                reads.TriggerFilter(threshold="perf.t07.high", state="firing"),
                deep + 200_000,
            ),
        }
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        results = {}
        for name, (query, where, cursor) in cases.items():
            app.times.clear()
            for _ in range(args.requests):
                r = session.get(f"{url}/ui/triggers?{query}", timeout=30)
                assert r.status_code == 200 and r.text.count('data-label="#"') == 50, r.text[:300]
            served = p50_ms(app.times[5:])
            raw = []
            statement = reads.trigger_page_sql(where, cursor, 50)
            for _ in range(args.requests):
                with warden.store.read() as conn:
                    t = time.perf_counter()
                    rows = conn.execute(statement).all()
                    raw.append(time.perf_counter() - t)
                assert len(rows) == 51
            results[name] = (served, p50_ms(raw[5:]))
            say(f"{name}: p50 {served:.2f} ms served, raw SQL {results[name][1]:.3f} ms")
        server.should_exit = True
        warden.close()
    worst = max(s for s, _ in results.values())
    emit(
        "ui_trigger_log_page_ms",
        worst,
        "ms",
        "p50 < 50 ms",
        worst < 50,
        entries=args.entries,
        pages={
            k: {"served_p50_ms": round(s, 3), "raw_sql_p50_ms": round(b, 3)}
            for k, (s, b) in results.items()
        },
    )


if __name__ == "__main__":
    main()

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

import hashlib
import json
import sys
from datetime import timedelta
from pathlib import Path

from warden.app.daemon import Warden
from warden.store.schema import UTCDateTime

sys.path.insert(0, str(Path(__file__).parent))
from api import STATES, T0, run

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
    run(
        "ui_trigger_log_page_ms",
        "/ui/triggers",
        "",
        lambda r: r.text.count('data-label="#"') == 50,
        fill,
    )


if __name__ == "__main__":
    main()

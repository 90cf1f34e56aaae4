"""The read API at size: `GET /api/v1/triggers` over a trigger log of 1,000,000 entries.

    .venv/bin/python perf/api.py [--entries 1000000] [--requests 200]

- `api_triggers_page_ms`: p50 server time (from the request's arrival in the ASGI app to its
  last body byte) of `GET /api/v1/triggers` pages of 50 under uvicorn on loopback, authenticated
  with a read token: the first page, a page deep in the log (a cursor near seq 1,000), and a
  filtered deep page (threshold and state). Same-run baseline: the raw indexed SQL query the
  endpoint runs (`warden.store.reads.trigger_page_sql`), executed alone in a read transaction.
  Target: p50 < 50 ms.

The log's rows are bulk-inserted with one executemany (the indexes of schema.py in place); the
hash chain is not valid (reads do not check it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import uvicorn

from warden.app.daemon import Warden
from warden.app.settings import Settings, TokenSettings
from warden.interfaces.api.app import create_app
from warden.store import reads
from warden.store.schema import UTCDateTime

sys.path.insert(0, str(Path(__file__).parent))
from harness import emit, say

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TOKEN = "perf-read-token-0123456789"
STATES = ("pending", "firing", "warning", "resolved", "nodata")
Scope = MutableMapping[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


def fill(warden: Warden, count: int) -> None:
    """`count` trigger-log rows in one executemany (SQLite's driver, no per-row processing)."""
    fmt = UTCDateTime.SQLITE_FORMAT
    rows = []
    for seq in range(1, count + 1):
        at = (T0 + timedelta(seconds=30 * seq)).strftime(fmt)
        threshold, subject = f"perf.t{seq % 40:02d}.high", f"model-{seq % 500}"
        to = STATES[(seq // 40) % len(STATES)]
        body = {"seq": seq, "threshold": threshold, "subject": subject, "to": to,
                "verdict": "breached", "value": 0.5, "reason": "perf"}  # fmt: skip
        digest = hashlib.sha256(str(seq).encode()).hexdigest()
        prev = hashlib.sha256(str(seq - 1).encode()).hexdigest()
        rows.append((seq, at, threshold, "v" * 64, subject, "inactive", to, json.dumps(body),
                     prev, digest, "transition"))  # fmt: skip
    sql = (
        "INSERT INTO triggers (seq, at, threshold, threshold_version, subject, from_state, "
        "to_state, content, prev_hash, hash, kind) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    )
    with warden.store.write() as conn:
        conn.exec_driver_sql(sql, rows)
    with warden.store.write() as conn:
        conn.exec_driver_sql("ANALYZE")


class Timed:
    """ASGI wrapper noting each request's server time (seconds)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        started = time.perf_counter()

        async def timed_send(message: MutableMapping[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


def serve(app: Timed) -> tuple[uvicorn.Server, str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def p50_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def run(
    figure: str,
    path: str,
    query: str,
    check: Callable[[requests.Response], bool],
    filled: Callable[[Warden, int], None],
) -> None:
    """Time `path` (with `query` before the cases' own parameters) over a log `filled` with
    --entries rows: each case's p50 served beside its raw indexed SQL query; `check` that a
    response is a full page of 50. Emits `figure`: the worst p50 served."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warden-perf-pages-") as tmp:
        digest = hashlib.sha256(TOKEN.encode()).hexdigest()
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'w.db'}",
            http={"tokens": [TokenSettings(name="perf", role="read", sha256=digest)]},
        )
        warden = Warden(settings)
        started = time.perf_counter()
        filled(warden, args.entries)
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
        for name, (case, where, cursor) in cases.items():
            app.times.clear()
            for _ in range(args.requests):
                r = session.get(f"{url}{path}?{query}{case}", timeout=30)
                assert r.status_code == 200 and check(r), r.text[:300]
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
        figure,
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


def main() -> None:
    run(
        "api_triggers_page_ms",
        "/api/v1/triggers",
        "limit=50&",
        lambda r: len(r.json()["items"]) == 50,
        fill,
    )


if __name__ == "__main__":
    main()

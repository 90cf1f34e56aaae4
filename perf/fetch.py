"""The cost of polling an unchanged URL feed: one conditional GET answered 304, nothing parsed.

    .venv/bin/python perf/fetch.py [ROUNDS]

A loopback server serves a ~1 MB JSON document (warden's observation schema) with an ETag and
answers a matching If-None-Match with 304. After one full fetch through
`connectors.source.payloads` (the cursor then holds the ETag, as ingest leaves it), each round
polls the unchanged URL the way a feed run does (a fresh client per poll, so a new connection),
interleaved with the baseline: a bare `requests.get` with the same If-None-Match to the same
server (also a new connection each time). Target: median poll < 20 ms.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests
from harness import emit, loopback, ms, say

from connectors.files import read_all
from connectors.source import payloads
from warden.core.model import Payload
from warden.ingest.connector import Cursor

ETAG = '"perf-v1"'
TARGET_MS = 20.0


def document(target_bytes: int = 2**20) -> bytes:
    """About `target_bytes` of observations in warden's own JSON schema."""
    rows, i = [], 0
    while True:
        rows.append(
            {
                "model": f"perf/model-{i:05d}",
                "benchmark": f"bench-{i % 50:02d}",
                "metric": "accuracy",
                "value": (i % 997) / 997,
                "stderr": 0.01,
                "n": 200,
                "observed_at": "2026-11-01T00:00:00+00:00",
            }
        )
        i += 1
        if i % 1000 == 0 and len(json.dumps(rows)) >= target_bytes:
            return json.dumps(rows).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:
        if self.headers.get("If-None-Match") == ETAG:
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", ETAG)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serving(body: bytes) -> Iterator[str]:
    """A loopback server answering every path with `body`; yields its URL for `feed.json`."""
    with loopback(type("Handler", (_Handler,), {"body": body})) as url:
        yield f"{url}/feed.json"


def unchanged_poll(rounds: int = 200) -> dict[str, float]:
    """Median and p95 ms of polling an unchanged ~1 MB URL feed (304), beside a bare
    conditional `requests.get` to the same server."""
    body = document()
    with serving(body) as url:
        cursor, reader = Cursor(), read_all(64 * 2**20)

        def poll() -> list[object]:
            return list(payloads(url, (".json",), cursor, reader, "observation files"))

        t0 = time.perf_counter()
        (first,) = poll()
        full = time.perf_counter() - t0
        assert isinstance(first, Payload) and first.content == body and first.version
        cursor.versions[first.source] = first.version  # what ingest does once it is stored

        polls: list[float] = []
        bare: list[float] = []
        for _ in range(rounds):  # interleaved, so machine load hits both alike
            t0 = time.perf_counter()
            assert poll() == []
            polls.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            response = requests.get(url, headers={"If-None-Match": ETAG}, timeout=10)
            bare.append(time.perf_counter() - t0)
            assert response.status_code == 304
    return {
        "unchanged_poll_median_ms": ms(polls, 50),
        "unchanged_poll_p95_ms": ms(polls, 95),
        "bare_get_304_median_ms": ms(bare, 50),
        "bare_get_304_p95_ms": ms(bare, 95),
        "full_fetch_ms": round(full * 1000, 2),
        "document_bytes": float(len(body)),
        "rounds": float(rounds),
    }


def figure(rounds: int = 200) -> None:
    """The figure `unchanged_poll_ms`, emitted as perf/run.py's figures are."""
    say(f"polling an unchanged ~1 MB URL feed {rounds} times (304), interleaved with bare GETs")
    f = unchanged_poll(rounds)
    value, bare = f["unchanged_poll_median_ms"], f["bare_get_304_median_ms"]
    emit(
        "unchanged_poll_ms", value, "ms", f"median < {TARGET_MS:g} ms", value < TARGET_MS,
        baseline={"bare_get_304_median_ms": bare, "bare_get_304_p95_ms": f["bare_get_304_p95_ms"]},
        ratio_to_bare_get_304=round(value / bare, 2), p95_ms=f["unchanged_poll_p95_ms"],
        full_fetch_ms=f["full_fetch_ms"], document_bytes=int(f["document_bytes"]),
        rounds=int(f["rounds"]),
    )  # fmt: skip


if __name__ == "__main__":
    figure(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

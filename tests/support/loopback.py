"""A loopback HTTP server whose answers each test scripts, for warden.ingest.http's tests
(tests/ingest/test_http.py, tests/ingest/test_http_content.py): the `loopback` and `client`
fixtures (a
pytest plugin, tests/conftest.py), scripts (`reply`, `in_turn`, `drip`, `reset`, `raw`) and fast
fetch limits (`FAST`)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.connectors.conftest import clock
from warden.ingest.http import FetchError, FetchLimits, HttpClient

# Milliseconds, so retries cost nothing; timeouts well under a second.
FAST = FetchLimits(
    connect_timeout=0.5,
    read_timeout=0.3,
    deadline=2.0,
    retries=2,
    backoff_base=0.001,
    backoff_max=0.004,
    retry_after_max=10,
)


# -- the loopback server -------------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    client_port: int


class Handler(BaseHTTPRequestHandler):
    """Answers each GET with the script its Loopback routes the path to (404 if none)."""

    protocol_version = "HTTP/1.1"
    loopback: Loopback

    @property
    def stop(self) -> threading.Event:
        """Set when the test ends: long-running scripts return."""
        return self.loopback.stop

    def do_GET(self) -> None:
        with self.loopback.lock:
            self.loopback.seen.append(Seen(self.path, dict(self.headers), self.client_address[1]))
        script = self.loopback.routes.get(urlsplit(self.path).path, reply(404, b"no such"))
        try:
            script(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up: that is the test

    def log_message(self, *args: Any) -> None:
        return


Script = Callable[[Handler], None]


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # resets and aborted reads are what these tests provoke


class Loopback:
    """A threaded HTTP/1.1 server on 127.0.0.1; `routes` maps a path to the script answering it.
    `seen` lists every request; `sleeps` what a client made with `client_for` waited."""

    def __init__(self) -> None:
        self.routes: dict[str, Script] = {}
        self.seen: list[Seen] = []
        self.sleeps: list[float] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        handler = type("BoundHandler", (Handler,), {"loopback": self})
        self.server = Server(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if urlsplit(s.path).path == path]


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    thread = threading.Thread(target=server.server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.server.shutdown()
        server.server.server_close()


def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Script:
    def script(h: Handler) -> None:
        h.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(body)

    return script


def in_turn(*scripts: Script) -> Script:
    """Each request gets the next script; the last one answers the rest."""
    queue = list(scripts)

    def script(h: Handler) -> None:
        (queue.pop(0) if len(queue) > 1 else queue[0])(h)

    return script


def drip(length: int, every: float, stall_after: int | None = None) -> Script:
    """Headers announcing `length` bytes, then one byte every `every` seconds (or, with
    `stall_after`, that many bytes and then nothing), until the client goes away."""

    def script(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        for i in range(length):
            if stall_after is not None and i >= stall_after:
                h.stop.wait(3)
                return
            h.wfile.write(b"x")
            h.wfile.flush()
            if h.stop.wait(every):
                return

    return script


def reset(after_headers: bool = False) -> Script:
    """Abort the connection with a TCP reset, before the response or in the middle of its body."""

    def script(h: Handler) -> None:
        if after_headers:
            h.send_response(200)
            h.send_header("Content-Length", "100000")
            h.end_headers()
            h.wfile.write(b"x" * 1000)
            h.wfile.flush()
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    return script


def raw(data: bytes) -> Script:
    """Bytes written as they are after the status line's headers (for chunked bodies and lies)."""

    def script(h: Handler) -> None:
        h.wfile.write(data)
        h.close_connection = True

    return script


@pytest.fixture
def client(loopback: Loopback) -> Iterator[HttpClient]:
    with HttpClient(FAST, sleep=loopback.sleeps.append, clock=clock) as c:
        yield c


def failure(client: HttpClient, url: str, **headers: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        client.get(url, headers)
    return caught.value

"""A loopback HTTP service standing in for Slack, PagerDuty or an Alertmanager instance: it
records every request, checks each body with the service's schema (a failing check is answered
400 with the problem, as the real service would), and answers from a script of replies."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A schema check: the parsed JSON body -> the problems found (empty when valid).
Check = Callable[[Any], list[str]]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a hanging service)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Stub:
    def __init__(self, check: Check | None = None, ok: Reply | None = None) -> None:
        self.check = check
        self.ok = ok or Reply()
        self.replies: list[Reply] = []  # answered in order, then `ok`
        self.requests: list[Request] = []
        self.problems: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request(self.path, dict(self.headers), body)
                with stub._lock:
                    stub.requests.append(request)
                    reply = stub.replies.pop(0) if stub.replies else stub.ok
                    problems = stub._validate(request)
                    stub.problems.extend(problems)
                if problems and reply.status < 300:
                    reply = Reply(400, "; ".join(problems))
                time.sleep(reply.delay)
                data = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, *args: Any) -> None:
                return

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _validate(self, request: Request) -> list[str]:
        if self.check is None:
            return []
        try:
            body = request.json()
        except ValueError as exc:
            return [f"body is not JSON: {exc}"]
        return self.check(body)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.json() for r in self.requests]


@contextmanager
def serve(check: Check | None = None, ok: Reply | None = None) -> Iterator[Stub]:
    stub = Stub(check, ok)
    thread = threading.Thread(target=stub.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.server.shutdown()
        stub.server.server_close()

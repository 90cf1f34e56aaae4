"""A webhook receiver for the compose demo: writes each POST as one JSON line on stdout.

`docker compose logs alert-sink` then shows what warden's webhook sink and Alertmanager's
receivers sent, with the path (one per Alertmanager receiver) saying which route it took.
Standard library only, so it runs on the plain Python image. Not for production.

Usage: `python alert_sink.py [PORT [HOST]]` (default 8080 on every interface).
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO


class AlertSink(ThreadingHTTPServer):
    """A threaded HTTP server that writes one JSON line per POST to `out`.

    Each request runs in a thread of its own, and `print` from threads is not atomic (the text
    and its newline are two writes), so concurrent POSTs would interleave their lines: each line
    is written whole, with one write and one flush, under a lock.
    """

    # Alertmanager posts to several receivers at once, warden's webhook sink too: the default
    # listen backlog (5) makes the kernel reset the connections beyond it.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], out: TextIO = sys.stdout) -> None:
        super().__init__(address, Handler)
        self.out = out
        self._lock = threading.Lock()

    def emit(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock:
            self.out.write(line)
            self.out.flush()


class Handler(BaseHTTPRequestHandler):
    server: AlertSink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            content: Any = json.loads(body)
        except ValueError:
            content = body.decode("utf-8", "replace")
        # Written before the answer: a sender that got 200 finds its line in the output.
        self.server.emit({"path": self.path, "body": content})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    host = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
    AlertSink((host, port)).serve_forever()

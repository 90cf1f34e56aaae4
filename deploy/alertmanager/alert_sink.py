"""A webhook receiver for the compose demo: prints each POST as one JSON line on stdout.

`docker compose logs alert-sink` then shows what warden's webhook sink and Alertmanager's
receivers sent, with the path (one per Alertmanager receiver) saying which route it took.
Standard library only, so it runs on the plain Python image. Not for production.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            content: Any = json.loads(body)
        except ValueError:
            content = body.decode("utf-8", "replace")
        print(json.dumps({"path": self.path, "body": content}, sort_keys=True), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()

"""The parts of the performance script that run warden: a catalog on the perf data, the daemon
as a subprocess on loopback, and a webhook receiver that notes when each alert arrives."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml

from warden.core.model import Observation
from warden.store import Store

WARDEN = Path(sys.executable).with_name("warden")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
TOKEN = "perf-token"
BENCHMARKS = 50  # benchmarks of the insert, cycle and rss figures
T = TypeVar("T")


def say(message: str) -> None:
    print(f"perf: {message}", file=sys.stderr, flush=True)


def emit(figure: str, value: float, unit: str, target: str, met: bool, **details: Any) -> None:
    """One figure as a JSON line on stdout: its value, baseline(s) and details, target, met."""
    database = "sqlite" if DATABASE is None else "postgresql"
    record = {"figure": figure, "value": round(value, 4), "unit": unit, "database": database}
    record |= details
    print(json.dumps(record | {"target": target, "met": met}), flush=True)


def threshold_doc(tid: str, benchmark: str, value: float, warn_at: float) -> dict[str, Any]:
    return {
        "id": tid, "title": f"perf threshold {tid}", "domain": "perf", "level": "high",
        "sources": [{"title": "warden perf", "url": "https://example.org/perf"}],
        "when": {"benchmark": benchmark, "metric": "accuracy", "op": ">=", "value": value},
        "warn_at": warn_at, "then": {"severity": "critical"},
    }  # fmt: skip


def grid_thresholds(benchmarks: int) -> list[dict[str, Any]]:
    """Two per-model thresholds (high and critical) on each of the first `benchmarks`."""
    return [
        threshold_doc(f"perf.bench{b:02d}.{level}", f"bench-{b:02d}", value, warn)
        for b in range(benchmarks)
        for level, value, warn in (("high", 0.9, 0.8), ("critical", 0.95, 0.9))
    ]


class Receiver(ThreadingHTTPServer):
    """A loopback webhook receiver noting when each subject's first alert arrives."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Hook)
        self.arrivals: dict[str, float] = {}
        self.changed = threading.Condition()

    @property
    def hook(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hook"

    def wait_for(self, subject: str, timeout: float) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: subject in self.arrivals, timeout):
                raise TimeoutError(f"no alert for {subject!r} within {timeout} s")
            return self.arrivals[subject]

    def wait_count(self, n: int, timeout: float) -> int:
        """Wait until alerts for `n` distinct subjects have arrived; returns how many have."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.arrivals) >= n, timeout)
            return len(self.arrivals)


class Hook(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver: warden's sinks keep sessions

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        arrived = time.perf_counter()
        self.send_response(204)
        self.end_headers()
        if self.path == "/hook":
            with self.server.changed:
                self.server.arrivals.setdefault(json.loads(body)["trigger"]["subject"], arrived)
                self.server.changed.notify_all()

    def log_message(self, format: str, *args: Any) -> None:
        return


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_mb(status: str) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS), in MB, from a /proc/PID/status text."""
    fields = dict(line.split(":", 1) for line in status.splitlines())
    return {k: round(int(fields[k].split()[0]) / 1024, 1) for k in ("VmRSS", "VmHWM")}


def webhook(sink_id: str, url: str, **options: Any) -> dict[str, Any]:
    """A webhook sink's entry in the config."""
    return {"id": sink_id, "type": "webhook", "options": {"url": url, **options}}


def write_config(
    tmp: Path, port: int, sinks: list[dict[str, Any]], extra: dict[str, Any] | None = None
) -> Path:
    """A catalog (a threshold for the latency trials, ten on the bulk data) and a config with
    `sinks` and any `extra` settings."""
    benchmarks = [
        {"id": b, "title": "perf"} for b in ["latency", *(f"bench-{b:02d}" for b in range(50))]
    ]
    thresholds = [threshold_doc("perf.latency.high", "latency", 0.5, 0.3), *grid_thresholds(5)]
    (tmp / "catalog.yaml").write_text(
        yaml.safe_dump({"benchmarks": benchmarks, "thresholds": thresholds})
    )
    config = {
        "database_url": store_url(tmp / "daemon.db"), "catalog": [str(tmp / "catalog.yaml")],
        "http": {"host": "127.0.0.1", "port": port}, "api_token": TOKEN, "evaluate_every": 3600,
        "log_format": "json", "sinks": sinks, **(extra or {}),
    }  # fmt: skip
    (tmp / "warden.yaml").write_text(yaml.safe_dump(config))
    return tmp / "warden.yaml"


@contextlib.contextmanager
def daemon(
    tmp: Path,
    receiver: Receiver | None = None,
    sinks: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`warden run` on SQLite in `tmp` (its database, config and log go there) with `sinks`, by
    default one webhook sink `h` at `receiver`; yields (process, base URL)."""
    if sinks is None:
        assert receiver is not None, "give a receiver or the sinks"
        sinks = [webhook("h", receiver.hook)]
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [str(WARDEN), "run", "--config", str(write_config(tmp, port, sinks, extra))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    base, log = f"http://127.0.0.1:{port}", tmp / "daemon.log"

    def ready() -> bool:
        with contextlib.suppress(requests.ConnectionError):
            return requests.get(f"{base}/readyz", timeout=1).status_code == 200
        return False

    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"warden run did not become ready:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield proc, base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            say(f"daemon stopped with exit code {proc.wait(30)}")
        except subprocess.TimeoutExpired:
            proc.kill()
            say(f"daemon did not stop within 30 s of SIGTERM; killed ({proc.wait()})")


@contextlib.contextmanager
def loopback(handler: Any) -> Iterator[str]:
    """A ThreadingHTTPServer on a free loopback port with `handler`; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# -- measuring -------------------------------------------------------------------------------
def timed(func: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = func()
    return time.perf_counter() - t0, out


def best(repeats: int, measure: Callable[[int], float]) -> float:
    return min(measure(k) for k in range(repeats))


# The store the figures run on: None for SQLite files in the run's folder; a PostgreSQL URL
# (`perf/run.py --database postgresql://...`) for a fresh schema of that database per store.
DATABASE: str | None = None
_SCHEMAS: list[str] = []


def store_url(path: Path) -> str:
    """A fresh, empty store's URL: the SQLite file `path`, or a new schema on DATABASE."""
    if DATABASE is None:
        return f"sqlite:///{path}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(DATABASE)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    schema = f"perf_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    _SCHEMAS.append(schema)
    with_schema = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return with_schema.render_as_string(hide_password=False)


def drop_schemas() -> None:
    """Drop the schemas this run made on DATABASE."""
    if DATABASE is None or not _SCHEMAS:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(DATABASE)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as conn:
        for schema in _SCHEMAS:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()
    _SCHEMAS.clear()


def fresh_store(path: Path) -> Store:
    store = Store(store_url(path))
    store.upgrade()
    return store


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def observation(model: str, benchmark: str, value: float, at: datetime, **kw: Any) -> Observation:
    key = hashlib.sha256(f"{model}/{benchmark}/{at.isoformat()}".encode()).hexdigest()
    return Observation(model, benchmark, "accuracy", value, at, key, "perf://", "0" * 64, **kw)


def ms(values: Sequence[float], q: int) -> float:
    """The q-th percentile of `values` (seconds), in milliseconds."""
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000, 2)

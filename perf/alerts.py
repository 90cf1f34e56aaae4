"""Alert delivery figures: the dispatcher's throughput, and a healthy sink's latency while another
sink hangs.

`dispatch`: `alerts` outbox rows made by warden's own cycle (`run_cycle` over one
per-model threshold and one observation over it for each of `alerts` models: as many transitions
into `firing`, each a trigger-log entry with its outbox row for the webhook sink `h`), then
delivered by warden's `Dispatcher` (started with its workers, as the daemon runs it) through the
real webhook sink to a loopback `ThreadingHTTPServer` receiver. The figure is alerts delivered a
second, from `start()` until `stop()` returns after the receiver has every alert (each delivery
also records its attempt and appends a `delivery delivered` entry to the trigger log). The limit,
measured in the same run: a bare `requests.Session` loop POSTing the same payloads (the same
bodies and headers, built beforehand) to the same receiver. Target: >= 300 alerts/s.

`stuck`: `warden run` as a subprocess (SQLite) with two webhook sinks, listed in this order:
`stuck`, whose receiver reads each request and never answers (warden gives up after the sink's
`timeout_seconds`, HANG_TIMEOUT, and retries with backoff), and `h`, a healthy receiver. Each
trial pushes an observation for a new model over the threshold and times until `h` has the
alert; trials are GAP seconds apart, so the stuck phase spans several of the stuck sink's
timeouts and retries. First a control phase with the `stuck` receiver answering at once (the
baseline), then as many trials with it hanging. Target: p50 < 100 ms (a stuck sink never delays
the others). A trial whose alert has not reached `h` within WAIT seconds counts as WAIT (a lower
bound) and is counted in `timed_out`; `healthy_sink_delayed` says whether the p50 is of the order
of the stuck sink's timeout (deliveries serialised behind it).

    .venv/bin/python perf/alerts.py [--alerts 10000] [--repeats 1] [--trials 50] [--only NAME]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from harness import NOW, TOKEN, Receiver, daemon, emit, ms, say, store_url, threshold_doc, webhook
from sqlalchemy import func, select

from warden import __version__
from warden.alerting.cycle import run_cycle
from warden.alerting.routing import Router, RouteSettings
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.clock import system_clock
from warden.core.model import Observation
from warden.core.notification import Notification
from warden.delivery.dispatch import Dispatcher
from warden.delivery.settings import DispatchSettings
from warden.delivery.sinks.webhook import WebhookSink
from warden.store import Store
from warden.store.observations import insert_observations
from warden.store.schema import outbox, triggers

TARGET_RATE = 300.0  # alerts/s
TARGET_P50_MS = 100.0
HANG_TIMEOUT = 2.0  # the stuck sink's timeout_seconds (the webhook default is 10)
WAIT = 60.0  # seconds a stuck-phase trial waits for its alert before counting as WAIT
GAP = 0.25  # seconds between trials: the stuck phase spans several of the stuck sink's timeouts


# -- dispatch throughput ------------------------------------------------------------------------
def make_outbox(path: Path, alerts: int) -> Store:
    """A fresh store whose outbox holds `alerts` rows for sink `h`, made by warden's own cycle."""
    store = Store(store_url(path))
    store.upgrade()
    doc = threshold_doc("perf.dispatch.high", "dispatch", 0.5, 0.3)
    catalog = Catalog((Threshold.model_validate(doc),))
    at = NOW - timedelta(days=1)
    rows = []
    for m in range(alerts):
        model = f"dispatch-model-{m:05d}"
        key = hashlib.sha256(model.encode()).hexdigest()
        rows.append(Observation(model, "dispatch", "accuracy", 0.9, at, key, "perf://", "0" * 64))
    with store.write() as conn:
        insert_observations(conn, "perf", rows, system_clock())
    # One notification per alert, as the figure has always measured (a route groups by the
    # subject, and sends this history as news): the dispatcher's own throughput, not grouping's.
    route = RouteSettings(sinks=["h"], group_by=["subject"], history="each")
    result = run_cycle(store, catalog, Router([route], ["h"]), system_clock)
    firing = sum(1 for _, t in result.transitions if t.to_state.value == "firing")
    assert firing == alerts and not result.failed, (firing, result.failed)
    return store


def outbox_status(store: Store) -> dict[str, int]:
    with store.read() as conn:
        q = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        return {status: int(n) for status, n in conn.execute(q)}


def payloads(store: Store) -> list[tuple[bytes, dict[str, str]]]:
    """The bodies and headers warden's webhook sink sends for the outbox rows, in order."""
    q = (
        select(
            outbox.c.idempotency_key,
            outbox.c.sink,
            outbox.c.trigger_seq,
            triggers.c.hash,
            triggers.c.content,
        )
        .join(triggers, triggers.c.seq == outbox.c.trigger_seq)
        .order_by(outbox.c.id)
    )
    out = []
    with store.read() as conn:
        for key, sink, seq, digest, content in conn.execute(q):
            body = Notification(key, sink, seq, digest, json.loads(content)).body()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"warden/{__version__}",
                "Idempotency-Key": key,
            }
            out.append((body, headers))
    return out


def bare_posts(url: str, items: Sequence[tuple[bytes, dict[str, str]]]) -> float:
    """The limit: a plain requests.Session loop POSTing each payload; returns the seconds."""
    with requests.Session() as http:
        t0 = time.perf_counter()
        for body, headers in items:
            r = http.post(url, data=body, headers=headers, timeout=10, allow_redirects=False)
            r.raise_for_status()
        return time.perf_counter() - t0


def dispatch_figure(alerts: int, repeats: int, tmp: Path) -> None:
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    warden_seconds: list[float] = []
    bare_seconds: list[float] = []
    try:
        for k in range(repeats):
            say(f"dispatch pass {k + 1}: {alerts} transitions into firing with run_cycle")
            store = make_outbox(tmp / f"dispatch-{k}.db", alerts)
            sink = WebhookSink("h", {"url": receiver.hook})
            dispatcher = Dispatcher(store, {"h": sink}, DispatchSettings(), system_clock)
            receiver.arrivals.clear()
            t0 = time.perf_counter()
            dispatcher.start()  # its workers, as the daemon runs them
            dispatcher.wake()
            assert receiver.wait_count(alerts, 600) == alerts
            dispatcher.stop()  # returns once the last delivery is recorded
            warden_seconds.append(time.perf_counter() - t0)
            status = outbox_status(store)
            assert status == {"delivered": alerts}, status
            items = payloads(store)
            store.dispose()
            receiver.arrivals.clear()
            bare_seconds.append(bare_posts(receiver.hook, items))
            assert receiver.wait_count(alerts, 10) == alerts
            say(
                f"dispatched {alerts} in {warden_seconds[-1]:.1f} s; "
                f"bare requests loop {bare_seconds[-1]:.1f} s"
            )
    finally:
        receiver.shutdown()
        receiver.server_close()
    rate, bare = alerts / min(warden_seconds), alerts / min(bare_seconds)
    emit(
        "dispatch_alerts_per_second", rate, "alerts/s",
        f">= {TARGET_RATE:.0f} alerts/s", rate >= TARGET_RATE,
        baseline={"bare_requests_posts_per_second": round(bare)},
        ratio_to_bare_requests=round(rate / bare, 3), alerts=alerts, passes=repeats,
        outbox_rows_made_by="warden.alerting.cycle.run_cycle (transitions into firing)",
        sink="webhook (warden.delivery.sinks.webhook), loopback ThreadingHTTPServer",
    )  # fmt: skip


# -- a healthy sink's latency while another hangs -----------------------------------------------
class Hanging(ThreadingHTTPServer):
    """A webhook receiver that, while `hang` is set, reads each request and never answers (until
    `release`); otherwise it answers 204 at once."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HangingHook)
        self.hang = threading.Event()
        self.released = threading.Event()
        self.requests = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hook"


class HangingHook(BaseHTTPRequestHandler):
    server: Hanging

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.requests += 1
        if self.server.hang.is_set():
            self.server.released.wait(600)
        with contextlib.suppress(OSError):  # warden may have given up on this request
            self.send_response(204)
            self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def trials(
    n: int,
    tag: str,
    receiver: Receiver,
    base: str,
    http: requests.Session,
    wait: float,
    gap: float = 0.0,
) -> tuple[list[float], int]:
    """`n` alert-latency trials (push a new model over the threshold, time until the healthy
    receiver has its alert), `gap` seconds apart; returns the latencies (seconds) and how many
    timed out."""
    latencies: list[float] = []
    timed_out = 0
    for i in range(n):
        time.sleep(gap)
        subject = f"{tag}-model-{i:03d}"
        body = [
            {"model": subject, "benchmark": "latency", "metric": "accuracy", "value": 0.9,
             "observed_at": NOW.isoformat()}
        ]  # fmt: skip
        t0 = time.perf_counter()
        http.post(f"{base}/api/v1/observations", json=body, timeout=30).raise_for_status()
        try:
            latencies.append(receiver.wait_for(subject, wait) - t0)
        except TimeoutError:
            latencies.append(wait)
            timed_out += 1
    return latencies, timed_out


def stuck_figure(n: int, tmp: Path) -> None:
    healthy, hanging = Receiver(), Hanging()
    for server in (healthy, hanging):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sinks = [
        webhook("stuck", hanging.url, timeout_seconds=HANG_TIMEOUT),
        webhook("h", healthy.hook),
    ]
    try:
        with daemon(tmp, sinks=sinks) as (_, base), requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {TOKEN}"
            time.sleep(0.5)  # let the scheduler and dispatcher settle
            trials(1, "warmup", healthy, base, http, 30)
            say(f"stuck: {n} control trials {GAP} s apart, both receivers answering")
            control, _ = trials(n, "control", healthy, base, http, 30, GAP)
            hanging.hang.set()
            before = hanging.requests
            say(f"stuck: {n} trials {GAP} s apart, sink 'stuck' hanging ({HANG_TIMEOUT} s timeout)")
            t0 = time.perf_counter()
            latencies, timed_out = trials(n, "stuck", healthy, base, http, WAIT, GAP)
            phase, hung = time.perf_counter() - t0, hanging.requests - before
            hanging.released.set()  # let the daemon's pending deliveries finish before it stops
    finally:
        hanging.released.set()
        for server in (healthy, hanging):
            server.shutdown()
            server.server_close()
    p50, control_p50 = ms(latencies, 50), ms(control, 50)
    emit(
        "stuck_sink_alert_latency_ms", p50, "ms",
        f"p50 < {TARGET_P50_MS:.0f} ms on the healthy sink while another hangs",
        p50 < TARGET_P50_MS,
        baseline={"control_p50_ms": control_p50, "control_p95_ms": ms(control, 95)},
        ratio_to_control=round(p50 / max(control_p50, 1e-3), 2),
        p50_ms=p50, p95_ms=ms(latencies, 95), max_ms=round(max(latencies) * 1000, 2),
        trials=len(latencies), timed_out=timed_out, wait_seconds=WAIT, trial_gap_seconds=GAP,
        stuck_phase_seconds=round(phase, 1), stuck_sink_timeout_seconds=HANG_TIMEOUT,
        stuck_sink_requests_left_hanging=hung, sink_order=["stuck", "h"],
        healthy_sink_delayed=p50 >= HANG_TIMEOUT * 1000 / 2,
    )  # fmt: skip


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--only", choices=("dispatch", "stuck"), action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warden-perf-alerts-") as tmp:
        if not args.only or "dispatch" in args.only:
            dispatch_figure(args.alerts, args.repeats, Path(tmp))
        if not args.only or "stuck" in args.only:
            stuck_figure(args.trials, Path(tmp) / "stuck")


if __name__ == "__main__":
    main()

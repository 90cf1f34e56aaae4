"""The daemon: `warden run` as a subprocess with a webhook sink to a loopback receiver. Alert
latency (a pushed observation over a threshold until the receiver has the alert) and the
daemon's RSS after 500,000 pushed observations (perf/README.md, figures `latency` and
`rss`)."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from harness import (
    BENCHMARKS,
    NOW,
    TOKEN,
    Receiver,
    chunks,
    daemon,
    emit,
    memory_mb,
    ms,
    say,
    timed,
)


def pushed(model: str, benchmark: str, value: float, at: datetime) -> dict[str, Any]:
    """One observation as the push API takes it."""
    obs = {"model": model, "benchmark": benchmark, "metric": "accuracy", "value": value}
    return obs | {"observed_at": at.isoformat()}


def fig_latency(trials: int, receiver: Receiver, base: str, http: requests.Session) -> None:
    latencies: list[float] = []
    for i in range(trials + 1):  # trial 0 warms up
        subject = f"latency-model-{i:03d}"
        t0 = time.perf_counter()
        body = [pushed(subject, "latency", 0.9, NOW)]
        http.post(f"{base}/api/v1/observations", json=body, timeout=30).raise_for_status()
        if i:
            latencies.append(receiver.wait_for(subject, 30) - t0)
    health = [timed(lambda: http.get(f"{base}/healthz", timeout=10))[0] for _ in latencies]
    direct_url = f"http://127.0.0.1:{receiver.server_port}/direct"
    direct = [
        timed(lambda: requests.post(direct_url, data=b"{}", timeout=10))[0] for _ in latencies
    ]
    p50 = ms(latencies, 50)
    emit(
        "alert_latency_ms", p50, "ms", "p50 < 100 ms", p50 < 100,
        baseline={"healthz_keepalive_p50_ms": ms(health, 50), "direct_post_p50_ms": ms(direct, 50)},
        p50_ms=p50, p95_ms=ms(latencies, 95), max_ms=round(max(latencies) * 1000, 2),
        trials=len(latencies),
    )  # fmt: skip


def push_bulk(total: int, base: str, http: requests.Session, batch: int = 10_000) -> float:
    """Push `total` observations (1,000 models x 50 benchmarks x runs, one benchmark at a time)
    through the API; returns the seconds it took."""
    rng, runs = random.Random(5), max(1, total // (1000 * BENCHMARKS))
    items = [
        pushed(f"model-{m:04d}", f"bench-{b:02d}", rng.random(), NOW - timedelta(days=r))
        for b in range(BENCHMARKS)
        for r in range(runs)
        for m in range(1000)
    ][:total]
    t0 = time.perf_counter()
    for body in chunks(items, batch):
        r = http.post(f"{base}/api/v1/observations", json=body, timeout=300)
        r.raise_for_status()
        assert r.json()["ingested"] == len(body), r.text
    return time.perf_counter() - t0


def fig_rss(count: int, status: Path, started: float, base: str, http: requests.Session) -> None:
    say(f"pushing {count} observations in batches of 10,000")
    push_seconds = push_bulk(count, base, http)
    time.sleep(1.0)
    loaded = memory_mb(status.read_text())
    say(f"pushed in {push_seconds:.1f} s, RSS {loaded['VmRSS']} MB; scraping /metrics")
    scrape_seconds, scrape = timed(lambda: http.get(f"{base}/metrics", timeout=300))
    scraped = memory_mb(status.read_text())
    code = "import sys; sys.stdout.write(open('/proc/self/status').read())"
    bare = memory_mb(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    )
    rss = loaded["VmRSS"]
    emit(
        "daemon_rss_mb", rss, "MB", f"< 150 MB after {count} observations", rss < 150,
        baseline={"after_start_mb": started, "bare_python_mb": bare["VmRSS"]},
        observations=count, inserted_via="POST /api/v1/observations, 10,000 a request",
        push_seconds=round(push_seconds, 1), after_metrics_scrape_mb=scraped["VmRSS"],
        peak_mb=scraped["VmHWM"], metrics_scrape_seconds=round(scrape_seconds, 2),
        metrics_bytes=len(scrape.content), thresholds=11,
    )  # fmt: skip


def figure(trials: int, pushed_count: int, tmp: Path, chosen: set[str]) -> None:
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with daemon(tmp, receiver) as (proc, base), requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {TOKEN}"
            time.sleep(0.5)  # let the scheduler and dispatcher settle before the first reading
            status = Path(f"/proc/{proc.pid}/status")
            started = memory_mb(status.read_text())["VmRSS"]
            say(f"daemon pid {proc.pid} ready, RSS {started} MB")
            if "latency" in chosen:
                fig_latency(trials, receiver, base, http)
            if "rss" in chosen:
                fig_rss(pushed_count, status, started, base, http)
    finally:
        receiver.shutdown()
        receiver.server_close()

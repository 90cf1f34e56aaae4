"""Warden's performance figures, each with a baseline measured in the same run.

    .venv/bin/python perf/run.py [--quick] [--only NAME ...]

One JSON line per figure on stdout, progress on stderr. Offline, loopback only, everything in
one temporary folder removed at the end. perf/README.md explains the figures and targets.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import requests
from harness import (
    NOW,
    TOKEN,
    WARDEN,
    Receiver,
    daemon,
    emit,
    grid_thresholds,
    memory_mb,
    say,
)

from connectors.archive import member_names, read_member
from connectors.inspect_logs import InspectLogs
from warden.catalog import Catalog, Threshold
from warden.clock import system_clock
from warden.condition import Condition
from warden.connector import Cursor
from warden.cycle import run_cycle
from warden.ingest import run_feed
from warden.model import Observation
from warden.store import Store
from warden.store.observations import insert_observations

try:  # teaches zipfile zstd (method 93), which inspect-ai writes; patches zipfile globally
    import zipfile_zstd  # type: ignore[import-untyped]  # noqa: F401

    ZSTD = True
except ImportError:
    ZSTD = False

T = TypeVar("T")
BENCHMARKS = 50
FIGURES = (
    "ingest", "insert", "cycle", "latency", "rss", "startup", "poll", "json_log", "feeds",
    "dispatch", "stuck", "scrape", "catalog",
)  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    logs: int  # copies of the real Inspect log
    rows: int  # observations in the bulk-insert figure
    models: int  # models in the cycle figure (x 50 benchmarks, 100 thresholds)
    trials: int  # alert-latency trials
    pushed: int  # observations pushed to the daemon before the second RSS reading
    runs: int  # runs of each start-time command
    repeats: int  # timed passes of each throughput measurement; the best counts
    polls: int  # unchanged-URL polls (and as many bare conditional GETs)
    json_mb: int  # size of the Inspect .json log, MiB
    feed_rows: int  # input rows (CSV rows + METR entries) in the feed ingest figure
    alerts: int  # alerts through the dispatcher (one pass: each needs a fresh outbox)
    scrapes: int  # timed /metrics scrapes with 10,000 threshold x subject pairs


FULL = Sizes(
    logs=400, rows=50_000, models=1000, trials=50, pushed=500_000, runs=10, repeats=3,
    polls=200, json_mb=100, feed_rows=50_000, alerts=10_000, scrapes=20,
)  # fmt: skip
QUICK = Sizes(
    logs=100, rows=10_000, models=200, trials=15, pushed=50_000, runs=5, repeats=1,
    polls=50, json_mb=20, feed_rows=10_000, alerts=2_000, scrapes=5,
)  # fmt: skip


def timed(func: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = func()
    return time.perf_counter() - t0, out


def best(repeats: int, measure: Callable[[int], float]) -> float:
    return min(measure(k) for k in range(repeats))


def fresh_store(path: Path) -> Store:
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    return store


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def observation(model: str, benchmark: str, value: float, at: datetime, **kw: Any) -> Observation:
    key = hashlib.sha256(f"{model}/{benchmark}/{at.isoformat()}".encode()).hexdigest()
    return Observation(model, benchmark, "accuracy", value, at, key, "perf://", "0" * 64, **kw)


# -- 1. Inspect log ingest ---------------------------------------------------------------------
def make_inspect_log(folder: Path) -> Path:
    """One real .eval log, written by inspect-ai with its offline mockllm/model."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import includes, match
    from inspect_ai.solver import generate

    answers = {"What is 2+2?": "4", "Capital of France?": "Paris", "Colour of the sky?": "green"}

    def reply(input: Any, tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        out = ModelOutput.from_content(model="mockllm", content=answers.get(input[-1].text, "?"))
        out.usage = ModelUsage(input_tokens=3, output_tokens=1, total_tokens=4)  # no tiktoken
        return out

    samples = [Sample(id=f"q{i}", input=q, target=a) for i, (q, a) in enumerate(answers.items())]
    model = get_model("mockllm/model", custom_outputs=reply)
    task = Task(dataset=samples, solver=[generate()], scorer=[match(), includes()], model=model)
    with mock.patch.dict(os.environ, XDG_DATA_HOME=str(folder)):  # inspect's traces go there
        (log,) = inspect_eval(task, log_dir=str(folder), display="none", log_format="eval")
    assert log.status == "success", log.status
    (path,) = folder.glob("*.eval")
    return path


def copy_log(original: Path, folder: Path, n: int) -> list[Path]:
    """`n` distinct copies of `original`: eval_id rewritten in header.json."""
    with original.open("rb") as fp:
        infos = member_names(fp, str(original))
        members = {name: read_member(fp, i, 2**26, str(original)) for name, i in infos.items()}
    header = json.loads(members["header.json"])
    folder.mkdir()
    for i in range(n):
        header["eval"]["eval_id"] = f"perf{i:06d}"
        members["header.json"] = json.dumps(header).encode()
        with zipfile.ZipFile(folder / f"{i:06d}.eval", "w", 93 if ZSTD else 8) as z:
            for name, data in members.items():
                z.writestr(name, data)
    return sorted(folder.iterdir())


def bare_header(path: Path) -> Any:
    """The limit: open the zip, expand header.json, json.loads it."""
    if ZSTD:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("header.json"))
    with path.open("rb") as fp:
        return json.loads(read_member(fp, member_names(fp, "")["header.json"], 2**26, ""))


def fig_ingest(sizes: Sizes, tmp: Path) -> None:
    from inspect_ai.log import read_eval_log

    say("writing a real Inspect log with inspect-ai + mockllm/model, then copies of it")
    paths = copy_log(make_inspect_log(tmp / "original"), tmp / "logs", sizes.logs)
    assert len({bare_header(p)["eval"]["eval_id"] for p in paths}) == len(paths)  # warms cache
    stored: list[int] = []

    def ingest(k: int) -> float:
        store, connector = fresh_store(tmp / f"ingest-{k}.db"), InspectLogs({"path": tmp / "logs"})
        seconds, result = timed(lambda: run_feed(store, "f", connector, Cursor(), system_clock))
        store.dispose()
        assert not result.rejected and result.error is None, result
        stored.append(result.ingested)
        return seconds

    def read_all(read: Callable[[Path], object]) -> float:
        return best(sizes.repeats, lambda _: timed(lambda: [read(p) for p in paths])[0])

    say(f"reading {len(paths)} logs three ways, best of {sizes.repeats}")
    inspect = len(paths) / read_all(lambda p: read_eval_log(str(p), header_only=True))
    bare = len(paths) / read_all(bare_header)
    rate = len(paths) / best(sizes.repeats, ingest)
    emit(
        "inspect_ingest_logs_per_second", rate, "logs/s",
        ">= 5x inspect_header_only and >= 25% of bare_zip_json",
        rate >= 5 * inspect and rate >= 0.25 * bare,
        baseline={"inspect_header_only": round(inspect, 1), "bare_zip_json": round(bare, 1)},
        ratio_to_inspect_header_only=round(rate / inspect, 2),
        ratio_to_bare_zip_json=round(rate / bare, 3),
        logs=len(paths), observations=stored[-1],
        copies_compression="zstd (method 93, as inspect-ai writes)" if ZSTD else "deflate",
        bare_reader="zipfile + zipfile_zstd" if ZSTD else "connectors.archive.read_member",
    )  # fmt: skip


# -- 2. Bulk observation insert ----------------------------------------------------------------
COLUMNS = "feed, key, subject, benchmark, metric, value, stderr, n, observed_at, ingested_at, "
COLUMNS += "source, content_hash, attributes"


def raw_row(o: Observation, ingested_at: str) -> tuple[object, ...]:
    observed_at = o.observed_at.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    fields = (o.subject, o.benchmark, o.metric, o.value, o.stderr, o.n, observed_at, ingested_at)
    return ("perf", o.key, *fields, o.source, o.content_hash, json.dumps(o.attributes))


def raw_insert(path: Path, ddl: list[str], rows: Sequence[Observation], batch: int) -> float:
    """The limit: sqlite3 executemany into a table made with warden's own DDL (same columns and
    indexes), same pragmas and batches; datetime and JSON conversion included in the time."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", *ddl]:
        conn.execute(statement)
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    sql = f"INSERT OR IGNORE INTO observations ({COLUMNS}) VALUES ({marks})"
    now = NOW.replace(tzinfo=None).isoformat(" ")
    t0 = time.perf_counter()
    for part in chunks(rows, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, [raw_row(o, now) for o in part])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    assert conn.execute("SELECT count(*) FROM observations").fetchone()[0] == len(rows)
    conn.close()
    return seconds


def fig_insert(sizes: Sizes, tmp: Path, batch: int = 1000) -> None:
    rng, extra = random.Random(2), {"stderr": 0.01, "n": 100, "attributes": {"org": "perf"}}
    rows = [
        observation(f"model-{i % 1000:04d}", f"bench-{i // 1000 % BENCHMARKS:02d}", rng.random(),
                    NOW - timedelta(seconds=i), **extra)
        for i in range(sizes.rows)
    ]  # fmt: skip

    def warden_insert(k: int) -> float:
        store = fresh_store(tmp / f"bulk-{k}.db")
        t0 = time.perf_counter()
        for part in chunks(rows, batch):
            with store.write() as conn:
                assert insert_observations(conn, "perf", part, NOW) == len(part)
        seconds = time.perf_counter() - t0
        store.dispose()
        return seconds

    say(f"inserting {len(rows)} observations in batches of {batch}, best of {sizes.repeats}")
    rate = len(rows) / best(sizes.repeats, warden_insert)
    query = "SELECT sql FROM sqlite_master WHERE tbl_name = 'observations' AND sql IS NOT NULL"
    with contextlib.closing(sqlite3.connect(tmp / "bulk-0.db")) as db:
        ddl = [r[0] for r in db.execute(f"{query} ORDER BY type DESC")]  # table first
    raw = len(rows) / best(
        sizes.repeats, lambda k: raw_insert(tmp / f"raw{k}.db", ddl, rows, batch)
    )
    emit(
        "bulk_insert_rows_per_second", rate, "rows/s", ">= 30% of raw_sqlite3_executemany",
        rate >= 0.3 * raw, baseline={"raw_sqlite3_executemany": round(raw)},
        ratio_to_raw_sqlite3_executemany=round(rate / raw, 3), rows=len(rows), batch=batch,
    )  # fmt: skip


# -- 3. Evaluation cycle -----------------------------------------------------------------------
def raw_cycle(path: Path, thresholds: Sequence[Threshold]) -> float:
    """The floor: read each series' newest value and the alert states with sqlite3, and compare
    every threshold x subject in a plain loop."""
    evidence = "SELECT benchmark, metric, subject, value FROM observations ORDER BY 1, 2, 3, "
    conditions = [(t.when, t.id) for t in thresholds if isinstance(t.when, Condition)]
    assert len(conditions) == len(thresholds)  # the perf catalog: plain conditions only
    t0 = time.perf_counter()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        newest: dict[tuple[str, str], dict[str, float]] = {}
        for b, m, s, v in conn.execute(evidence + "observed_at DESC"):
            newest.setdefault((b, m), {}).setdefault(s, v)
        rows = conn.execute("SELECT threshold, subject, state FROM alert_states")
        states = {(t, s): state for t, s, state in rows}
    for when, tid in conditions:
        for subject, value in newest.get((when.benchmark, when.metric), {}).items():
            _ = states.get((tid, subject)) == ("firing" if when.holds(value) else "inactive")
    return time.perf_counter() - t0


def fig_cycle(sizes: Sizes, tmp: Path) -> None:
    thresholds = tuple(Threshold.model_validate(d) for d in grid_thresholds(BENCHMARKS))
    names = [f"bench-{b:02d}" for b in range(BENCHMARKS)]
    catalog = Catalog(thresholds)
    rng = random.Random(3)
    rows = [
        observation(f"model-{m:04d}", b, rng.random(), NOW - timedelta(rng.randint(1, 30)))
        for m in range(sizes.models)
        for b in names
    ]
    store = fresh_store(tmp / "cycle.db")
    for part in chunks(rows, 10_000):
        with store.write() as conn:
            insert_observations(conn, "perf", part, NOW)
    say(f"cycle: {len(thresholds)} thresholds x {sizes.models} models x {BENCHMARKS} benchmarks")
    first = run_cycle(store, catalog, ["webhook"], lambda: NOW)
    say(f"first cycle {first.duration_seconds:.1f} s, {len(first.transitions)} transitions")
    steady = [run_cycle(store, catalog, ["webhook"], lambda: NOW) for _ in range(2)]
    assert not first.failed and not any(r.transitions or r.failed for r in steady)
    store.dispose()
    value = min(r.duration_seconds for r in steady)
    floor = best(2, lambda _: raw_cycle(tmp / "cycle.db", thresholds))
    emit(
        "evaluation_cycle_seconds", value, "s", "steady-state cycle < 1 s", value < 1.0,
        baseline={"raw_sqlite3_read_and_compare_seconds": round(floor, 4)},
        ratio_to_raw=round(value / floor, 1), first_cycle_seconds=round(first.duration_seconds, 3),
        first_cycle_transitions=len(first.transitions), evaluations=len(steady[0].evaluations),
        thresholds=len(thresholds), models=sizes.models, observations=len(rows),
    )  # fmt: skip


# -- 4 and 5. The daemon: alert latency and memory ---------------------------------------------
def pushed(model: str, benchmark: str, value: float, at: datetime) -> dict[str, Any]:
    """One observation as the push API takes it."""
    obs = {"model": model, "benchmark": benchmark, "metric": "accuracy", "value": value}
    return obs | {"observed_at": at.isoformat()}


def ms(values: Sequence[float], q: int) -> float:
    """The q-th percentile of `values` (seconds), in milliseconds."""
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000, 2)


def fig_latency(sizes: Sizes, receiver: Receiver, base: str, http: requests.Session) -> None:
    latencies: list[float] = []
    for i in range(sizes.trials + 1):  # trial 0 warms up
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


def fig_rss(sizes: Sizes, status: Path, started: float, base: str, http: requests.Session) -> None:
    say(f"pushing {sizes.pushed} observations in batches of 10,000")
    push_seconds = push_bulk(sizes.pushed, base, http)
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
        "daemon_rss_mb", rss, "MB", f"< 150 MB after {sizes.pushed} observations", rss < 150,
        baseline={"after_start_mb": started, "bare_python_mb": bare["VmRSS"]},
        observations=sizes.pushed, inserted_via="POST /api/v1/observations, 10,000 a request",
        push_seconds=round(push_seconds, 1), after_metrics_scrape_mb=scraped["VmRSS"],
        peak_mb=scraped["VmHWM"], metrics_scrape_seconds=round(scrape_seconds, 2),
        metrics_bytes=len(scrape.content), thresholds=11,
    )  # fmt: skip


def fig_daemon(sizes: Sizes, tmp: Path, chosen: set[str]) -> None:
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
                fig_latency(sizes, receiver, base, http)
            if "rss" in chosen:
                fig_rss(sizes, status, started, base, http)
    finally:
        receiver.shutdown()
        receiver.server_close()


# -- 6. Start time -----------------------------------------------------------------------------
def fig_startup(sizes: Sizes, tmp: Path) -> None:
    def run(*cmd: str) -> float:
        return timed(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=tmp))[0]

    helps, passes = [], []
    for _ in range(sizes.runs):  # interleaved, so machine load hits both alike
        helps.append(run(str(WARDEN), "--help"))
        passes.append(run(sys.executable, "-c", "pass"))
    value, floor = statistics.median(helps), statistics.median(passes)
    emit(
        "help_start_seconds", value, "s", "< 0.3 s", value < 0.3,
        baseline={"python_c_pass_seconds": round(floor, 4)},
        overhead_seconds=round(value - floor, 4), runs=sizes.runs,
    )  # fmt: skip


# -- 7 to 12. Polling, a large Inspect .json log, Epoch and METR feeds, alert dispatch, a stuck
# sink, /metrics at 10,000 pairs: in their own modules -------------------------------------------
def fig_poll(sizes: Sizes, tmp: Path) -> None:
    import fetch  # perf/fetch.py

    fetch.figure(sizes.polls)


def fig_json_log(sizes: Sizes, tmp: Path) -> None:
    import inspect_json  # perf/inspect_json.py

    inspect_json.figure(sizes.json_mb, inspect_json.REPEATS, tmp)


def fig_feeds(sizes: Sizes, tmp: Path) -> None:
    import feeds  # perf/feeds.py

    if not all((feeds.SAMPLES / f).is_dir() for f in ("epoch", "metr")):
        say(f"feeds: skipped, the Epoch and METR samples are not in {feeds.SAMPLES}")
        return
    feeds.figure(sizes.feed_rows, sizes.repeats, tmp)


def fig_dispatch(sizes: Sizes, tmp: Path) -> None:
    import alerts  # perf/alerts.py

    alerts.dispatch_figure(sizes.alerts, 1, tmp)


def fig_stuck(sizes: Sizes, tmp: Path) -> None:
    import alerts  # perf/alerts.py

    alerts.stuck_figure(sizes.trials, tmp / "stuck")


def fig_scrape(sizes: Sizes, tmp: Path) -> None:
    import scrape  # perf/scrape.py

    for name in scrape.SIZES:
        scrape.figure(sizes.scrapes, tmp / name, name)


def fig_catalog(sizes: Sizes, tmp: Path) -> None:
    import catalog  # perf/catalog.py

    catalog.figure(sizes.models, tmp / "catalog")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Warden's performance figures (perf/README.md).")
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    only = f"run only this figure (repeatable): {', '.join(FIGURES)}"
    parser.add_argument("--only", action="append", choices=FIGURES, metavar="NAME", help=only)
    args = parser.parse_args(argv)
    sizes, chosen = (QUICK if args.quick else FULL), set(args.only or FIGURES)
    steps: dict[str, Callable[[Sizes, Path], None]] = {
        "ingest": fig_ingest,
        "insert": fig_insert,
        "cycle": fig_cycle,
        "daemon": lambda s, t: fig_daemon(s, t, chosen),
        "startup": fig_startup,
        "poll": fig_poll,
        "json_log": fig_json_log,
        "feeds": fig_feeds,
        "dispatch": fig_dispatch,
        "stuck": fig_stuck,
        "scrape": fig_scrape,
        "catalog": fig_catalog,
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="warden-perf-") as tmp:
        for step, run in steps.items():
            if step in chosen or (step == "daemon" and chosen & {"latency", "rss"}):
                seconds, _ = timed(lambda: run(sizes, Path(tmp)))  # noqa: B023
                say(f"{step} took {seconds:.1f} s")
    say(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Warden's performance figures, each with a baseline measured in the same run.

    .venv/bin/python perf/run.py [--quick] [--only NAME ...] [--database postgresql://...]

One JSON line per figure on stdout, progress on stderr. Offline, loopback only, everything in
one temporary folder removed at the end. perf/README.md explains the figures and targets.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import WARDEN, emit, say, timed

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


# The figures that run on PostgreSQL too (--database); the rest measure SQLite or no store.
ON_POSTGRESQL = ("ingest", "insert", "cycle", "latency", "dispatch")


# -- 1 to 5: in their own modules -------------------------------------------------------------
def fig_ingest(sizes: Sizes, tmp: Path) -> None:
    import inspect_ingest  # perf/inspect_ingest.py

    inspect_ingest.figure(sizes.logs, sizes.repeats, tmp)


def fig_insert(sizes: Sizes, tmp: Path) -> None:
    if harness.DATABASE is not None:
        import postgres  # perf/postgres.py: beside psycopg COPY

        postgres.insert_figure(sizes.rows, sizes.repeats, tmp)
        return
    import insert  # perf/insert.py

    insert.figure(sizes.rows, sizes.repeats, tmp)


def fig_cycle(sizes: Sizes, tmp: Path) -> None:
    if harness.DATABASE is not None:
        import postgres  # perf/postgres.py: beside the raw newest-per-series query

        postgres.cycle_figure(sizes.models, tmp)
        return
    import cycle  # perf/cycle.py

    cycle.figure(sizes.models, tmp)


def fig_daemon(sizes: Sizes, tmp: Path, chosen: set[str]) -> None:
    import latency  # perf/latency.py

    latency.figure(sizes.trials, sizes.pushed, tmp, chosen)


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
    parser.add_argument(
        "--database",
        metavar="URL",
        help="run on PostgreSQL (a schema per store, dropped at the end): "
        f"{', '.join(ON_POSTGRESQL)}",
    )
    args = parser.parse_args(argv)
    sizes, chosen = (QUICK if args.quick else FULL), set(args.only or FIGURES)
    if args.database is not None:
        if not args.database.startswith("postgresql"):
            parser.error(f"--database: a postgresql:// URL, not {args.database.split(':')[0]}")
        harness.DATABASE = args.database
        chosen &= set(ON_POSTGRESQL)
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
        try:
            for step, run in steps.items():
                if step in chosen or (step == "daemon" and chosen & {"latency", "rss"}):
                    seconds, _ = timed(lambda: run(sizes, Path(tmp)))  # noqa: B023
                    say(f"{step} took {seconds:.1f} s")
        finally:
            harness.drop_schemas()
    say(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

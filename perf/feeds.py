"""Feed ingest throughput: the Epoch AI and METR connectors over their real samples, replicated,
fetched from a loopback HTTP server.

`feed_ingest()` copies ../shared/samples/epoch (the hub CSVs and the AI models tables) and
../shared/samples/metr (the time-horizon YAML files) into a temporary folder, each file's rows
repeated with distinct model names (`<model>~c<k>`) until there are about `rows` input rows in
all, and serves that folder from a loopback HTTP server (`http.server`, with Last-Modified). The
feeds fetch what their publishers publish: the hub as one zip of its CSVs (Epoch's
`benchmark_data.zip`), each AI models table and each METR YAML file at its own URL. The figure
times `run_feed` with the `epoch_benchmarks`, `epoch_models` and `metr_horizons`
connectors (fetch, unzip, parse, store) into a fresh SQLite file store (as perf/run.py's figures
do), in input rows (CSV rows plus METR model entries) a second, the best of `repeats` passes
(each on a fresh store). The baseline, measured in the same run, is `csv.DictReader` iterating
the same CSV bytes (decoded from the same files), in rows a second. Target: >= 10,000 rows/s.
Each feed's own rate is given too: a METR entry is a YAML mapping of ~20 values and two
observations; METR's plain block YAML is read by connectors/blockyaml.py (with PyYAML's libyaml
loader instead, the METR feed ran about 3x slower and the figure about 30 % lower, below its
target: the figures are in that module's docstring).

    .venv/bin/python perf/feeds.py [--rows 50000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import logging
import math
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml
from harness import emit, loopback, say

from connectors.epoch_benchmarks import EpochBenchmarks
from connectors.epoch_models import EpochModels
from connectors.metr import MetrHorizons
from warden.core.clock import system_clock
from warden.ingest.connector import Connector, Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
TARGET = 10_000.0  # rows/s
MODEL_COLUMNS = ("Model version", "Model")


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fp:
        header, *rows = list(csv.reader(fp))
    return header, rows


class _Plain(yaml.CSafeDumper):
    """Copies written out in full, as METR writes them (shared entries would become anchors)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def replicate(samples: Path, out: Path, rows: int) -> dict[str, int]:
    """Copies of the samples under `out` with about `rows` input rows in all; returns the input
    rows written for each feed (CSV rows, METR model entries)."""
    tables = sorted((samples / "epoch").rglob("*.csv"))
    metr = sorted((samples / "metr").glob("*.yaml"))
    if not tables or not metr:
        raise SystemExit(f"perf: the Epoch and METR samples are not in {samples}")
    read = [(p, *_csv_rows(p)) for p in tables]
    docs = [(p, yaml.safe_load(p.read_text(encoding="utf-8"))) for p in metr]
    per_copy = sum(len(r) for _, _, r in read) + sum(len(d["results"]) for _, d in docs)
    copies = max(1, math.ceil(rows / per_copy))
    written = dict.fromkeys(FOLDERS, 0)
    for path, header, body in read:
        target = out / path.relative_to(samples)
        target.parent.mkdir(parents=True, exist_ok=True)
        model = next(header.index(c) for c in MODEL_COLUMNS if c in header)
        with target.open("w", newline="", encoding="utf-8") as fp:
            writer = csv.writer(fp, lineterminator="\n")
            writer.writerow(header)
            for k in range(copies):
                for row in body:
                    row = list(row)
                    row[model] = f"{row[model].strip()}~c{k}"
                    writer.writerow(row)
        written[_feed_of(target, out)] += copies * len(body)
    for path, doc in docs:
        target = out / path.relative_to(samples)
        target.parent.mkdir(parents=True, exist_ok=True)
        results = {f"{m}~c{k}": e for k in range(copies) for m, e in doc["results"].items()}
        text = yaml.dump({**doc, "results": results}, Dumper=_Plain, sort_keys=False)
        target.write_text(text, encoding="utf-8")
        written[_feed_of(target, out)] += len(results)
    hub = out / FOLDERS["epoch_hub"]
    with zipfile.ZipFile(hub.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as archive:
        for table in sorted(hub.glob("*.csv")):
            archive.write(table, table.name)
    return written


FOLDERS = {"epoch_hub": "epoch/benchmark_data", "epoch_models": "epoch/ai_models", "metr": "metr"}


def _feed_of(path: Path, root: Path) -> str:
    folder = path.parent.relative_to(root).as_posix()
    return next(feed for feed, f in FOLDERS.items() if f == folder)


def feeds(root: Path, url: str) -> list[tuple[str, Connector]]:
    """The feeds as their publishers serve them, from the server at `url` serving `root`: the
    hub's zip, and each AI models table and METR file at its own URL."""

    def at(path: Path) -> dict[str, str]:
        return {"source": f"{url}/{path.relative_to(root).as_posix()}"}

    hub = (root / FOLDERS["epoch_hub"]).with_suffix(".zip")
    tables = sorted((root / FOLDERS["epoch_models"]).glob("*.csv"))
    results = sorted((root / FOLDERS["metr"]).glob("*.yaml"))
    return [
        ("epoch_hub", EpochBenchmarks(at(hub))),
        *(("epoch_models", EpochModels(at(t))) for t in tables),
        *(("metr", MetrHorizons(at(r))) for r in results),
    ]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def serving(root: Path) -> Iterator[str]:
    """A loopback HTTP server for the files under `root` (with Last-Modified, answering
    If-Modified-Since); yields its base URL."""
    with loopback(partial(_Quiet, directory=str(root))) as url:
        yield url


@contextlib.contextmanager
def quiet(name: str) -> Iterator[None]:
    """Per-row rejection warnings (the samples have a few) are not what is being measured."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def timed(func: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    func()
    return time.perf_counter() - t0


def ingest_once(root: Path, url: str, db: Path) -> tuple[dict[str, float], dict[str, int]]:
    """One full ingest from the server at `url` into a fresh SQLite store: seconds per feed,
    and what was stored."""
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    seconds = dict.fromkeys(FOLDERS, 0.0)
    counts = {"observations": 0, "rejected": 0}
    try:
        for i, (feed, connector) in enumerate(feeds(root, url)):
            t0 = time.perf_counter()
            result = run_feed(store, f"{feed}-{i}", connector, Cursor(), system_clock)
            seconds[feed] += time.perf_counter() - t0
            if result.error is not None:
                raise RuntimeError(f"feed {feed} failed: {result.error}")
            counts["observations"] += result.ingested
            counts["rejected"] += result.rejected
    finally:
        store.dispose()
    return seconds, counts


def dictreader_pass(paths: list[Path]) -> int:
    """The baseline: csv.DictReader over each CSV file's bytes, every row materialised."""
    n = 0
    for path in paths:
        text = path.read_bytes().decode("utf-8-sig")
        for _ in csv.DictReader(io.StringIO(text, newline="")):
            n += 1
    return n


def feed_ingest(
    rows: int = 50_000, repeats: int = 3, folder: Path | None = None
) -> dict[str, float]:
    """Input rows a second through run_feed for the Epoch and METR feeds (all three, and each
    alone), with the csv.DictReader baseline over the same CSV bytes; the copies and stores go
    in a temporary folder under `folder`."""
    with tempfile.TemporaryDirectory(prefix="warden-perf-feeds-", dir=folder) as tmp:
        root = Path(tmp) / "data"
        written = replicate(SAMPLES, root, rows)
        say(f"replicated the samples: input rows per feed {written}")
        total, csv_rows = sum(written.values()), written["epoch_hub"] + written["epoch_models"]
        passes = []
        with quiet("warden.ingest.feedrun"), serving(root) as url:
            for k in range(repeats):
                seconds, counts = ingest_once(root, url, Path(tmp) / f"feeds-{k}.db")
                say(f"pass {k + 1}: {total / sum(seconds.values()):,.0f} rows/s")
                passes.append(seconds)
        paths = sorted(root.rglob("*.csv"))
        base_seconds = min(timed(lambda: dictreader_pass(paths)) for _ in range(repeats))
        assert dictreader_pass(paths) == csv_rows
    best = min(passes, key=lambda p: sum(p.values()))
    rate, baseline = total / sum(best.values()), csv_rows / base_seconds
    figures = {
        "feed_ingest_rows_per_second": rate,
        "csv_dictreader_rows_per_second": baseline,
        "ratio_to_csv_dictreader": rate / baseline,
        "rows": float(total),
        "csv_rows": float(csv_rows),
        "metr_entries": float(written["metr"]),
        "observations": float(counts["observations"]),
        "rejected": float(counts["rejected"]),
        "target_rows_per_second": TARGET,
    }
    for feed, n in written.items():
        figures[f"{feed}_rows_per_second"] = n / min(p[feed] for p in passes)
    return figures


def figure(rows: int = 50_000, repeats: int = 3, folder: Path | None = None) -> None:
    """The figure `feed_ingest_rows_per_second`, emitted as perf/run.py's figures are."""
    f = feed_ingest(rows, repeats, folder)
    rate, base = f["feed_ingest_rows_per_second"], f["csv_dictreader_rows_per_second"]
    emit(
        "feed_ingest_rows_per_second", rate, "rows/s", f">= {TARGET:,.0f} rows/s", rate >= TARGET,
        baseline={"csv_dictreader_rows_per_second": round(base)},
        ratio_to_csv_dictreader=round(rate / base, 3),
        per_feed_rows_per_second={k: round(f[f"{k}_rows_per_second"]) for k in FOLDERS},
        **{k: int(f[k]) for k in ("rows", "csv_rows", "metr_entries", "observations", "rejected")},
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    figure(args.rows, args.repeats)


if __name__ == "__main__":
    main()

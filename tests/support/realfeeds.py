"""The shared samples (../shared/samples) through the real connectors into a real store, with the
files' modification times set by the test: METR's TH 1.0 and TH 1.1 in a chosen copy order, and
Epoch's benchmarking hub and model tables."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from warden.catalog.registry import Registry
from warden.store import Store

METR_FILES = ("benchmark_results_1_0.yaml", "benchmark_results_1_1.yaml")
COPIED = datetime(2026, 1, 30, 10, tzinfo=UTC)  # the first file's mtime; the next an hour on
CLOCK = datetime(2026, 2, 1, tzinfo=UTC)  # when the feeds are read


def copy_metr(samples: Path, folder: Path, order: tuple[str, ...] = METR_FILES) -> Path:
    """METR's files copied into `folder`, each copied an hour after the one before it in
    `order` (the modification time a file source reads as the fetch time)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(order):
        target = folder / name
        shutil.copyfile(samples / "metr" / name, target)
        stamp = COPIED.timestamp() + 3600 * i
        os.utime(target, (stamp, stamp))
    return folder


def ingest(
    store: Store,
    registry: Registry,
    samples: Path,
    tmp: Path,
    order: tuple[str, ...] = METR_FILES,
    *,
    epoch: bool = True,
    models: bool = False,
) -> None:
    """METR's files (in `order`), Epoch's METR copy (`epoch`) and Epoch's model tables
    (`models`) through their connectors, read at CLOCK."""
    from connectors.epoch_benchmarks import EpochBenchmarks
    from connectors.epoch_models import EpochModels
    from connectors.metr import MetrHorizons
    from warden.ingest.connector import Connector, Cursor
    from warden.ingest.feedrun import run_feed

    feeds: list[tuple[str, Connector]] = [
        ("metr", MetrHorizons({"source": str(copy_metr(samples, tmp / "metr", order))}))
    ]
    if epoch:
        hub = tmp / "epoch"
        hub.mkdir(exist_ok=True)
        shutil.copy(samples / "epoch/benchmark_data/metr_time_horizons_external.csv", hub)
        feeds.append(("epoch", EpochBenchmarks({"source": str(hub)})))
    if models:
        feeds.append(("models", EpochModels({"source": str(samples / "epoch/ai_models")})))
    for feed, connector in feeds:
        result = run_feed(store, feed, connector, Cursor(), lambda: CLOCK, registry)
        assert result.ingested > 0, result

"""The evaluation cycle with the bundled catalog (issue 3's "with the full catalog"), and the
daemon's periodic sweep, which re-evaluates only what can have changed (warden/sweep.py).

    .venv/bin/python perf/catalog.py [--models 1000]

Observations: for every (benchmark, metric) the bundled catalog reads, one per model, seeded,
values spread over each metric's scale, stderr on fractions, n = 100. Baseline: a raw sqlite3
read of the newest value per series (the floor any evaluation pays).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from harness import NOW, emit, say

from thresholds import bundled_catalog, bundled_registry
from warden.alerting.cycle import run_cycle
from warden.catalog.registry import BOUNDS
from warden.catalog.thresholds import load_catalog
from warden.core.model import Observation
from warden.evaluation.sweep import Sweep
from warden.store import Store
from warden.store.observations import insert_observations

TARGET_SECONDS = 1.0


def figure(models: int, tmp: Path) -> None:
    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    pairs = sorted({p for t in catalog.thresholds for p in t.pairs})
    rng = random.Random(5)
    rows = []
    for benchmark, metric in pairs:
        spec = catalog.registry.metric(benchmark, metric)[1]
        scale = spec.scale if spec else "fraction"
        low, high = BOUNDS.get(scale, (0.0, 1000.0))
        if scale == "flop":
            low, high = 1e22, 3e25
        for m in range(models):
            rows.append(
                Observation(
                    f"model-{m:04d}", benchmark, metric, low + (high - low) * 0.95 * rng.random(),
                    NOW - timedelta(days=rng.randint(1, 300)), f"{benchmark}/{metric}/{m}", "perf",
                    "0" * 64, 0.01 if scale == "fraction" else None, 100,
                )
            )  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{tmp / 'catalog.db'}")
    store.upgrade()
    for i in range(0, len(rows), 10_000):
        with store.write() as conn:
            insert_observations(conn, "perf", rows[i : i + 10_000], NOW)
    say(f"catalog cycle: {len(catalog.thresholds)} thresholds, {len(pairs)} series x {models}")
    first = run_cycle(store, catalog, [], lambda: NOW)
    steady = [run_cycle(store, catalog, [], lambda: NOW) for _ in range(2)]
    assert not first.failed and not any(r.failed for r in steady)
    sweep = Sweep()
    sweeps = []
    for _ in range(3):  # the first sweep is a full one; the next ones are what the daemon runs
        t0 = time.perf_counter()
        with store.read() as conn:
            chosen, watermark = sweep.due(conn, catalog, [])
        run_cycle(store, catalog, [], lambda: NOW, chosen)
        sweep.done(watermark, [])
        sweeps.append((time.perf_counter() - t0, len(chosen)))
    store.dispose()
    t0 = time.perf_counter()
    with contextlib.closing(sqlite3.connect(tmp / "catalog.db")) as conn:
        newest: dict[tuple[str, str, str], float] = {}
        q = (
            "SELECT benchmark, metric, subject, value FROM observations "
            "ORDER BY 1, 2, 3, observed_at DESC"
        )
        for b, m, s, v in conn.execute(q):
            newest.setdefault((b, m, s), v)
    floor = time.perf_counter() - t0
    value = min(r.duration_seconds for r in steady)
    emit(
        "catalog_cycle_seconds", value, "s", f"steady-state full cycle < {TARGET_SECONDS:g} s",
        value < TARGET_SECONDS,
        baseline={"raw_sqlite3_newest_per_series_seconds": round(floor, 4)},
        ratio_to_raw=round(value / floor, 1), first_cycle_seconds=round(first.duration_seconds, 3),
        first_cycle_transitions=len(first.transitions), evaluations=len(steady[0].evaluations),
        thresholds=len(catalog.thresholds), series=len(pairs), models=models,
        observations=len(rows),
        periodic_sweep_seconds=round(sweeps[-1][0], 4),
        periodic_sweep_thresholds=sweeps[-1][1],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warden-perf-catalog-") as tmp:
        figure(args.models, Path(tmp))


if __name__ == "__main__":
    main()

"""`/metrics` with 10,000 threshold x subject series: scrape time and size, and the daemon's RSS.

`warden run` as a subprocess (SQLite, no sinks, so no deliveries run in the background) with
`metrics.subjects: all` and `metrics.max_subjects: 1,000,000` (nothing left out), its catalog's
ten per-model thresholds on bench-00..bench-04 (perf/harness.py), and 1,000 models x those five
benchmarks pushed through `POST /api/v1/observations` (one request; the push evaluates them, so
every pair has its state and margins). That is 10,000 threshold x subject pairs, each a
`warden_threshold_state` stateset of seven samples and two `warden_threshold_margin` samples,
plus 5,000 `warden_observation_value` samples: about 95,000 sample lines in all. The figure is
the p50 of `scrapes` timed `GET /metrics` (text format, a keep-alive connection, gzip accepted
as Prometheus and requests accept it, so compressing the body is in the time), and beside it the
p50 of as many in OpenMetrics (asked for as Prometheus asks); the size is the text body's bytes
(decoded). The daemon writes the body with warden/metrics/exposition.py (what prometheus_client
writes, faster). The limit, measured in the same run and interleaved with the scrapes:
`prometheus_client.generate_latest` of a plain `CollectorRegistry` holding the same series (the
scraped text parsed back into metric families, yielded by one collector), in the perf process
(and prometheus_client's OpenMetrics `generate_latest` of it, beside the OpenMetrics scrapes);
warden's `render` of the same registry in both formats (checked identical to
prometheus_client's), so that the exposition's gain over the library, the reason it is
hand-written, is measured on every run; and, as a second floor, the same text written with plain
string joins (`plain_text`).
Also the daemon's VmRSS after the scrapes (and VmHWM, its peak), beside its RSS right after start
and a bare `python`. Targets: scrape p50 < 200 ms, in both formats; RSS < 200 MB.

    .venv/bin/python perf/scrape.py [--scrapes 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import requests
from harness import NOW, TOKEN, daemon, emit, grid_thresholds, memory_mb, ms, say
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from warden.metrics.exposition import render

BENCHMARKS = 5  # the daemon's catalog: two per-model thresholds on each of bench-00..bench-04
THRESHOLDS = len(grid_thresholds(BENCHMARKS))
# The target's size: about 10,000 series (143 models x 10 thresholds x 7 states = 10,010 state
# series, plus margins and values); and a stress size, 1,000 models (10,000 threshold x subject
# pairs, about 95,000 series), reported beside it without a target of its own.
SIZES = {"metrics_scrape_ms": 143, "metrics_scrape_ms_stress": 1000}
TARGET_MS, TARGET_MB = 200.0, 200.0
OPENMETRICS = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"


class Replay(Collector):
    """The limit's collector: yields metric families made beforehand."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def plain_text(families: Iterable[Metric]) -> bytes:
    """A second floor: the same text format written with plain string joins (sorted, escaped
    labels and Go-style floats as generate_latest writes them, no per-sample label-name checks),
    to show what a hand-written exposition could reach."""
    out = []
    for f in families:
        name = f.name + "_total" if f.type == "counter" else f.name
        kind = {"unknown": "untyped", "stateset": "gauge", "info": "gauge"}.get(f.type, f.type)
        doc = f.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {kind}\n")
        for sample in f.samples:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
            shown = f"{{{labels}}}" if labels else ""
            value = floatToGoString(sample.value)  # type: ignore[no-untyped-call]
            out.append(f"{sample.name}{shown} {value}\n")
    return "".join(out).encode()


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def push_grid(base: str, http: requests.Session, models: int) -> None:
    rng = random.Random(11)
    body = [
        {"model": f"model-{m:04d}", "benchmark": f"bench-{b:02d}", "metric": "accuracy",
         "value": rng.random(), "observed_at": NOW.isoformat()}
        for m in range(models)
        for b in range(BENCHMARKS)
    ]  # fmt: skip
    r = http.post(f"{base}/api/v1/observations", json=body, timeout=300)
    r.raise_for_status()
    assert r.json()["ingested"] == len(body), r.text


def samples(families: Iterable[Metric]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for family in families:
        counts[family.name] = counts.get(family.name, 0) + len(family.samples)
    return counts


def figure(scrapes: int, tmp: Path, name: str = "metrics_scrape_ms") -> None:
    models = SIZES[name]
    pairs = models * THRESHOLDS
    extra: dict[str, Any] = {"metrics": {"subjects": "all", "max_subjects": 1_000_000}}
    with daemon(tmp, sinks=[], extra=extra) as (proc, base), requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        time.sleep(0.5)  # let the scheduler settle before the first reading
        status = Path(f"/proc/{proc.pid}/status")
        started = memory_mb(status.read_text())["VmRSS"]
        say(f"scrape: pushing {models} models x {BENCHMARKS} benchmarks ({pairs} pairs)")
        push_grid(base, http, models)
        first = http.get(f"{base}/metrics", timeout=60)  # warms up; parsed for the limit
        first.raise_for_status()
        families = list(text_string_to_metric_families(first.text))
        counts = samples(families)
        omitted = next(f for f in families if f.name == "warden_metrics_subjects_omitted")
        assert omitted.samples[0].value == 0, "series were left out"
        assert counts["warden_threshold_state"] == 7 * pairs, counts["warden_threshold_state"]
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Replay(families))
        say(f"scrape: {scrapes} scrapes of /metrics, each beside a generate_latest of the same")
        times, limit, joins, sizes = [], [], [], []
        om_times, om_limit, renders, om_renders = [], [], [], []
        for _ in range(scrapes):  # interleaved, so machine load hits both alike
            t0 = time.perf_counter()
            r = http.get(f"{base}/metrics", timeout=60)
            times.append(time.perf_counter() - t0)
            r.raise_for_status()
            sizes.append(len(r.content))
            t0 = time.perf_counter()
            exposed = generate_latest(registry)
            limit.append(time.perf_counter() - t0)
            t0 = time.perf_counter()  # as Prometheus scrapes: OpenMetrics
            r = http.get(f"{base}/metrics", headers={"Accept": OPENMETRICS}, timeout=60)
            om_times.append(time.perf_counter() - t0)
            r.raise_for_status()
            assert r.headers["Content-Type"].startswith("application/openmetrics-text")
            t0 = time.perf_counter()
            om_exposed = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
            om_limit.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rendered = render(registry, openmetrics=False)
            renders.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            om_rendered = render(registry, openmetrics=True)
            om_renders.append(time.perf_counter() - t0)
            assert rendered == exposed and om_rendered == om_exposed, "render must write the same"
            t0 = time.perf_counter()
            joined = plain_text(families)
            joins.append(time.perf_counter() - t0)
            assert joined == exposed, "the plain join must write the same text"
        after = memory_mb(status.read_text())
    code = "import sys; sys.stdout.write(open('/proc/self/status').read())"
    bare = memory_mb(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    )
    p50, floor, om_p50 = ms(times, 50), ms(limit, 50), ms(om_times, 50)
    lines = sum(counts.values())
    stress = name != "metrics_scrape_ms"
    target = "none (stress size)" if stress else f"p50 < {TARGET_MS:.0f} ms in both formats"
    emit(
        name, p50, "ms", target, stress or max(p50, om_p50) < TARGET_MS,
        baseline={"generate_latest_same_series_p50_ms": floor,
                  "plain_text_join_same_series_p50_ms": ms(joins, 50),
                  "openmetrics_generate_latest_same_series_p50_ms": ms(om_limit, 50),
                  "warden_render_same_series_p50_ms": ms(renders, 50),
                  "openmetrics_warden_render_same_series_p50_ms": ms(om_renders, 50)},
        ratio_to_generate_latest=round(p50 / floor, 2), p95_ms=ms(times, 95),
        openmetrics_p50_ms=om_p50, openmetrics_p95_ms=ms(om_times, 95),
        scrapes=scrapes, bytes=int(statistics.median(sizes)), generate_latest_bytes=len(exposed),
        plain_text_join_bytes=len(joined),
        threshold_subject_pairs=pairs, sample_lines=lines,
        state_samples=counts["warden_threshold_state"],
        margin_samples=counts.get("warden_threshold_margin", 0),
        observation_value_samples=counts.get("warden_observation_value", 0),
    )  # fmt: skip
    rss = after["VmRSS"]
    emit(
        "metrics_daemon_rss_mb" + ("_stress" if stress else ""), rss, "MB",
        f"< {TARGET_MB:.0f} MB with {pairs} threshold x subject pairs exported", rss < TARGET_MB,
        baseline={"after_start_mb": started, "bare_python_mb": bare["VmRSS"]},
        peak_mb=after["VmHWM"], after=f"{scrapes + 1} scrapes", threshold_subject_pairs=pairs,
        sample_lines=lines,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warden-perf-scrape-") as tmp:
        for name in SIZES:
            figure(args.scrapes, Path(tmp) / name, name)


if __name__ == "__main__":
    main()

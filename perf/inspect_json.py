"""Reading a large Inspect `.json` log: time and peak memory of the `inspect_logs` connector's
fetch + parse, beside `json.load` of the same file.

    .venv/bin/python perf/inspect_json.py [SIZE_MB]

The log is synthetic but real-shaped: a real `.json` log written by inspect-ai with its offline
`mockllm/model` (the shared sample from 0.3.285, or one made here with the test suite's tiny
task when the samples folder is absent), its samples replicated with new ids and uuids until the
file is about SIZE_MB (default 100), written with `indent=2` as inspect-ai writes. Each reading
runs in a fresh subprocess, which reports its time (after imports) and its peak RSS (VmHWM);
runs of the connector and of `json.load` are interleaved so machine load hits both alike, and the
best time of three counts. Targets: peak RSS < 150 MB, time within 2x of `json.load`.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from harness import emit, memory_mb, say

REPO = Path(__file__).resolve().parents[1]
SAMPLE = (
    REPO.parent
    / "shared/samples/inspect/inspect_ai_0.3.285_zstd"
    / "2026-11-28T08-19-18-00-00_tiny_BPmmEjFZcY23q7gy857wj3.json"
)
REPEATS = 3
PEAK_MB, RATIO = 150, 2.0  # the targets
# Each child prints what it measured: seconds after its imports, and its /proc status.
CONNECTOR = """
import json, sys, time
from connectors.inspect_logs import InspectLogs
from warden.ingest.connector import Cursor
t0 = time.perf_counter()
connector = InspectLogs({"source": sys.argv[1]})
(item,) = connector.fetch(Cursor())
found = len(connector.parse(item))
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "found": found, "status": open("/proc/self/status").read()}))
"""
JSON_LOAD = """
import json, sys, time
t0 = time.perf_counter()
with open(sys.argv[1]) as fp:
    found = len(json.load(fp)["samples"])
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "found": found, "status": open("/proc/self/status").read()}))
"""
IMPORTS_ONLY = """
import json
from connectors.inspect_logs import InspectLogs
print(json.dumps({"seconds": 0, "found": 0, "status": open("/proc/self/status").read()}))
"""


def template(tmp: Path) -> dict[str, Any]:
    """A real `.json` Inspect log: the shared sample, else one made now with inspect-ai."""
    if SAMPLE.is_file():
        say(f"template: {SAMPLE.name}")
        doc: dict[str, Any] = json.loads(SAMPLE.read_text())
        return doc
    say("template: a tiny task run now with inspect-ai and mockllm/model (no shared samples)")
    sys.path.insert(0, str(REPO))
    from inspect_ai import eval as inspect_eval

    from tests.support import inspect_tasks

    folder = tmp / "template"
    with mock.patch.dict(os.environ, XDG_DATA_HOME=str(tmp)):  # inspect's traces go there
        (log,) = inspect_eval(
            inspect_tasks.tiny(), log_dir=str(folder), display="none", log_format="json"
        )
    assert log.status == "success", log.status
    (path,) = folder.glob("*.json")
    made: dict[str, Any] = json.loads(path.read_text())
    return made


def write_log(doc: dict[str, Any], path: Path, size_mb: int) -> int:
    """`doc` with its samples replicated (new ids and uuids) to about `size_mb` MiB; returns the
    number of samples written."""
    originals = doc["samples"]
    per_sample = len(json.dumps({"samples": originals}, indent=2)) / len(originals)  # as nested
    count = max(1, round(size_mb * 2**20 / per_sample))
    samples = []
    for i in range(count):
        sample = copy.copy(originals[i % len(originals)])  # shallow: the copies share their bodies
        sample.update(id=f"s{i:07d}", uuid=f"perf-{i:07d}")
        samples.append(sample)
    with path.open("w") as fp:
        json.dump({**doc, "samples": samples}, fp, indent=2)
    return count


def child(code: str, path: Path) -> dict[str, Any]:
    """Run `code` in a fresh interpreter on `path`; its time, result and peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=REPO
    )
    if done.returncode:
        raise RuntimeError(f"the measuring subprocess failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout)
    return {**out, "peak_mb": memory_mb(out.pop("status"))["VmHWM"]}


def json_log(
    size_mb: int = 100, repeats: int = REPEATS, folder: Path | None = None
) -> dict[str, float]:
    """Time and peak RSS of the connector's read + parse of a `.json` log of about `size_mb`
    MiB, beside `json.load` of the same file, each in a fresh subprocess (best time and highest
    peak of `repeats` runs each); the files go in a temporary folder under `folder`."""
    with tempfile.TemporaryDirectory(prefix="warden-perf-json-", dir=folder) as tmp:
        path = Path(tmp) / "2026-01-01T00-00-00-00-00_tiny_perf.json"
        samples = write_log(template(Path(tmp)), path, size_mb)
        size = path.stat().st_size / 2**20
        say(f"wrote {path.name}: {size:.1f} MiB, {samples} samples; reading it {repeats} times")
        path.read_bytes()  # into the page cache, so no run pays for the disk
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(child(CONNECTOR, path))
            theirs.append(child(JSON_LOAD, path))
        imports = child(IMPORTS_ONLY, path)
    assert {r["found"] for r in theirs} == {samples}
    seconds = min(r["seconds"] for r in ours)
    baseline = min(r["seconds"] for r in theirs)
    return {
        "file_mb": round(size, 1),
        "samples": samples,
        "observations": ours[0]["found"],
        "connector_seconds": round(seconds, 3),
        "connector_peak_mb": max(r["peak_mb"] for r in ours),
        "json_load_seconds": round(baseline, 3),
        "json_load_peak_mb": max(r["peak_mb"] for r in theirs),
        "imports_only_peak_mb": imports["peak_mb"],
        "ratio_to_json_load": round(seconds / baseline, 2),
    }


def figure(size_mb: int = 100, repeats: int = REPEATS, folder: Path | None = None) -> None:
    """The figure `inspect_json_log_seconds`, emitted as perf/run.py's figures are."""
    f = json_log(size_mb, repeats, folder)
    peak, ratio = f["connector_peak_mb"], f["ratio_to_json_load"]
    emit(
        "inspect_json_log_seconds", f["connector_seconds"], "s",
        f"peak RSS < {PEAK_MB} MB and time within {RATIO:g}x of json_load",
        peak < PEAK_MB and ratio <= RATIO,
        baseline={"json_load_seconds": f["json_load_seconds"],
                  "json_load_peak_mb": f["json_load_peak_mb"],
                  "imports_only_peak_mb": f["imports_only_peak_mb"]},
        ratio_to_json_load=ratio, peak_mb=peak, file_mb=f["file_mb"], samples=int(f["samples"]),
        observations=int(f["observations"]), runs=repeats,
    )  # fmt: skip


def main(argv: list[str]) -> int:
    figure(int(argv[0]) if argv else 100)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Peak memory of `warden ingest` on a large observation file, beside the way it was read before
streaming, measured in the same run.

    .venv/bin/python perf/memory.py [SIZE_MB ...]      # default: 65 (the issue's file)
    .venv/bin/python perf/memory.py 33 65              # both files of issue 13

For each size, a file in warden's own observation schema (`observations_json`) of about SIZE_MB
MB (10^6 bytes: 65 MB is about 485,000 observations, 134 bytes each; 5,000 models on 50
benchmarks the catalog does not know, so no threshold is evaluated) is written one record at a
time, and each reading runs in a fresh process against a fresh SQLite store, its peak RSS read
from the kernel (`os.wait4`'s `ru_maxrss`: the process's own high-water mark):

- `now`: the real `warden ingest --connector observations_json FILE` (the figure);
- `before` (baseline): the same CLI with the connector's `parse` replaced by the whole-document
  read warden used before streaming (`json.loads` of the file, the list validated at once, a
  list of observations, which ingest then holds and inserts whole);
- `floor` (baseline): `warden ingest` of a file of ten observations (imports, catalog, store);
- `json_load` (baseline): `json.load` of the file in a bare `python`.

Target: peak RSS < 300 MB for the 65 MB file. Times are wall-clock seconds of the whole command
(after a read of the file into the page cache); on a busy machine they vary, the peaks do not.
MB here are MiB, as in the other figures (perf/harness.memory_mb).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import WARDEN, emit, say

REPO = Path(__file__).resolve().parents[1]
TARGET_MB = 300
# The CLI as `warden` runs it, with the connector reading each file whole as before streaming.
BEFORE = """
import sys
from connectors import observations_json as module
module.ObservationsJson.parse = lambda self, payload: module._whole(payload)
from warden.interfaces.cli.main import main
main(sys.argv[1:], prog_name="warden")
"""
JSON_LOAD = """
import json, sys
with open(sys.argv[1], "rb") as fp:
    json.load(fp)
"""


def write_batch(path: Path, size_bytes: int) -> int:
    """A list of distinct observations of about `size_bytes` bytes, written one record at a
    time; returns how many."""
    written = count = 0
    with path.open("w") as fp:
        fp.write("[")
        while written < size_bytes - 2:
            record = {
                "model": f"model-{count % 5000:05d}",
                "benchmark": f"bench-{count % 50:02d}",
                "metric": "accuracy",
                "value": round((count * 7919 % 10007) / 10007, 4),
                "observed_at": f"2026-03-{1 + count % 28:02d}T{count % 24:02d}:00:00+00:00",
            }
            written += fp.write((", " if count else "") + json.dumps(record))
            count += 1
        fp.write("]")
    return count


def measured(cmd: list[str], cwd: Path) -> dict[str, Any]:
    """Run `cmd`; its exit code, wall time, peak RSS (MB) and the end of its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    out = cwd / "out.txt"
    t0 = time.perf_counter()
    with out.open("wb") as fp:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fp, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    text = out.read_text(errors="replace")
    if code:
        raise RuntimeError(f"{' '.join(cmd[:3])}... exited {code}:\n{text[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_mb": round(usage.ru_maxrss / 1024, 1), "out": text}


def ingest(path: Path, folder: Path, before: bool = False) -> dict[str, Any]:
    """`warden ingest` of `path` into a fresh store in `folder` (the pre-streaming read with
    `before`)."""
    folder.mkdir()
    config = folder / "warden.yaml"
    config.write_text(f"database_url: sqlite:///{folder / 'warden.db'}\n")
    args = ["ingest", "--config", str(config), "--connector", "observations_json", str(path)]
    head = [sys.executable, "-c", BEFORE] if before else [str(WARDEN)]
    return measured([*head, *args], folder)


def figures(size_mb: float, tmp: Path) -> dict[str, Any]:
    path = tmp / f"observations-{size_mb:g}mb.json"
    count = write_batch(path, round(size_mb * 10**6))
    small = tmp / "small.json"
    write_batch(small, 1400)  # ten observations
    file_mb = path.stat().st_size / 10**6
    say(f"wrote {path.name}: {file_mb:.1f} MB, {count} observations")
    path.read_bytes()  # into the page cache, so no run pays for the disk
    floor = ingest(small, tmp / f"floor-{size_mb:g}")
    now = ingest(path, tmp / f"now-{size_mb:g}")
    say(f"now: {now['peak_mb']} MB peak, {now['seconds']} s")
    before = ingest(path, tmp / f"before-{size_mb:g}", before=True)
    say(f"before: {before['peak_mb']} MB peak, {before['seconds']} s")
    load = measured([sys.executable, "-c", JSON_LOAD, str(path)], tmp)
    for run in (now, before):
        if f"{count} new" not in run["out"]:
            raise RuntimeError(f"expected {count} new observations:\n{run['out'][-2000:]}")
    return {
        "file_mb": round(file_mb, 1),
        "observations": count,
        "now": now,
        "before": before,
        "floor": floor,
        "json_load": load,
    }


def figure(size_mb: float = 65, folder: Path | None = None) -> None:
    """The figure `ingest_peak_rss_mb` for a file of about `size_mb` MB, emitted as
    perf/run.py's figures are."""
    with tempfile.TemporaryDirectory(prefix="warden-perf-memory-", dir=folder) as tmp:
        f = figures(size_mb, Path(tmp))
    now, before = f["now"], f["before"]
    emit(
        "ingest_peak_rss_mb", now["peak_mb"], "MB", f"< {TARGET_MB} MB",
        now["peak_mb"] < TARGET_MB,
        baseline={"before_streaming_peak_mb": before["peak_mb"],
                  "floor_peak_mb": f["floor"]["peak_mb"],
                  "json_load_peak_mb": f["json_load"]["peak_mb"]},
        ratio_to_before=round(now["peak_mb"] / before["peak_mb"], 3),
        seconds=now["seconds"], before_seconds=before["seconds"],
        file_mb=f["file_mb"], observations=f["observations"],
    )  # fmt: skip


def main(argv: list[str]) -> int:
    for size in [float(a) for a in argv] or [65.0]:
        figure(size)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

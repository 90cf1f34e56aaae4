"""A large observation file is ingested in bounded memory: the real `warden ingest` in a
subprocess, its peak RSS as the kernel counts it (`os.wait4`'s `ru_maxrss`), beside the same
command on a file of ten observations (imports, the catalog, the store: what any ingest costs).

Before streaming, a file of N observations took about 1.7 KB of memory per observation over the
floor (the document decoded whole, validated whole, then every observation at once): 150,000
of them, a 20 MB file, peaked around 430 MB. Now the file's own bytes and a few chunks are held:
the bound asserted is the file's size plus 60 MiB over the floor (a tenth of the old
growth), and it grows with the file only by the file itself. perf/memory.py measures the issue's
65 MB file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

OBSERVATIONS = 150_000
MIB = 2**20
WORKING_SET_MIB = 60  # allowed over the floor beyond the file's own bytes
WARDEN = Path(sys.executable).with_name("warden")


def write_batch(path: Path, count: int) -> None:
    """A batch of `count` distinct observations in warden's own schema, written one at a time
    (never held whole here either): 5,000 models on 50 benchmarks, values in [0, 1)."""
    with path.open("w") as fp:
        fp.write("[")
        for i in range(count):
            record = {
                "model": f"model-{i % 5000:05d}",
                "benchmark": f"bench-{i % 50:02d}",
                "metric": "accuracy",
                "value": round((i * 7919 % 10007) / 10007, 4),
                "observed_at": f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00",
            }
            fp.write((", " if i else "") + json.dumps(record))
        fp.write("]")


def ingest(path: Path, config: Path, out: Path) -> tuple[int, str, float]:
    """`warden ingest --connector observations_json PATH`: exit code, stdout and peak RSS (MiB)
    of that one process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    cmd = [str(WARDEN), "ingest", "--config", str(config), "--connector", "observations_json"]
    with out.open("wb") as fp:
        proc = subprocess.Popen([*cmd, str(path)], stdout=fp, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out.read_text(), usage.ru_maxrss / 1024  # KiB on Linux


def test_a_large_file_is_ingested_in_bounded_memory(tmp_path: Path) -> None:
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'warden.db'}\n")
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    write_batch(small, 10)
    write_batch(large, OBSERVATIONS)
    size_mib = large.stat().st_size / MIB

    code, output, floor = ingest(small, config, tmp_path / "small.out")
    assert code == 0 and "10 new" in output, output
    code, output, peak = ingest(large, config, tmp_path / "large.out")
    assert code == 0, output
    # The ten are known already; everything else is new.
    assert f"{OBSERVATIONS - 10} new, 10 already known, 0 rejected" in output, output

    bound = floor + size_mib + WORKING_SET_MIB
    assert peak < bound, (
        f"peak RSS {peak:.0f} MiB for {OBSERVATIONS} observations ({size_mib:.0f} MiB), "
        f"over the bound {bound:.0f} MiB (floor {floor:.0f} MiB)"
    )

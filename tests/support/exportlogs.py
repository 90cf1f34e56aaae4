"""What the trigger-log export tests share (tests/triggerlog/test_export.py,
tests/triggerlog/test_keys.py): a
trigger log written by warden's own code on a real store, the CLI, and ways to read and tamper
with an export."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from tests.support.factories import T0, TINY_CATALOG
from warden.alerting.assessments import record
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.core.chain import Entry
from warden.core.model import Observation
from warden.interfaces.cli.log import register
from warden.interfaces.cli.main import main
from warden.store import alerts
from warden.store import observations as obs_rows

register(main)

MATCH, INCLUDES = "test.tiny.match.high", "test.tiny.includes.high"
# A subject with a comma, quotes, a non-ASCII letter and U+2028 (a line break to
# str.splitlines): CSV must quote it and no reader may split the line on it.
SUBJECT = 'lab/m,"ü"\u2028x'
SECOND = (
    TINY_CATALOG
    + f"""
  - id: {INCLUDES}
    title: Tiny task, includes scorer
    domain: test
    level: high
    sources: [{{title: F, url: "https://example.org/"}}]
    when: {{benchmark: tiny, metric: includes/accuracy, op: ">=", value: 0.5}}
    then: {{severity: warning}}
"""
)
# seq: 1 catalog, 2 match firing, 3 match resolved, 4 assessment, 5 catalog (+includes),
# 6-7 both thresholds firing (in either order); `at` per seq:
AT = [T0, T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)]
AT += [T0 + timedelta(minutes=30)] + [T0 + timedelta(minutes=40)] * 2


@dataclass
class Log:
    config: Path
    entries: list[Entry]
    folder: Path


def build_log(tmp_path: Path, db_url: str, subject: str = SUBJECT) -> Log:
    """A trigger log written by warden's own code (see AT), on `db_url`, about `subject`."""
    cat = tmp_path / "catalog.yaml"
    cat.write_text(TINY_CATALOG)
    now = [T0]
    w = Warden(Settings(database_url=db_url, catalog=[str(cat)]), clock=lambda: now[0])

    def put(metric: str, value: float, key: str) -> None:
        o = Observation(subject, "tiny", metric, value, now[0], key, "test", "0" * 64)
        with w.store.write() as conn:
            obs_rows.insert_observations(conn, "f", [o], now[0])

    try:
        assert w.note_catalog() == 1
        for i, value in enumerate([0.9, 0.1]):
            put("match/accuracy", value, f"m{i}")
            assert len(w.evaluate().transitions) == 1
            now[0] += timedelta(minutes=10)
        record(w.store, w.catalog.registry, w.clock, "lab/m", "alice", note="full run\nv2")
        now[0] += timedelta(minutes=10)
        cat.write_text(SECOND)
        assert w.reload_catalog()
        now[0] += timedelta(minutes=10)
        put("match/accuracy", 0.9, "m2")
        put("includes/accuracy", 0.8, "i0")
        assert len(w.evaluate().transitions) == 2
        with w.store.read() as conn:
            entries = list(alerts.entries(conn))
    finally:
        w.close()
    kinds = "catalog transition transition assessment catalog transition transition"
    assert [e.kind for e in entries] == kinds.split()
    assert [e.at for e in entries] == AT
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: {json.dumps(db_url)}\n")
    return Log(config, entries, tmp_path)


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def export(log: Log, name: str, *args: str | Path) -> Path:
    out = log.folder / name
    r = warden("log", "export", "-c", log.config, "-o", out, *args)
    assert r.exit_code == 0, r.output
    return out


def verify(path: Path, *args: str | Path) -> Result:
    return warden("log", "verify-export", path, *args)


def read(path: Path) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The header and rows of an export, read the way a consumer would."""
    text = path.read_bytes().decode()
    first, _, rest = text.partition("\n")
    if first.startswith("# "):
        rows: list[dict[str, object]] = list(csv.DictReader(io.StringIO(rest, newline="")))
        return json.loads(first[2:]), rows
    return json.loads(first), [json.loads(line) for line in rest.split("\n") if line]


def key_file(folder: Path, name: str = "log.key", size: int = 32) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    path.chmod(0o600)
    return path


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def line_of(path: Path, seq: int) -> int:
    """The index in lines(path) of entry `seq`."""
    _, rows = read(path)
    first = 2 if path.suffix == ".csv" else 1
    return first + [int(str(r["seq"])) for r in rows].index(seq)


def edit(path: Path, index: int, old: bytes, new: bytes) -> None:
    parts = lines(path)
    assert old in parts[index]
    parts[index] = parts[index].replace(old, new, 1)
    path.write_bytes(b"\n".join(parts))


def drop(path: Path, index: int) -> None:
    parts = lines(path)
    del parts[index]
    path.write_bytes(b"\n".join(parts))


def fails(path: Path, message: str, *args: str | Path) -> None:
    r = verify(path, *args)
    assert r.exit_code == 1, r.output
    assert r.stderr.splitlines()[-1].startswith(f"warden: error: {path}: ")
    assert message in r.stderr, r.stderr


def key_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]

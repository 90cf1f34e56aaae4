"""`warden log export`, `warden log verify-export` and `warden log keygen` on real SQLite and
PostgreSQL stores, with trigger logs written by warden's own code: evaluation cycles, an
assessment, catalog changes; signed with HMAC keys and with Ed25519 key pairs."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.factories import T0, TINY_CATALOG
from warden.assess import record
from warden.cli import main
from warden.cli_log import register
from warden.daemon import Warden
from warden.logexport import COLUMNS, Filters, select
from warden.model import Observation
from warden.settings import Settings
from warden.store import Store, alerts
from warden.store import observations as obs_rows
from warden.triggerlog import GENESIS, Entry, canonical, chain_hash

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


@pytest.fixture
def log(tmp_path: Path, db_url: str) -> Log:
    cat = tmp_path / "catalog.yaml"
    cat.write_text(TINY_CATALOG)
    now = [T0]
    w = Warden(Settings(database_url=db_url, catalog=[str(cat)]), clock=lambda: now[0])

    def put(metric: str, value: float, key: str) -> None:
        o = Observation(SUBJECT, "tiny", metric, value, now[0], key, "test", "0" * 64)
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


# Both formats hold every entry, exactly as stored.


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_holds_every_entry_as_stored(log: Log, fmt: str) -> None:
    path = export(log, f"log.{fmt}", "--format", fmt)
    header, rows = read(path)
    assert len(lines(path)) == (3 if fmt == "csv" else 2) + 7  # U+2028 split no line
    assert header["scope"] == "complete" and header["format"] == fmt
    assert header["log_head"] == {"seq": 7, "hash": log.entries[-1].hash}
    assert "64 zeros" in str(header["note"])
    assert list(rows[0]) == list(COLUMNS)
    for x, e in zip(rows, log.entries, strict=True):
        assert int(str(x["seq"])) == e.seq
        assert x["at"] == e.at.isoformat()
        assert (x["kind"], x["threshold"], x["threshold_version"]) == (
            e.kind,
            e.threshold,
            e.threshold_version,
        )
        assert (x["subject"], x["from"], x["to"]) == (e.subject, e.from_state, e.to_state)
        assert (x["content"], x["prev_hash"], x["hash"]) == (e.content, e.prev_hash, e.hash)
        assert chain_hash(str(x["prev_hash"]), str(x["content"])) == x["hash"]
    assert rows[1]["subject"] == SUBJECT and rows[0]["prev_hash"] == GENESIS
    assert json.loads(str(rows[3]["content"]))["note"] == "full run\nv2"
    assert {r["threshold"] for r in rows[5:]} == {MATCH, INCLUDES}
    r = verify(path)
    assert r.exit_code == 0, r.output
    assert f"7 entries (seq 1 to 7), {fmt}" in r.stdout
    assert f"the whole chain verifies up to the log head {log.entries[-1].hash}" in r.stdout
    assert "not signed" in r.stdout
    # the head a reader compares is the one `warden log verify` prints
    assert log.entries[-1].hash in warden("log", "verify", "-c", log.config).stdout


def test_stdout_gets_the_same_entries_and_nothing_else(log: Log) -> None:
    path = export(log, "log.jsonl")
    r = warden("log", "export", "-c", log.config)
    assert r.exit_code == 0
    assert r.stdout_bytes.split(b"\n")[1:] == lines(path)[1:]  # the header has its own time
    assert r.stderr == "exported 7 of 7 entries (seq 1 to 7) as jsonl to stdout\n"
    csv_out = warden("log", "export", "-c", log.config, "--format", "csv").stdout_bytes
    assert csv_out.split(b"\n")[1:] == lines(export(log, "log.csv", "--format", "csv"))[1:]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_signed_export_round_trips(log: Log, fmt: str) -> None:
    key = key_file(log.folder)
    path = export(log, f"log.{fmt}", "--format", fmt, "--sign", key)
    sig = json.loads(Path(f"{path}.sig").read_text())
    assert sig["alg"] == "hmac-sha256"
    assert sig["key_id"] == hashlib.sha256(key.read_bytes()).hexdigest()[:16]
    assert sig["export_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (sig["entries"], sig["first_seq"], sig["last_seq"]) == (7, 1, 7)
    assert sig["head_hash"] == log.entries[-1].hash
    assert set(sig) == {"alg", "key_id", "export_sha256", "entries", "first_seq", "last_seq"} | {
        "head_hash",
        "created_at",
        "signature",
    }
    r = verify(path, "--key", key)
    assert r.exit_code == 0, r.output
    assert f"signature valid (hmac-sha256, key id {sig['key_id']}" in r.stdout
    r = verify(path)  # no key: the chain and the signed bytes are checked, not the HMAC
    assert r.exit_code == 0 and "signature present but not checked (give --key)" in r.stdout
    moved = log.folder / "elsewhere.sig"
    Path(f"{path}.sig").rename(moved)
    assert verify(path, "--key", key, "--signature", moved).exit_code == 0


# Filters.


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize(
    ("args", "seqs", "scope"),
    [
        (["--threshold", MATCH], None, "filtered"),
        (["--kind", "assessment"], [4], "filtered"),
        (["--kind", "catalog", "--kind", "assessment"], [1, 4, 5], "filtered"),
        (["--since", "2026-01-01T00:15:00Z"], [4, 5, 6, 7], "contiguous"),
        (["--until", "2026-01-01T00:25:00+00:00"], [1, 2, 3, 4], "contiguous"),
        (["--since", "2026-01-01T00:05Z", "--until", "2026-01-01T00:30Z"], [3, 4], "contiguous"),
        (["--since", "2027-01-01"], [], "contiguous"),
        (["--threshold", MATCH, "--since", "2026-01-01T00:05:00Z"], None, "filtered"),
    ],
)
def test_filtered_exports_verify(
    log: Log, fmt: str, args: list[str], seqs: list[int] | None, scope: str
) -> None:
    key = key_file(log.folder)
    path = export(log, f"part.{fmt}", "--format", fmt, *args, "--sign", key)
    header, rows = read(path)
    since = "--since" in args and args[args.index("--since") + 1]
    if seqs is None:  # this threshold's entries in the run
        seqs = [e.seq for e in log.entries if e.threshold == MATCH and (not since or e.at > T0)]
    assert [int(str(r["seq"])) for r in rows] == seqs
    assert header["scope"] == scope
    assert header["log_head"] == {"seq": 7, "hash": log.entries[-1].hash}
    r = verify(path, "--key", key)
    assert r.exit_code == 0, r.output
    assert f"{len(seqs)} entries" in r.stdout and "signature valid" in r.stdout
    if scope == "filtered":
        assert "filtered (threshold=" in r.stdout or "filtered (kind=" in r.stdout
        assert "not followed across the gaps" in r.stdout
    elif seqs:
        assert f"the {len(seqs) - 1} links between them verify" in r.stdout


def test_select_stops_at_the_head_read_before_the_entries(log: Log) -> None:
    """Entries appended while an export runs are left out, so log_head describes the export."""
    assert [e.seq for e in select(log.entries, Filters(), 5)] == [1, 2, 3, 4, 5]
    assert [e.seq for e in select(log.entries, Filters(kinds=("catalog",)), 4)] == [1]


# Tampering.


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


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("signed", [False, True])
def test_one_edited_byte_of_content_names_the_entry(log: Log, fmt: str, signed: bool) -> None:
    key = key_file(log.folder)
    path = export(log, f"log.{fmt}", "--format", fmt, *(["--sign", str(key)] if signed else []))
    i = line_of(path, 4)
    edit(path, i, b"alice", b"alicf")  # `by` is in the content only
    fails(path, f"line {i + 1} (seq 4): hash does not match the entry's content and prev_hash")


@pytest.mark.parametrize(
    ("fmt", "old", "new"),
    [("jsonl", b'"subject": "lab/m"', b'"subject": "lab/n"'), ("csv", b",lab/m,", b",lab/n,")],
)
def test_an_edited_column_is_caught_against_the_content(
    log: Log, fmt: str, old: bytes, new: bytes
) -> None:
    path = export(log, f"log.{fmt}", "--format", fmt)
    edit(path, line_of(path, 4), old, new)
    fails(path, "(seq 4): column 'subject' ('lab/n') differs from the hashed content")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_dropped_and_reordered_lines_break_the_chain(log: Log, fmt: str) -> None:
    path = export(log, f"log.{fmt}", "--format", fmt)
    original = path.read_bytes()
    drop(path, line_of(path, 3))
    fails(path, "broken chain at seq 4: seq 3 missing")
    path.write_bytes(original)
    drop(path, line_of(path, 7))
    fails(path, f"ends at seq 6 but the log's head was seq 7 ({log.entries[-1].hash})")
    path.write_bytes(original)
    drop(path, line_of(path, 1))
    fails(path, "(seq 2): the export should start at seq 1")
    path.write_bytes(original)
    parts = lines(path)
    a, b = line_of(path, 3), line_of(path, 4)
    parts[a], parts[b] = parts[b], parts[a]
    path.write_bytes(b"\n".join(parts))
    fails(path, f"line {b + 1} (seq 3): out of order: it comes after seq 4")
    path.write_bytes(original[:-1])
    fails(path, "the last line has no newline: the export was cut short")


def test_a_dropped_line_of_a_filtered_export_needs_the_signature(log: Log) -> None:
    key = key_file(log.folder)
    path = export(log, "match.jsonl", "--threshold", MATCH, "--sign", key)
    drop(path, line_of(path, 3))
    # seq 2 then 7: a gap a filter could have made; only the signature tells
    assert verify(path).exit_code == 1  # the signed bytes changed, even without the key
    fails(path, "the export's bytes differ from those signed", "--key", key)
    Path(f"{path}.sig").unlink()
    r = verify(path)
    last = max(e.seq for e in log.entries if e.threshold == MATCH)
    assert r.exit_code == 0 and f"2 entries (seq 2 to {last})" in r.stdout


def test_a_rechained_forgery_passes_unsigned_but_not_signed(log: Log) -> None:
    """Rewriting an entry and every hash after it, header included, fools a reader who has no
    signature and no head hash kept elsewhere: this is what signing is for."""
    key = key_file(log.folder)
    path = export(log, "log.jsonl", "--sign", key)
    header, rows = read(path)
    prev = GENESIS
    for x in rows:
        x["content"] = str(x["content"]).replace('"by":"alice"', '"by":"mallory"')
        x["prev_hash"], x["hash"] = prev, chain_hash(prev, str(x["content"]))
        prev = str(x["hash"])
    header["log_head"] = {"seq": 7, "hash": prev}
    text = json.dumps(header) + "\n" + "".join(json.dumps(x) + "\n" for x in rows)
    path.write_text(text)
    assert prev != log.entries[-1].hash
    fails(path, "the export's bytes differ from those signed", "--key", key)
    Path(f"{path}.sig").unlink()
    r = verify(path)
    assert r.exit_code == 0 and prev in r.stdout  # a head that `warden log verify` disowns


def test_wrong_key_and_altered_signature_files(log: Log) -> None:
    key, other = key_file(log.folder), key_file(log.folder, "other.key")
    path = export(log, "log.csv", "--format", "csv", "--sign", key)
    sig_path = Path(f"{path}.sig")
    fails(path, f"wrong key: the export was signed with key id {key_id(key)}", "--key", other)
    doc = json.loads(sig_path.read_text())
    sig_path.write_text(json.dumps({**doc, "created_at": "2020-01-01T00:00:00+00:00"}))
    fails(path, "signature does not match: the signature file was altered", "--key", key)
    sig_path.write_text(json.dumps({**doc, "entries": 6}))
    fails(path, "signature file: describes entries (6, 1, 7", "--key", key)
    sig_path.write_text(json.dumps({**doc, "alg": "rsa-pss"}))
    fails(path, "alg 'rsa-pss' is not supported (ed25519, hmac-sha256)", "--key", key)
    sig_path.write_text("{not json")
    fails(path, "signature file: not JSON", "--key", key)
    sig_path.write_text(json.dumps(doc))
    edit(path, 0, b'"exported_at":"', b'"exported_at":" ')  # the header is signed too
    fails(path, "the export's bytes differ from those signed", "--key", key)


def key_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_files_that_are_not_exports(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text("seq,at\n1,2\n")
    fails(junk, "line 1 is not a warden log export header")
    junk.write_bytes(b"\xff\xfe")
    fails(junk, "not UTF-8 text (byte 0)")


# Usage errors (exit 2) and their neighbours.


def test_usage_errors_exit_2(log: Log) -> None:
    path = export(log, "log.jsonl")
    short = key_file(log.folder, "short.key", 31)
    cases: list[tuple[list[str | Path], str]] = [
        (["log", "verify-export", log.folder / "absent.jsonl"], "No such file"),
        (["log", "verify-export", path, "--key", log.folder / "absent.key"], "key file"),
        (["log", "verify-export", path, "--key", short], "31 bytes; an HMAC key needs at least 32"),
        (["log", "verify-export", path, "--key", log.folder], "key file"),
        (["log", "verify-export", path, "--signature", log.folder / "x.sig"], "not found"),
        (["log", "export", "-c", log.config, "--sign", key_file(log.folder)], "needs --output"),
        (["log", "export", "-c", log.config, "-o", path, "--sign", short], "31 bytes"),
        (["log", "export", "-c", log.config, "--since", "yesterday"], "--since: not a date"),
        (["log", "export", "-c", log.config, "--until", "2026-01-01T10:00:00"], "offset"),
        (
            ["log", "export", "-c", log.config, "--since", "2026-02-01", "--until", "2026-01-01"],
            "--until must be later than --since",
        ),
        (["log", "export", "-c", log.config, "--format", "xml"], "xml"),
    ]
    for args, message in cases:
        r = warden(*args)
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output, (args, r.output)
        assert "Traceback" not in r.output
    # a key but no signature: a failed check, not a usage error
    fails(path, f"not signed: {path}.sig not found", "--key", key_file(log.folder))


def test_key_rules(log: Log) -> None:
    exact = key_file(log.folder, "exact.key", 32)
    exact.chmod(0o644)
    r = warden("log", "export", "-c", log.config, "-o", log.folder / "e.jsonl", "--sign", exact)
    assert r.exit_code == 0 and "readable by others (chmod 600)" in r.stderr
    # the key is the file's bytes exactly: a trailing newline added later is another key
    with exact.open("ab") as f:
        f.write(b"\n")
    fails(log.folder / "e.jsonl", "wrong key", "--key", exact)


def test_an_unsigned_export_replaces_a_stale_signature(log: Log) -> None:
    key = key_file(log.folder)
    path = export(log, "log.jsonl", "--sign", key)
    r = warden("log", "export", "-c", log.config, "-o", path)
    assert r.exit_code == 0 and f"removed {path}.sig" in r.stderr
    assert not Path(f"{path}.sig").exists() and verify(path).exit_code == 0
    assert not Path(f"{path}.partial").exists()


def test_an_empty_log_exports_and_verifies(tmp_path: Path, db_url: str) -> None:
    store = Store(db_url)
    store.upgrade()
    store.dispose()
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: {json.dumps(db_url)}\n")
    key = key_file(tmp_path)
    for fmt in ("jsonl", "csv"):
        path = tmp_path / f"empty.{fmt}"
        r = warden("log", "export", "-c", config, "--format", fmt, "-o", path, "--sign", key)
        assert r.exit_code == 0 and "exported 0 of 0 entries" in r.stderr
        sig = json.loads(Path(f"{path}.sig").read_text())
        assert (sig["entries"], sig["first_seq"], sig["head_hash"]) == (0, None, None)
        r = verify(path, "--key", key)
        assert r.exit_code == 0 and "0 entries" in r.stdout and GENESIS in r.stdout


def test_an_unwritable_output_is_a_usage_error(log: Log) -> None:
    r = warden("log", "export", "-c", log.config, "-o", log.folder / "no" / "such" / "dir.jsonl")
    assert r.exit_code == 2 and "--output" in r.stderr and "No such file" in r.stderr


def test_the_command_line_constants_match_the_module() -> None:
    from warden import cli_log, logexport

    assert cli_log.FORMATS == logexport.FORMATS


# Ed25519: `warden log keygen`, signing with the private key, checking with the public key only.


def keygen(folder: Path, name: str = "export.key") -> tuple[Path, Path, str]:
    """A key pair made by `warden log keygen`: the private key file, the public one, the id."""
    r = warden("log", "keygen", folder / name)
    assert r.exit_code == 0, r.output
    kid = r.stdout.split()[2].rstrip(":")
    return folder / name, folder / f"{name}.pub", kid


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_keygen_writes_a_private_key_for_its_owner_and_a_public_key(
    tmp_path: Path, umask: int
) -> None:
    old = os.umask(umask)  # 0: a file created wide and narrowed later would be 0644 for a moment
    try:
        private, public, kid = keygen(tmp_path)
    finally:
        os.umask(old)
    assert (mode(private), mode(public)) == (0o600, 0o644)
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")  # SubjectPublicKeyInfo
    key = serialization.load_pem_private_key(private.read_bytes(), None)
    pub = serialization.load_pem_public_key(public.read_bytes())
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert (
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        == raw
    )
    assert kid == hashlib.sha256(raw).hexdigest()[:16]
    assert keygen(tmp_path, "second.key")[2] != kid


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    private, public, _ = keygen(tmp_path)
    before = (private.read_bytes(), public.read_bytes())
    r = warden("log", "keygen", private)
    assert r.exit_code == 2 and f"{private}: already exists" in r.stderr, r.output
    assert (private.read_bytes(), public.read_bytes()) == before
    public.rename(tmp_path / "lone.key.pub")  # only KEYFILE.pub there: refused too, nothing made
    r = warden("log", "keygen", tmp_path / "lone.key")
    assert r.exit_code == 2 and "lone.key.pub: already exists" in r.stderr, r.output
    assert not (tmp_path / "lone.key").exists()
    (tmp_path / "link.key").symlink_to(tmp_path / "nowhere")  # a dangling link is not followed
    assert warden("log", "keygen", tmp_path / "link.key").exit_code == 2
    assert not (tmp_path / "nowhere").exists()
    r = warden("log", "keygen", tmp_path / "no" / "dir.key")
    assert r.exit_code == 2 and "No such file" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_ed25519_signature_verifies_with_the_public_key_alone(log: Log, fmt: str) -> None:
    private, public, kid = keygen(log.folder)
    path = export(log, f"log.{fmt}", "--format", fmt, "--sign", private)
    sig = json.loads(Path(f"{path}.sig").read_text())
    assert (sig["alg"], sig["key_id"]) == ("ed25519", kid)
    assert sig["export_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (sig["entries"], sig["first_seq"], sig["last_seq"]) == (7, 1, 7)
    # what a reader without warden checks: standard padded base64 of an Ed25519 signature over
    # the canonical JSON of the other fields
    raw = base64.b64decode(sig["signature"], validate=True)
    assert len(raw) == 64 and base64.b64encode(raw).decode() == sig["signature"]
    signed = canonical({k: v for k, v in sig.items() if k != "signature"}).encode()
    pub = serialization.load_pem_public_key(public.read_bytes())
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    pub.verify(raw, signed)  # raises if not
    # governance staff receive FILE, FILE.sig and KEYFILE.pub; the private key stays behind
    away = log.folder / "kept"
    away.mkdir()
    private.rename(away / private.name)
    r = verify(path, "--key", public)
    assert r.exit_code == 0, r.output
    assert f"signature valid (ed25519, key id {kid}, made {sig['created_at']})" in r.stdout
    assert "readable by others" not in r.stderr  # a public key is meant to be read
    r = verify(path, "--key", away / private.name)  # the private key verifies too
    assert r.exit_code == 0 and "signature valid (ed25519" in r.stdout, r.output
    r = verify(path)
    assert r.exit_code == 0 and f"signature present but not checked (give --key): key id {kid}" in (
        r.stdout
    )


def test_tampering_with_an_ed25519_signed_export(log: Log) -> None:
    private, public, kid = keygen(log.folder)
    path = export(log, "log.jsonl", "--sign", private)
    sig_path = Path(f"{path}.sig")
    original, doc = path.read_bytes(), json.loads(sig_path.read_text())
    edit(path, 0, b'"exported_at":"', b'"exported_at":" ')  # the export's bytes
    fails(path, "the export's bytes differ from those signed", "--key", public)
    path.write_bytes(original)
    assert verify(path, "--key", public).exit_code == 0
    # a field of the signature file: each is signed
    sig_path.write_text(json.dumps({**doc, "created_at": "2020-01-01T00:00:00+00:00"}))
    fails(path, "signature does not match: the signature file was altered", "--key", public)
    sig_path.write_text(json.dumps({**doc, "entries": 6}))
    fails(path, "signature file: describes entries (6, 1, 7", "--key", public)
    sig_path.write_text(json.dumps({**doc, "key_id": "0" * 16}))
    fails(path, f"signed with key id {'0' * 16}, --key has id {kid}", "--key", public)
    # the signature itself: another valid signature, one bit flipped, the same bytes spelt
    # otherwise (padding bits set), not base64, cut short, unpadded, not text
    other = ed25519.Ed25519PrivateKey.generate().sign(b"something else")
    raw = bytearray(base64.b64decode(doc["signature"]))
    raw[10] ^= 1
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = digits.index(doc["signature"][-3])  # 64 bytes end "Xy==": y's low 4 bits are padding
    respelt = doc["signature"][:-3] + digits[last ^ 1] + "=="
    assert base64.b64decode(respelt) == base64.b64decode(doc["signature"])
    for bad in [
        base64.b64encode(other).decode(),
        base64.b64encode(bytes(raw)).decode(),
        respelt,
        "not base64!",
        "é" * 88,
        doc["signature"][:-8],
        doc["signature"].rstrip("="),
        17,
    ]:
        sig_path.write_text(json.dumps({**doc, "signature": bad}))
        fails(path, "signature does not match: the signature file was altered", "--key", public)
    sig_path.write_text(json.dumps(doc))
    assert verify(path, "--key", public).exit_code == 0


def test_an_ed25519_signature_and_the_wrong_key(log: Log) -> None:
    private, public, kid = keygen(log.folder)
    _, other_public, other_kid = keygen(log.folder, "other.key")
    path = export(log, "log.jsonl", "--sign", private)
    fails(
        path,
        f"wrong key: the export was signed with key id {kid}, --key has id {other_kid}",
        "--key",
        other_public,
    )
    hmac_key = key_file(log.folder, "hmac.key")
    fails(path, "wrong kind of key: the export was signed with ed25519", "--key", hmac_key)
    fails(path, "give the Ed25519 public key (KEYFILE.pub", "--key", hmac_key)
    hmac_path = export(log, "hmac.jsonl", "--sign", hmac_key)
    fails(hmac_path, "wrong kind of key: the export was signed with hmac-sha256", "--key", public)
    fails(hmac_path, "--key is an Ed25519 key", "--key", public)
    assert verify(hmac_path, "--key", hmac_key).exit_code == 0  # HMAC as before


def pem_files(folder: Path) -> dict[str, Path]:
    """Key files warden must refuse to sign with: other algorithms, public, encrypted."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    plain = serialization.NoEncryption()
    files = {
        "rsa": rsa_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, plain),
        "rsa.pub": rsa_key.public_key().public_bytes(pem, spki),
        "ec": ec_key.private_bytes(pem, pkcs8, plain),
        "ed.pub": ed_key.public_key().public_bytes(pem, spki),
        "ed.enc": ed_key.private_bytes(
            pem, pkcs8, serialization.BestAvailableEncryption(b"passphrase")
        ),
        "cert": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "broken": b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
        (folder / name).chmod(0o600)
    return {name: folder / name for name in files}


def test_a_pem_key_that_is_not_an_ed25519_private_key_cannot_sign(log: Log) -> None:
    files = pem_files(log.folder)
    out = log.folder / "log.jsonl"
    expected = {
        "rsa": "an RSA private key, not an Ed25519 key",
        "rsa.pub": "an RSA public key, not an Ed25519 key",
        "ec": "an EC (secp256r1) private key, not an Ed25519 key",
        "ed.pub": "an Ed25519 public key, which cannot sign: --sign needs the private key",
        "ed.enc": "an encrypted private key; warden needs it unencrypted",
        "cert": "a PEM 'CERTIFICATE', not a key",
        "broken": "a PEM 'PRIVATE KEY' that is not a readable key",
    }
    for name, message in expected.items():
        r = warden("log", "export", "-c", log.config, "-o", out, "--sign", files[name])
        assert r.exit_code == 2, (name, r.output)
        assert f"warden: error: key file {files[name]}: {message}" in r.stderr, (name, r.stderr)
        assert "Traceback" not in r.output and not out.exists()
    path = export(log, "signed.jsonl", "--sign", keygen(log.folder)[0])
    r = verify(path, "--key", files["rsa.pub"])  # verifying with one is a usage error too
    assert r.exit_code == 2 and "an RSA public key, not an Ed25519 key" in r.stderr, r.output


def test_a_private_key_readable_by_others_is_used_with_a_warning(log: Log) -> None:
    private, public, _ = keygen(log.folder)
    private.chmod(0o644)
    r = warden("log", "export", "-c", log.config, "-o", log.folder / "e.jsonl", "--sign", private)
    assert r.exit_code == 0 and f"key file {private} is readable by others" in r.stderr
    assert "(ed25519, key id" in r.stderr
    assert verify(log.folder / "e.jsonl", "--key", public).exit_code == 0


def test_the_cli_imports_cryptography_only_when_a_key_needs_it() -> None:
    code = "import sys, warden.cli; print('cryptography' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

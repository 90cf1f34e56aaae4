"""`warden log export` and `warden log verify-export` on real SQLite and PostgreSQL stores, with
trigger logs written by warden's own code (tests/support/exportlogs.py), signed with HMAC keys;
Ed25519
key pairs: tests/triggerlog/test_keys.py."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from tests.support.exportlogs import (
    INCLUDES,
    MATCH,
    SUBJECT,
    Log,
    build_log,
    drop,
    edit,
    export,
    fails,
    key_file,
    key_id,
    line_of,
    lines,
    read,
    verify,
    warden,
)
from tests.support.factories import T0
from warden.core.chain import GENESIS, chain_hash
from warden.core.merkle import leaf_hash, root_of
from warden.store import Store
from warden.triggerlog.checkpoint import Checkpoint
from warden.triggerlog.export import COLUMNS, Filters, select


@pytest.fixture
def log(tmp_path: Path, db_url: str) -> Log:
    return build_log(tmp_path, db_url)


# Both formats hold every entry, exactly as stored.


@pytest.mark.parametrize(
    "subject",
    ['=HYPERLINK("https://evil.example/","click")', "@SUM(1+1)", "+cmd|' /C calc'!A0", "-x", "'=x"],
)
def test_csv_cells_never_start_a_formula_and_still_verify(
    tmp_path: Path, db_url: str, subject: str
) -> None:
    log = build_log(tmp_path, db_url, subject=subject)
    path = export(log, "log.csv", "--format", "csv")
    body = path.read_text().split("\n", 1)[1]
    cells = [c for row in csv.reader(io.StringIO(body, newline="")) for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'" + subject in cells
    r = verify(path, "--allow-unsigned")
    assert r.exit_code == 0, r.output


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
    r = verify(path, "--allow-unsigned")
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
    assert r.exit_code == 1 and "signature present but not checked (give --key)" in r.stderr
    r = verify(path, "--allow-unsigned")
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
    r = verify(path, "--allow-unsigned")
    last = max(e.seq for e in log.entries if e.threshold == MATCH)
    assert r.exit_code == 0 and f"2 entries (seq 2 to {last})" in r.stdout


def test_a_rechained_forgery_is_refused_unsigned_unless_allowed_and_fails_signed(log: Log) -> None:
    """Rewriting an entry and every hash after it, header included, fools a reader who has no
    signature and no head hash kept elsewhere: this is what signing is for. So an export without
    a checked signature fails (exit 1) unless --allow-unsigned, which says what it proves."""
    key = key_file(log.folder)
    path = export(log, "log.jsonl", "--sign", key)
    header, rows = read(path)
    prev = GENESIS
    for x in rows:
        x["content"] = str(x["content"]).replace('"by":"alice"', '"by":"mallory"')
        x["prev_hash"], x["hash"] = prev, chain_hash(prev, str(x["content"]))
        prev = str(x["hash"])
    header["log_head"] = {"seq": 7, "hash": prev}
    # ... and the checkpoint the header carries: its Merkle root over the forged entries.
    forged = Checkpoint("forger", 7, root_of([leaf_hash(str(x["content"]).encode()) for x in rows]))
    header["checkpoint"] = forged.text
    text = json.dumps(header) + "\n" + "".join(json.dumps(x) + "\n" for x in rows)
    path.write_text(text)
    assert prev != log.entries[-1].hash
    fails(path, "the export's bytes differ from those signed", "--key", key)
    Path(f"{path}.sig").unlink()
    r = verify(path)
    assert r.exit_code == 1, r.output
    assert "not signed: the hashes prove only that the file is consistent with itself" in r.stderr
    assert "--allow-unsigned" in r.stderr and "Traceback" not in r.output
    r = verify(path, "--allow-unsigned")
    assert r.exit_code == 0 and prev in r.stdout  # a head that `warden log verify` disowns
    assert r.stdout.startswith("ok (unsigned): ") and "consistent with itself" in r.stdout


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
    assert not Path(f"{path}.sig").exists() and verify(path, "--allow-unsigned").exit_code == 0
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
    from warden.interfaces.cli import log as cli_log
    from warden.triggerlog import export as logexport

    assert cli_log.FORMATS == logexport.FORMATS

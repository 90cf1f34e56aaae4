"""Trigger-log exports (`warden log export`) and their offline check (`warden log verify-export`).

An export is UTF-8 text, one record per line, every line ended by "\\n":

- Line 1, the header: a JSON object `{"warden_log_export": 1, "format", "exported_at", "filters",
  "scope", "log_head": {"seq", "hash"}, "hash_rule", "columns", "note"}`; in CSV it follows "# "
  (skip it: `skiprows=1`, `tail -n +2`).
- Then one entry per line in chain order, with the columns COLUMNS (CSV: line 2 names them).
  `content` is the entry's canonical JSON exactly as it was hashed, kept as text (a JSON string in
  jsonl, a cell in CSV): parsing and re-serialising it could change its bytes and so its hash.

Scope: `complete` (no filter: seq 1 to the log head, verifiable exactly like `warden log verify`);
`contiguous` (--since/--until only: they cut one run out of the chain, from the first entry at or
after SINCE to before the first at or after UNTIL, so every link inside it verifies); `filtered`
(--threshold/--kind pick entries out of that run: each entry's hash still verifies against its
content and prev_hash, and entries with consecutive seqs still link, but the chain cannot be
followed across the gaps).

Signature (`--sign KEYFILE`): FILE.sig, a JSON object {alg, key_id, export_sha256, entries,
first_seq, last_seq, head_hash, created_at, signature}, the signature made over the canonical JSON
of the other fields, so it covers the export's bytes through export_sha256; head_hash is the hash
of the export's last entry. Two algs, by the key file:

- `ed25519`, when KEYFILE is a PEM Ed25519 private key (`warden log keygen` makes the pair):
  signature = base64 (standard, padded) of the Ed25519 signature; key_id = the first 16 hex
  digits of SHA-256 of the raw 32-byte public key. Checking needs only the public key (KEYFILE.pub),
  which cannot sign: what governance staff can hold without being able to forge.
- `hmac-sha256`, for any other key file: signature = HMAC-SHA256(key, ...) in hex; key_id = the
  first 16 hex digits of SHA-256(key). Whoever can check it can also sign.

Traps: lines are split on "\\n" only (content may hold U+2028, which str.splitlines splits on);
an HMAC key is the key file's bytes exactly, a trailing newline included, and a key file that is
PEM is never one; CSV cells are text, so seq is parsed and each column is compared with the string
the hashed content holds. The keys and their algorithms: warden/triggerlog/keys.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Connection

from warden.core.chain import GENESIS, TRANSITION, Entry, canonical, chain_hash
from warden.core.csvcells import cell, uncell
from warden.core.errors import WardenError
from warden.store import alerts
from warden.triggerlog.keys import ALGS, ED25519, Key

VERSION = 1
FORMATS = ("jsonl", "csv")
# The columns the hashed content holds too, then the rest.
HASHED = ("seq", "at", "kind", "threshold", "threshold_version", "subject", "from", "to")
COLUMNS = (*HASHED, "content", "prev_hash", "hash")
SIGNED = ("alg", "key_id", "export_sha256", "entries", "first_seq", "last_seq", "head_hash")
SIGNATURE_FIELDS = (*SIGNED, "created_at", "signature")
HASH_RULE = 'hash = SHA-256(prev_hash + "\\n" + content), hex; the first prev_hash is 64 zeros'
NOTES = {
    "complete": "every entry from seq 1 to log_head: the whole hash chain verifies from 64 zeros",
    "contiguous": "one run of the chain (filters since/until): each entry's hash and every link "
    "between entries verify; the first prev_hash is the hash of the entry before the run",
    "filtered": "entries outside the filters are left out: each entry's hash verifies against "
    "its content and prev_hash, and entries with consecutive seqs link, but the chain cannot be "
    "followed across the gaps",
}


class ExportError(WardenError):
    """An export or its signature does not verify (exit 1)."""


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    threshold: str | None = None
    kinds: tuple[str, ...] = ()

    @property
    def scope(self) -> str:
        if self.threshold is not None or self.kinds:
            return "filtered"
        return "contiguous" if self.since or self.until else "complete"

    def picks(self, kind: str, threshold: str) -> bool:
        return (self.threshold is None or threshold == self.threshold) and (
            not self.kinds or kind in self.kinds
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since and self.since.isoformat(),
            "until": self.until and self.until.isoformat(),
            "threshold": self.threshold,
            "kind": list(self.kinds),
        }

    @classmethod
    def from_json(cls, data: Any) -> Filters:
        bad = ExportError("line 1: the header's filters are malformed")
        if not isinstance(data, dict) or set(data) != {"since", "until", "threshold", "kind"}:
            raise bad
        threshold, kinds = data["threshold"], data["kind"]
        times = [data["since"], data["until"]]
        if not (
            (threshold is None or isinstance(threshold, str))
            and isinstance(kinds, list)
            and all(isinstance(k, str) for k in kinds)
            and all(t is None or isinstance(t, str) for t in times)
        ):
            raise bad
        try:
            since, until = (None if t is None else datetime.fromisoformat(t) for t in times)
        except ValueError as exc:
            raise bad from exc
        if any(t is not None and t.tzinfo is None for t in (since, until)):
            raise bad
        return cls(since, until, threshold, tuple(kinds))


def select(entries: Iterable[Entry], filters: Filters, head_seq: int) -> Iterator[Entry]:
    """The entries an export holds: the run from the first entry at or after `since` to before
    the first at or after `until`, then those of `threshold` and `kinds`; none after the head
    (entries appended while exporting)."""
    started = filters.since is None
    for e in entries:
        if e.seq > head_seq:
            break
        if not started:
            if filters.since is not None and e.at < filters.since:
                continue
            started = True
        if filters.until is not None and e.at >= filters.until:
            break
        if filters.picks(e.kind, e.threshold):
            yield e


def row(e: Entry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "kind": e.kind,
        "threshold": e.threshold,
        "threshold_version": e.threshold_version,
        "subject": e.subject,
        "from": e.from_state,
        "to": e.to_state,
        "content": e.content,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


@dataclass
class Summary:
    """What was exported: the signature file's fields besides alg, key and time."""

    log_head: tuple[int, str]
    entries: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_hash: str | None = None
    sha256: str = ""


def export(
    conn: Connection,
    fmt: str,
    filters: Filters,
    now: datetime,
    out: IO[bytes],
    checkpoint: Callable[[int], str] | None = None,
) -> Summary:
    """Write the export of the trigger log read through `conn` to `out`; `checkpoint` gives the
    checkpoint of the log at its head's size, for the header (the one the export ends at)."""
    head = alerts.chain_head(conn)
    summary = Summary(head)
    digest = hashlib.sha256()

    def put(text: str) -> None:
        data = text.encode()
        digest.update(data)
        out.write(data)

    header = {
        "warden_log_export": VERSION,
        "format": fmt,
        "exported_at": now.isoformat(),
        "filters": filters.to_json(),
        "scope": filters.scope,
        "log_head": {"seq": head[0], "hash": head[1]},
        "hash_rule": HASH_RULE,
        "columns": list(COLUMNS),
        "note": NOTES[filters.scope],
        **({"checkpoint": checkpoint(head[0])} if checkpoint is not None else {}),
    }
    put(("" if fmt == "jsonl" else "# ") + canonical(header) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv":
        put(",".join(COLUMNS) + "\n")
    for e in select(alerts.entries(conn), filters, head[0]):
        r = row(e)
        if fmt == "jsonl":
            put(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([cell(r[c]) for c in COLUMNS])
            put(buffer.getvalue())
        summary.entries += 1
        if summary.first_seq is None:
            summary.first_seq = e.seq
        summary.last_seq, summary.head_hash = e.seq, e.hash
    summary.sha256 = digest.hexdigest()
    return summary


def _signed(doc: dict[str, Any]) -> bytes:
    """What a signature covers: the canonical JSON of the signature file's other fields."""
    return canonical({k: v for k, v in doc.items() if k != "signature"}).encode()


def signature(key: Key, summary: Summary, created_at: datetime) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "alg": key.alg,
        "key_id": key.id,
        "export_sha256": summary.sha256,
        "entries": summary.entries,
        "first_seq": summary.first_seq,
        "last_seq": summary.last_seq,
        "head_hash": summary.head_hash,
        "created_at": created_at.isoformat(),
    }
    doc["signature"] = key.sign(_signed(doc))
    return doc


@dataclass(frozen=True)
class Verified:
    fmt: str
    filters: Filters
    log_head: tuple[int, str]
    entries: int
    first_seq: int | None
    last_seq: int | None
    head_hash: str | None
    links: int
    signature: str  # what was found of a signature, for the report


def _lines(text: str, first: int) -> Iterator[tuple[int, str]]:
    if text and not text.endswith("\n"):
        raise ExportError("the last line has no newline: the export was cut short")
    yield from enumerate(text.split("\n")[:-1], start=first)


def _rows(fmt: str, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if fmt == "jsonl":
        for n, line in _lines(text, 2):
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExportError(f"line {n}: not a JSON object ({exc.msg})") from exc
            if not isinstance(value, dict) or set(value) != set(COLUMNS):
                raise ExportError(f"line {n}: an entry needs exactly the keys {', '.join(COLUMNS)}")
            yield n, value
        return
    lines = list(_lines(text, 2))
    if not lines or lines[0][1] != ",".join(COLUMNS):
        raise ExportError(f"line 2: the column row should be {','.join(COLUMNS)}")
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    try:
        for record in reader:
            n = reader.line_num + 1
            if len(record) != len(COLUMNS):
                raise ExportError(f"line {n}: {len(record)} cells, expected {len(COLUMNS)}")
            yield n, dict(zip(COLUMNS, map(uncell, record), strict=True))
    except csv.Error as exc:
        raise ExportError(f"line {reader.line_num + 1}: {exc}") from exc


def _check_entry(n: int, r: dict[str, Any]) -> tuple[int, datetime]:
    """One entry on its own: its hash, its content, its columns; returns (seq, at)."""
    seq = r["seq"]
    if isinstance(seq, str) and seq.isascii() and seq.isdigit():
        seq = int(seq)
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ExportError(f"line {n}: seq {seq!r} is not a whole number")
    where = f"line {n} (seq {seq})"
    if not all(isinstance(r[c], str) for c in COLUMNS[1:]):
        raise ExportError(f"{where}: every column but seq must be text")
    if chain_hash(r["prev_hash"], r["content"]) != r["hash"]:
        raise ExportError(f"{where}: hash does not match the entry's content and prev_hash")
    try:
        body = json.loads(r["content"])
        at = datetime.fromisoformat(r["at"])
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ExportError(f"{where}: content or at is malformed ({exc})") from exc
    if not isinstance(body, dict):
        raise ExportError(f"{where}: content is not a JSON object")
    for name in HASHED:
        value = seq if name == "seq" else r[name]
        if body.get(name, TRANSITION if name == "kind" else None) != value:
            raise ExportError(
                f"{where}: column {name!r} ({value!r}) differs from the hashed content"
            )
    return seq, at


def _check_chain(rows: list[tuple[int, dict[str, Any]]], f: Filters) -> int:
    """Order, links and gaps; returns how many links between entries were checked."""
    seqs = [int(r["seq"]) for _, r in rows]
    for i in range(1, len(rows)):
        if seqs[i] <= seqs[i - 1]:
            raise ExportError(
                f"line {rows[i][0]} (seq {seqs[i]}): out of order: it comes after seq {seqs[i - 1]}"
            )
    links = 0
    for i, (n, r) in enumerate(rows):
        seq = seqs[i]
        if i == 0:
            if f.scope != "filtered" and f.since is None and seq != 1:
                raise ExportError(f"line {n} (seq {seq}): the export should start at seq 1")
            if seq == 1 and r["prev_hash"] != GENESIS:
                raise ExportError(f"line {n} (seq 1): prev_hash is not 64 zeros")
            continue
        if seq == seqs[i - 1] + 1:
            if r["prev_hash"] != rows[i - 1][1]["hash"]:
                raise ExportError(
                    f"line {n}: broken chain at seq {seq}: its prev_hash is not the hash of "
                    f"seq {seq - 1}"
                )
            links += 1
        elif f.scope != "filtered":
            gap = range(seqs[i - 1] + 1, seq)
            missing = f"seq {gap[0]}" + (f" to {gap[-1]}" if len(gap) > 1 else "")
            raise ExportError(f"line {n}: broken chain at seq {seq}: {missing} missing")
    return links


def _check_signature(data: bytes, sig: bytes, key: Key | None, v: Verified) -> str:
    try:
        doc = json.loads(sig)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExportError(f"signature file: not JSON ({exc})") from exc
    if not isinstance(doc, dict) or set(doc) != set(SIGNATURE_FIELDS):
        raise ExportError(f"signature file: needs exactly the fields {', '.join(SIGNATURE_FIELDS)}")
    if doc["alg"] not in ALGS:
        raise ExportError(
            f"signature file: alg {doc['alg']!r} is not supported ({', '.join(ALGS)})"
        )
    actual = hashlib.sha256(data).hexdigest()
    if doc["export_sha256"] != actual:
        raise ExportError(
            f"the export's bytes differ from those signed (sha256 {actual}, signed "
            f"{doc['export_sha256']}): the file was changed after signing"
        )
    found = (v.entries, v.first_seq, v.last_seq, v.head_hash)
    claimed = (doc["entries"], doc["first_seq"], doc["last_seq"], doc["head_hash"])
    if found != claimed:
        raise ExportError(f"signature file: describes entries {claimed}, the export has {found}")
    if key is None:
        return f"signature present but not checked (give --key): key id {doc['key_id']}"
    if doc["alg"] != key.alg:
        wanted = (
            "the Ed25519 public key (KEYFILE.pub of warden log keygen)"
            if doc["alg"] == ED25519
            else "the HMAC key file"
        )
        raise ExportError(
            f"wrong kind of key: the export was signed with {doc['alg']} (key id "
            f"{doc['key_id']}), --key is {'an Ed25519' if key.alg == ED25519 else 'an HMAC'} key "
            f"(id {key.id}): give {wanted}"
        )
    if doc["key_id"] != key.id:
        raise ExportError(
            f"wrong key: the export was signed with key id {doc['key_id']}, --key has id {key.id}"
        )
    if not key.verify(_signed(doc), doc["signature"]):
        raise ExportError("signature does not match: the signature file was altered")
    return f"signature valid ({key.alg}, key id {doc['key_id']}, made {doc['created_at']})"


def verify_export(data: bytes, sig: bytes | None, key: Key | None) -> Verified:
    """Check an export's entries, chain and header, then its signature (when `sig` is given;
    the signature itself only when `key` is too). Raises ExportError naming the first problem."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportError(f"not UTF-8 text (byte {exc.start})") from exc
    first, newline, rest = text.partition("\n")
    fmt = "csv" if first.startswith("# ") else "jsonl"
    try:
        header = json.loads(first[2:] if fmt == "csv" else first)
    except json.JSONDecodeError:
        header = None
    if (
        not newline
        or not isinstance(header, dict)
        or header.get("warden_log_export") != VERSION
        or header.get("format") != fmt
    ):
        raise ExportError(f"line 1 is not a warden log export header (version {VERSION})")
    f = Filters.from_json(header.get("filters"))
    if header.get("scope") != f.scope:
        raise ExportError(f"line 1: scope {header.get('scope')!r} disagrees with the filters")
    log_head = header.get("log_head")
    if not isinstance(log_head, dict) or not isinstance(log_head.get("seq"), int):
        raise ExportError("line 1: log_head is malformed")
    rows = list(_rows(fmt, rest))
    for i, (n, r) in enumerate(rows):
        seq, at = _check_entry(n, r)
        r["seq"] = seq  # a CSV cell until now
        if not f.picks(r["kind"], r["threshold"]) or (f.until and at >= f.until):
            raise ExportError(f"line {n} (seq {seq}): outside the export's filters")
        if i == 0 and f.since and at < f.since:
            raise ExportError(f"line {n} (seq {seq}): before the export's since")
    links = _check_chain(rows, f)
    last: dict[str, Any] = rows[-1][1] if rows else {"seq": 0, "hash": GENESIS}
    head = (int(log_head["seq"]), str(log_head.get("hash")))
    if f.scope == "complete" and (int(last["seq"]), last["hash"]) != head:
        raise ExportError(
            f"the export ends at seq {last['seq']} but the log's head was seq {head[0]} "
            f"({head[1]}): entries are missing at the end"
        )
    if "checkpoint" in header and f.scope == "complete":
        _check_checkpoint(header["checkpoint"], rows)
    v = Verified(
        fmt,
        f,
        head,
        len(rows),
        int(rows[0][1]["seq"]) if rows else None,
        int(last["seq"]) if rows else None,
        str(last["hash"]) if rows else None,
        links,
        "not signed",
    )
    if sig is None:
        return v
    return replace(v, signature=_check_signature(data, sig, key, v))


def _check_checkpoint(text: Any, rows: list[tuple[int, dict[str, Any]]]) -> None:
    """That a complete export's entries have the Merkle root of the checkpoint its header
    carries (the log's checkpoint at its head; checked against a kept one with `warden log
    verify-proof`)."""
    from warden.core.merkle import leaf_hash, root_of
    from warden.triggerlog.checkpoint import CheckpointError, parse

    if not isinstance(text, str):
        raise ExportError("line 1: checkpoint is not text")
    try:
        cp = parse(text, "line 1: checkpoint")
    except CheckpointError as exc:
        raise ExportError(str(exc)) from exc
    leaves = [leaf_hash(str(r["content"]).encode()) for _, r in rows]
    if cp.size != len(leaves) or root_of(leaves) != cp.root:
        raise ExportError(
            f"line 1: the checkpoint ({cp.size} entries) is not the Merkle root of the "
            f"{len(leaves)} entries exported"
        )

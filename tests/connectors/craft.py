"""Builders for bad input: edited copies of real Inspect logs and hand-made zip archives."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import zstandard

from connectors.archive import ZSTD

LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"


def eval_members(path: Path) -> dict[str, bytes]:
    """Every member of a real `.eval` file, expanded (zstd members included)."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            raw = raw_member(path.read_bytes(), info)
            if info.compress_type == ZSTD:
                out[info.filename] = zstandard.ZstdDecompressor().stream_reader(raw).read()
            else:
                out[info.filename] = archive.read(info)
    return out


def raw_member(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """The stored (compressed) bytes of one member."""
    name_len, extra_len = struct.unpack_from("<2H", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    return data[start : start + info.compress_size]


def write_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip of `members`, each compressed with `method` (stored, deflate, or zstd)."""
    if method == ZSTD:
        return write_zstd_zip(path, members)
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_zstd_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A zip with zstd members (method 93), laid out as Inspect AI writes them since 0.3.206
    (Python 3.11's `zipfile` cannot write these)."""
    out = bytearray()
    central = bytearray()
    for name, plain in members.items():
        packed = zstandard.ZstdCompressor().compress(plain)
        crc = zlib.crc32(plain)
        offset = len(out)
        encoded = name.encode()
        sizes = (crc, len(packed), len(plain), len(encoded), 0)
        out += struct.pack("<4s5H3L2H", LOCAL, 63, 0, ZSTD, 0, 0x21, *sizes)
        out += encoded + packed
        central += struct.pack(
            "<4s6H3L5H2L", CENTRAL, 63, 63, 0, ZSTD, 0, 0x21, *sizes, 0, 0, 0, 0, offset
        )
        central += encoded
    count = len(members)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def patch_sizes(path: Path, member: str, *, file_size: int) -> Path:
    """Make the zip lie: declare `file_size` for `member` in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
        at = archive.start_dir
    struct.pack_into("<L", data, info.header_offset + 22, file_size)
    while data[at : at + 4] == CENTRAL:
        name_len, extra_len, comment_len = struct.unpack_from("<3H", data, at + 28)
        if bytes(data[at + 46 : at + 46 + name_len]) == member.encode():
            struct.pack_into("<L", data, at + 24, file_size)
        at += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))
    return path


def log_json(path: Path) -> dict[str, Any]:
    """A real `.json` Inspect log as a dict."""
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def header_json(path: Path) -> dict[str, Any]:
    """The `header.json` of a real `.eval` log as a dict."""
    doc: dict[str, Any] = json.loads(eval_members(path)["header.json"])
    return doc


def write_json(path: Path, doc: Any) -> Path:
    """`doc` as JSON; NaN and Infinity are written as the literals Python and Inspect use."""
    path.write_text(json.dumps(doc, allow_nan=True))
    return path


def write_zip64_offset(path: Path, header_offset: int) -> Path:
    """A one-member zip whose zip64 extra field says the member starts at `header_offset`."""
    plain, name = b'{"status": "success"}', b"header.json"
    sizes = (zlib.crc32(plain), len(plain), len(plain), len(name))
    local = struct.pack("<4s5H3L2H", LOCAL, 45, 0, 0, 0, 0x21, *sizes, 0) + name + plain
    extra = struct.pack("<HHQ", 1, 8, header_offset)
    central = struct.pack(
        "<4s6H3L5H2L", CENTRAL, 45, 45, 0, 0, 0, 0x21, *sizes, len(extra), 0, 0, 0, 0, 0xFFFFFFFF
    )
    central += name + extra
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    path.write_bytes(local + central + end)
    return path

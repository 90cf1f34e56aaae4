"""Reading one member of a zip archive with a hard limit on its expanded size.

Python 3.11's `zipfile` cannot open zstd members (method 93), which Inspect AI writes since
0.3.206. This reader parses the archive's directory with `zipfile`, then decompresses the one
member it needs itself (stored, deflate or zstd), never expanding more than `limit` bytes and
checking the CRC so truncation or corruption is caught.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import IO, BinaryIO

import zstandard

from warden.core.errors import ParseError

STORED, DEFLATED, ZSTD = 0, 8, 93
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_LOCAL_MAGIC = b"PK\x03\x04"
_ENCRYPTED = 0x1


def looks_like_zip(head: bytes) -> bool:
    return head.startswith(_LOCAL_MAGIC) or head.startswith(b"PK\x05\x06")


def check_entries(fp: IO[bytes], source: str, max_members: int) -> None:
    """ParseError when the archive's end record announces more than `max_members` entries:
    `zipfile` builds an object per entry (about 650 bytes each: a million take 644 MB), so the
    count is read before it does."""
    entries = zip_entries(fp)
    if entries is not None and entries > max_members:
        message = f"the zip archive has {entries} entries, over the {max_members}-entry limit"
        raise ParseError("too_large", message, source=source)


def zip_entries(fp: IO[bytes]) -> int | None:
    """The entry count the zip's end record announces (zip64 included), or None if there is no
    end record (zipfile then says what is wrong)."""
    size = fp.seek(0, io.SEEK_END)
    fp.seek(max(0, size - 22 - 0xFFFF))
    tail = fp.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    (entries,) = struct.unpack_from("<H", tail, at + 10)
    if entries != 0xFFFF or at < 20 or tail[at - 20 : at - 16] != b"PK\x06\x07":
        return int(entries)
    (offset,) = struct.unpack_from("<Q", tail, at - 12)
    fp.seek(offset)
    record = fp.read(56)
    if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
        return None
    return int(struct.unpack_from("<Q", record, 32)[0])


def member_names(
    fp: BinaryIO, source: str, max_members: int | None = None
) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name; ParseError for more than `max_members` of them."""
    fp.seek(0)
    head = fp.read(4)
    if max_members is not None:
        check_entries(fp, source, max_members)
    fp.seek(0)
    try:
        with zipfile.ZipFile(fp) as archive:
            return {info.filename: info for info in archive.infolist()}
    except NotImplementedError as exc:  # e.g. "zip file version 6.4"
        raise ParseError("malformed", f"unsupported zip ({exc})", source=source) from exc
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as exc:
        reason = "truncated" if looks_like_zip(head) else "malformed"
        what = "truncated or damaged zip" if reason == "truncated" else "not a zip archive"
        raise ParseError(reason, f"{what} ({exc})", source=source) from exc


def read_member(fp: BinaryIO, info: zipfile.ZipInfo, limit: int, source: str) -> bytes:
    """The expanded bytes of `info`, at most `limit` of them."""
    where = f"{source}!{info.filename}"
    if info.flag_bits & _ENCRYPTED:
        raise ParseError("malformed", "member is encrypted", source=where)
    # The directory's sizes may lie; `_expand` enforces the limit on the bytes themselves.
    declared = max(info.file_size, info.compress_size if info.compress_type == STORED else 0)
    if declared > limit:
        raise ParseError(
            "too_large",
            f"member expands to {declared} bytes, over the {limit}-byte limit",
            source=where,
        )
    size = fp.seek(0, io.SEEK_END)
    if info.header_offset + _LOCAL_HEADER.size > size:  # zip64 offsets can be anything
        raise ParseError("truncated", "member starts past the end of the file", source=where)
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or not header.startswith(_LOCAL_MAGIC):
        raise ParseError("truncated", "local file header missing or damaged", source=where)
    fields = _LOCAL_HEADER.unpack(header)
    name_len, extra_len = fields[-2], fields[-1]
    start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    if start + info.compress_size > size:
        raise ParseError("truncated", "member data cut short", source=where)
    fp.seek(start)
    raw = fp.read(info.compress_size)
    if len(raw) != info.compress_size:
        raise ParseError("truncated", "member data cut short", source=where)
    data = _expand(info.compress_type, raw, limit, where)
    if zlib.crc32(data) & 0xFFFFFFFF != info.CRC:
        raise ParseError("truncated", "CRC mismatch: member damaged or cut short", source=where)
    return data


def _expand(method: int, raw: bytes, limit: int, where: str) -> bytes:
    try:
        if method == STORED:
            data = raw
        elif method == DEFLATED:
            inflater = zlib.decompressobj(-15)
            data = inflater.decompress(raw, limit + 1)
        elif method == ZSTD:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            data = reader.read(limit + 1)
        else:
            raise ParseError(
                "malformed", f"unsupported zip compression method {method}", source=where
            )
    except (zlib.error, zstandard.ZstdError) as exc:
        raise ParseError("truncated", f"cannot decompress: {exc}", source=where) from exc
    if len(data) > limit:
        raise ParseError("too_large", f"member expands past the {limit}-byte limit", source=where)
    return data

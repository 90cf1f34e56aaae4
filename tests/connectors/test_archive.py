"""Reading one zip member with a hard limit: stored, deflate and zstd members, damage and bombs."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from connectors.archive import DEFLATED, STORED, ZSTD, member_names, read_member
from tests.connectors import craft
from warden.core.errors import ParseError

METHODS = {"stored": STORED, "deflate": DEFLATED, "zstd": ZSTD}
DATA = json.dumps({"status": "success", "pad": list(range(2000))}).encode()


def read(path: Path, member: str = "header.json", limit: int = 2**20) -> bytes:
    with path.open("rb") as fp:
        members = member_names(fp, str(path))
        return read_member(fp, members[member], limit, str(path))


def reason(path: Path, member: str = "header.json", limit: int = 2**20) -> str:
    with pytest.raises(ParseError) as caught:
        read(path, member, limit)
    return caught.value.reason


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_members_read_back_exactly(method: int, tmp_path: Path) -> None:
    members = {"_journal/start.json": b"{}", "header.json": DATA, "empty": b""}
    path = craft.write_zip(tmp_path / "log.eval", members, method)
    with zipfile.ZipFile(path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {method}
    for name, data in members.items():
        assert read(path, name) == data


def test_real_zstd_eval_header_reads(inspect_logs: dict[str, Path]) -> None:
    with zipfile.ZipFile(inspect_logs["eval"]) as archive:
        assert archive.getinfo("header.json").compress_type == ZSTD
    header = json.loads(read(inspect_logs["eval"]))
    assert header["status"] == "success"


@pytest.mark.realdata
def test_real_deflate_eval_header_reads(samples: Path) -> None:
    (path,) = (samples / "inspect" / "inspect_ai_0.3.200_deflate").glob("*.eval")
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("header.json").compress_type == DEFLATED
    assert json.loads(read(path))["eval"]["packages"]["inspect_ai"] == "0.3.200"


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_member_of_exactly_the_limit_reads(method: int, tmp_path: Path) -> None:
    path = craft.write_zip(tmp_path / "log.eval", {"header.json": DATA}, method)
    assert read(path, limit=len(DATA)) == DATA
    assert reason(path, limit=len(DATA) - 1) == "too_large"


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_member_over_the_limit_is_too_large_even_when_the_zip_lies(
    method: int, tmp_path: Path
) -> None:
    big = b" " * (4 * 2**20)
    path = craft.write_zip(tmp_path / "bomb.eval", {"header.json": big}, method)
    craft.patch_sizes(path, "header.json", file_size=10)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("header.json").file_size == 10
    assert reason(path, limit=2**20) == "too_large"


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_crc_mismatch_is_truncated(method: int, tmp_path: Path) -> None:
    path = craft.write_zip(tmp_path / "log.eval", {"header.json": DATA}, method)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        at = archive.start_dir
    struct.pack_into("<L", data, at + 16, zipfile.crc32(DATA) ^ 1)  # the directory's CRC
    path.write_bytes(bytes(data))
    assert reason(path) == "truncated"


@pytest.mark.parametrize("method", [DEFLATED, ZSTD], ids=["deflate", "zstd"])
def test_damaged_compressed_data_is_truncated(method: int, tmp_path: Path) -> None:
    path = craft.write_zip(tmp_path / "log.eval", {"header.json": DATA}, method)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("header.json")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename)
    for i in range(start + 4, start + info.compress_size):
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    assert reason(path) == "truncated"


def test_cut_archive_is_truncated(tmp_path: Path, inspect_logs: dict[str, Path]) -> None:
    data = inspect_logs["eval"].read_bytes()
    path = tmp_path / "cut.eval"
    for size in (len(data) - 10, len(data) // 2, 30):
        path.write_bytes(data[:size])
        with path.open("rb") as fp, pytest.raises(ParseError) as caught:
            member_names(fp, str(path))
        assert caught.value.reason == "truncated"


@pytest.mark.parametrize("content", [b"", b"hello", b"{}", b"\x00" * 100])
def test_non_zip_is_malformed(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "x.eval"
    path.write_bytes(content)
    with path.open("rb") as fp, pytest.raises(ParseError) as caught:
        member_names(fp, str(path))
    assert caught.value.reason == "malformed"


def test_unsupported_method_is_malformed(tmp_path: Path) -> None:
    path = craft.write_zip(tmp_path / "x.eval", {"header.json": DATA}, zipfile.ZIP_BZIP2)
    assert reason(path) == "malformed"


def test_encrypted_member_is_malformed(tmp_path: Path) -> None:
    path = craft.write_zip(tmp_path / "x.eval", {"header.json": DATA}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        at = archive.start_dir
    data[at + 8] |= 0x1  # general purpose flag: encrypted
    path.write_bytes(bytes(data))
    assert reason(path) == "malformed"


def test_damaged_local_header_is_truncated(tmp_path: Path) -> None:
    path = craft.write_zip(tmp_path / "x.eval", {"header.json": DATA}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    data[0:4] = b"XXXX"
    path.write_bytes(bytes(data))
    assert reason(path) == "truncated"


def test_zip_needing_a_newer_version_is_malformed(tmp_path: Path) -> None:
    path = craft.write_zip(tmp_path / "x.eval", {"header.json": DATA}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        at = archive.start_dir
    struct.pack_into("<H", data, at + 6, 64)  # version needed to extract: 6.4
    path.write_bytes(bytes(data))
    with path.open("rb") as fp, pytest.raises(ParseError) as caught:
        member_names(fp, str(path))
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(("offset", "field"), [(42, 0xFFFFFFF0), (20, 0xFFFFFFF0)])
def test_member_pointing_past_the_end_is_truncated(offset: int, field: int, tmp_path: Path) -> None:
    # Offset 42 of a directory entry is where the member starts, 20 its compressed size.
    path = craft.write_zip(tmp_path / "x.eval", {"header.json": DATA}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        at = archive.start_dir
    struct.pack_into("<L", data, at + offset, field)
    path.write_bytes(bytes(data))
    assert reason(path, limit=2**33) == "truncated"


@pytest.mark.parametrize("offset", [2**40, 2**64 - 1])
def test_zip64_offset_past_the_end_is_truncated(offset: int, tmp_path: Path) -> None:
    path = craft.write_zip64_offset(tmp_path / "x.eval", offset)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("header.json").header_offset == offset
    assert reason(path) == "truncated"

"""Reading payloads from local files: walking a folder, skipping files unchanged since the last
run, size limits, and noticing a file that changes while it is read.

Also unpacking what a file or a response may be wrapped in (`expand`): a `.gz` body is gunzipped
and a `.zip` archive gives one payload per member whose name ends with one of the suffixes. Traps:
Inspect `.eval` logs are zips too, so only `.zip` names (or a zip Content-Type on a name that is
not itself one of the suffixes) are expanded, and never when `.zip` is among the suffixes; a zip's
directory may lie about sizes and counts, so the entry count is read from the end record before
`zipfile` builds its directory, and members are expanded streaming with the limit counted on the
bytes themselves.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import IO, BinaryIO, cast

from connectors.archive import ZSTD, check_entries, looks_like_zip, read_member
from warden.core.errors import NotReady, ParseError
from warden.core.model import Fetched, Ignored, Payload, Pending, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.ingest.http import CHUNK, SPOOL_MEMORY, FetchError, FetchLimits, Gunzip

Reader = Callable[[BinaryIO, str], tuple[bytes, str | None]]
Item = Fetched
GZIP_MAGIC = b"\x1f\x8b"
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"})
GZIP_TYPES = frozenset({"application/gzip", "application/x-gzip"})
# zipfile streams these itself; zstd (Inspect's) goes through connectors.archive.
STREAMED = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


def read_all(limit: int) -> Reader:
    """A reader returning the whole file, refusing files over `limit` bytes."""

    def read(fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        content = fp.read(limit + 1)
        if len(content) > limit:
            raise ParseError("too_large", f"file is over the {limit}-byte limit", source=source)
        return content, None

    return read


def walk(
    root: Path,
    suffixes: tuple[str, ...],
    cursor: Cursor,
    reader: Reader,
    what: str,
    ignored_dirs: tuple[str, ...] = (),
    links_outside: bool = False,
    report_ignored: bool = False,
) -> Iterator[Item]:
    """Payloads from `root` (a file, or a folder searched recursively for `suffixes`).

    Hidden files and folders (names starting with a dot, such as editors' temporary files and
    Inspect's `.buffer`) are skipped, as are folders whose names end with one of
    `ignored_dirs`. With `report_ignored`, the folder's other files without one of `suffixes`
    are yielded as `Ignored` (never read; listed with their reason): for connectors that read
    nothing else of the folder (a connector reading a run's sibling files leaves it off).

    A file of the folder that resolves (through a link) outside it is rejected unread unless
    `links_outside`; one that is not a regular file (a FIFO, a device, a socket) or that lies
    in /proc, /sys or /dev is never read. A link to a folder is not followed, and said so. Such
    rejections name the path only."""
    if root.is_file():
        files = [root]
    elif root.is_dir():
        found = [p for p in root.rglob("*") if _wanted(p.relative_to(root), ignored_dirs)]
        files = sorted(p for p in found if p.suffix in suffixes and not p.is_dir())
        for linked in sorted(p for p in found if p.is_symlink() and p.is_dir()):
            why = "a link to a folder: not followed (point a feed at that folder instead)"
            yield Rejection(str(linked), "unreadable", why, sha256(str(linked).encode()))
        pattern = ", ".join(f"*{s}" for s in suffixes)
        others = [p for p in found if p.suffix not in suffixes and not p.is_dir()]
        for other in sorted(others) if report_ignored else ():
            yield Ignored(str(other), f"not one of the {what} ({pattern})")
        if not files:
            pattern = ", ".join(f"*{s}" for s in suffixes)
            yield Rejection(str(root), "malformed", f"no {what} ({pattern}) found in the folder")
            return
    elif root.exists():  # a FIFO, a device or a socket: refused below, never opened
        files = [root]
    else:
        raise FileNotFoundError(f"{root}: no such file or folder")
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # removed since the folder was listed: nothing left to read
        except OSError as exc:
            yield Rejection(str(path), "unreadable", f"cannot stat: {exc}")
            continue
        refused = _refused(path, root, stat, links_outside)
        if refused is not None:
            yield Rejection(str(path), "unreadable", refused, sha256(str(path).encode()))
            continue
        version = f"{stat.st_size}:{stat.st_mtime_ns}"
        if not cursor.unchanged(str(path), version):
            yield read_one(path, version, reader)


SPECIAL_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


def _refused(path: Path, root: Path, stat: os.stat_result, links_outside: bool) -> str | None:
    """Why `path` (found under `root`, or `root` itself) is not read, or None."""
    if not S_ISREG(stat.st_mode):
        return "not a regular file (a FIFO, device or socket): not read"
    try:
        real = path.resolve(strict=True)
    except OSError as exc:
        return f"cannot resolve the path: {exc.strerror or type(exc).__name__}"
    if any(real.is_relative_to(special) for special in SPECIAL_ROOTS):
        return f"resolves into {real.parts[0]}{real.parts[1]}: a system file, not read"
    if root.is_dir() and not links_outside and not real.is_relative_to(root.resolve()):
        return (
            "a link to a file outside the feed's source folder: not read "
            "(the feed's option links_outside: true allows it)"
        )
    return None


def _wanted(relative: Path, ignored_dirs: tuple[str, ...]) -> bool:
    if any(part.startswith(".") for part in relative.parts):
        return False
    return not any(folder.endswith(ignored_dirs) for folder in relative.parts[:-1])


def read_one(path: Path, version: str, reader: Reader) -> Payload | Rejection | Pending:
    source = str(path)
    stamp = sha256(version.encode())  # identifies the bytes of a file we could not read
    try:
        with path.open("rb") as fp:
            content, member = reader(fp, source)
            after = os.fstat(fp.fileno())
    except ParseError as exc:
        return Rejection(source, exc.reason, exc.detail, stamp, exc.record, exc.field, version)
    except NotReady as exc:
        return Pending(source, exc.why)
    except OSError as exc:
        # No version: a read error may pass (permissions fixed, disk back), so try again next run.
        return Rejection(source, "unreadable", f"cannot read: {exc}", stamp)
    if f"{after.st_size}:{after.st_mtime_ns}" != version:
        return Rejection(source, "file_changed", "the file changed while being read", stamp)
    fetched_at = datetime.fromtimestamp(after.st_mtime, UTC)
    return Payload(source, content, sha256(content), member, version, fetched_at)


# -- archives: .gz and .zip, local or fetched -------------------------------------------------
def archive_kind(name: str, content_type: str | None, suffixes: tuple[str, ...]) -> str | None:
    """ "gz", "zip" or None: how a document named `name` (served as `content_type`) is unpacked
    for a connector reading `suffixes`."""
    lower, wanted = name.lower(), tuple(s.lower() for s in suffixes)
    if ".gz" not in wanted and (
        lower.endswith(".gz") or _typed(content_type, GZIP_TYPES, lower, wanted)
    ):
        return "gz"
    if ".zip" in wanted:
        return None
    if lower.endswith(".zip") or _typed(content_type, ZIP_TYPES, lower, wanted):
        return "zip"
    return None


def _typed(
    content_type: str | None, types: frozenset[str], name: str, wanted: tuple[str, ...]
) -> bool:
    """A content type counts only for a name that is not itself a document (an `.eval` log served
    as application/zip is a log, not an archive)."""
    return content_type in types and not name.endswith(wanted)


def local_archive(
    path: Path,
    suffixes: tuple[str, ...],
    cursor: Cursor,
    reader: Reader,
    what: str,
    limits: FetchLimits,
) -> Iterator[Item]:
    """The payloads inside a local `.zip` or `.gz` file; skipped when unchanged since last run."""
    source = str(path)
    stat = path.stat()  # gone: FileNotFoundError, the feed run fails
    version = f"{stat.st_size}:{stat.st_mtime_ns}"
    if cursor.unchanged(source, version):
        return
    fetched_at = datetime.fromtimestamp(stat.st_mtime, UTC)
    try:
        fp = path.open("rb")
    except OSError as exc:
        yield Rejection(source, "unreadable", f"cannot read: {exc}", sha256(version.encode()))
        return
    with fp:
        yield from expand(
            fp, path.name, None, source, suffixes, reader, what, version, fetched_at, limits
        )
        after = os.fstat(fp.fileno())
    if f"{after.st_size}:{after.st_mtime_ns}" != version:
        stamp = sha256(version.encode())
        yield Rejection(source, "file_changed", "the file changed while being read", stamp)


def expand(
    fp: IO[bytes],
    name: str,
    content_type: str | None,
    source: str,
    suffixes: tuple[str, ...],
    reader: Reader,
    what: str,
    version: str | None,
    fetched_at: datetime | None,
    limits: FetchLimits,
) -> Iterator[Item]:
    """The payloads in `fp` (a document named `name` at `source`): gunzipped, unzipped into
    members, or read whole by `reader`."""
    kind = archive_kind(name, content_type, suffixes)
    fp.seek(0)
    if kind == "gz":
        name = name[:-3] if name.lower().endswith(".gz") else name
        if fp.read(2) != GZIP_MAGIC:  # the server already decoded it (Content-Encoding: gzip)
            fp.seek(0)
            yield from expand(
                fp, name, None, source, suffixes, reader, what, version, fetched_at, limits
            )
            return
        fp.seek(0)
        try:
            plain = gunzip(fp, source, limits.max_expanded_bytes)
        except ParseError as exc:
            stamp = sha256((version or source).encode())
            yield Rejection(source, exc.reason, exc.detail, stamp, version=version)
            return
        with plain:
            yield from expand(
                plain, name, None, source, suffixes, reader, what, version, fetched_at, limits
            )
    elif kind == "zip":
        yield from unzip(fp, source, suffixes, reader, what, version, fetched_at, limits)
    else:
        yield read_document(fp, source, None, reader, version, fetched_at)


def gunzip(fp: IO[bytes], source: str, limit: int) -> IO[bytes]:
    """The gunzipped `fp` in a temporary file; ParseError past `limit` bytes or for bad gzip."""
    decoder = Gunzip(limit, source)
    out: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_MEMORY)  # noqa: SIM115  # returned
    try:
        while chunk := fp.read(CHUNK):
            for data in decoder.feed(chunk):
                out.write(data)
        if not decoder.complete:
            raise ParseError("truncated", "gzip data cut short", source=source)
    except FetchError as exc:
        out.close()
        reason = "too_large" if exc.reason == "too_large" else "malformed"
        raise ParseError(reason, exc.detail, source=source) from exc
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def read_document(
    fp: IO[bytes],
    source: str,
    member: str | None,
    reader: Reader,
    version: str | None,
    fetched_at: datetime | None,
) -> Item:
    """One payload read by `reader` from `fp` (an archive member when `member` is given)."""
    stamp = sha256((version or source).encode())
    where = f"{source}!{member}" if member else source
    try:
        content, inner = reader(cast(BinaryIO, fp), where)
    except ParseError as exc:
        record = exc.record if member is None else ":".join(p for p in (member, exc.record) if p)
        return Rejection(source, exc.reason, exc.detail, stamp, record, exc.field, version)
    except NotReady as exc:
        return Pending(where, exc.why)
    except OSError as exc:  # no version: a read error may pass
        return Rejection(source, "unreadable", f"cannot read: {exc}", stamp, member)
    name = "!".join(p for p in (member, inner) if p) or None
    return Payload(source, content, sha256(content), name, version, fetched_at)


def unzip(
    fp: IO[bytes],
    source: str,
    suffixes: tuple[str, ...],
    reader: Reader,
    what: str,
    version: str | None,
    fetched_at: datetime | None,
    limits: FetchLimits,
) -> Iterator[Item]:
    """One payload per member of the zip in `fp` whose name ends with one of `suffixes`,
    skipping folders and hidden and `__MACOSX` members."""
    stamp = sha256((version or source).encode())
    try:
        archive = _open_zip(fp, source, limits.max_members)
    except ParseError as exc:
        yield Rejection(source, exc.reason, exc.detail, stamp, version=version)
        return
    wanted = tuple(s.lower() for s in suffixes)
    with archive:
        members = [i for i in archive.infolist() if _member_wanted(i, wanted)]
        if not members:
            pattern = ", ".join(f"*{s}" for s in suffixes)
            message = f"no {what} ({pattern}) found in the zip archive"
            yield Rejection(source, "malformed", message, stamp, version=version)
            return
        budget = limits.max_expanded_bytes
        for info in members:
            try:
                data = _expand_member(archive, fp, info, budget, source)
            except ParseError as exc:
                yield Rejection(
                    source, exc.reason, exc.detail, stamp, info.filename, version=version
                )
                if exc.reason == "too_large":
                    return  # the budget is spent: the rest would be refused too
                continue
            with data:
                budget -= data.seek(0, os.SEEK_END)
                data.seek(0)
                yield read_document(data, source, info.filename, reader, version, fetched_at)


def _member_wanted(info: zipfile.ZipInfo, wanted: tuple[str, ...]) -> bool:
    parts = info.filename.split("/")
    if info.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return info.filename.lower().endswith(wanted)


def _open_zip(fp: IO[bytes], source: str, max_members: int) -> zipfile.ZipFile:
    fp.seek(0)
    head = fp.read(4)
    check_entries(fp, source, max_members)
    fp.seek(0)
    try:
        return zipfile.ZipFile(fp)
    except NotImplementedError as exc:
        raise ParseError("malformed", f"unsupported zip ({exc})", source=source) from exc
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as exc:
        reason = "truncated" if looks_like_zip(head) else "malformed"
        what = "truncated or damaged zip" if reason == "truncated" else "not a zip archive"
        raise ParseError(reason, f"{what} ({exc})", source=source) from exc


def _expand_member(
    archive: zipfile.ZipFile, fp: IO[bytes], info: zipfile.ZipInfo, limit: int, source: str
) -> IO[bytes]:
    """The expanded bytes of `info` in a temporary file, refusing more than `limit` of them (the
    directory's sizes are not trusted)."""
    where = f"{source}!{info.filename}"
    if info.flag_bits & 0x1:
        raise ParseError("malformed", "member is encrypted", source=where)
    out: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_MEMORY)  # noqa: SIM115  # returned
    try:
        if info.compress_type == ZSTD:
            out.write(read_member(cast(BinaryIO, fp), info, limit, source))
        elif info.compress_type in STREAMED:
            _stream_member(archive, info, out, limit, where)
        else:
            message = f"unsupported zip compression method {info.compress_type}"
            raise ParseError("malformed", message, source=where)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def _stream_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: IO[bytes], limit: int, where: str
) -> None:
    total = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(CHUNK):
                total += len(chunk)
                if total > limit:
                    message = f"members expand past the {limit}-byte limit"
                    raise ParseError("too_large", message, source=where)
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        message = f"member damaged or cut short ({exc})"
        raise ParseError("truncated", message, source=where) from exc

"""Reading payloads from local files: walking a folder, skipping files unchanged since the last
run, size limits, and noticing a file that changes while it is read."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from warden.connector import Cursor, sha256
from warden.errors import NotReady, ParseError
from warden.model import Payload, Pending, Rejection

Reader = Callable[[BinaryIO, str], tuple[bytes, str | None]]


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
) -> Iterator[Payload | Rejection | Pending]:
    """Payloads from `root` (a file, or a folder searched recursively for `suffixes`).

    Hidden files and folders (names starting with a dot, such as editors' temporary files and
    Inspect's `.buffer`) are skipped, as are folders whose names end with one of
    `ignored_dirs`."""
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(
            p
            for p in root.rglob("*")
            if p.suffix in suffixes and _wanted(p.relative_to(root), ignored_dirs) and p.is_file()
        )
        if not files:
            pattern = ", ".join(f"*{s}" for s in suffixes)
            yield Rejection(str(root), "malformed", f"no {what} ({pattern}) found in the folder")
            return
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
        version = f"{stat.st_size}:{stat.st_mtime_ns}"
        if not cursor.unchanged(str(path), version):
            yield read_one(path, version, reader)


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

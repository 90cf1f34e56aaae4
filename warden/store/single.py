"""SQLite stays single-process, explicitly: a daemon holds an exclusive lock beside the database
file (`warden.db.lock`) while it runs, and a second daemon on the same file refuses to start,
naming the one that holds it.

SQLite itself would let two daemons share the file (its own locks serialise each write), and
each would run every feed, sweep and dispatch: notifications claimed twice, feeds read twice.
Several replicas need PostgreSQL. The lock is `fcntl.flock` on a file of its own: the kernel
drops it when the holder exits, SIGKILL included, so a crash never leaves a stale lock. The file
says who holds it (pid, host, start time) for the refusal message; its content is never trusted
beyond that message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from warden.core.errors import WardenError
from warden.store.engine import sqlite_path

MAX_HOLDER_BYTES = 4096  # what is read of a lock file for the message: it is ours, and small


class AlreadyRunning(WardenError):
    def __init__(self, database: Path, lock: Path, holder: str) -> None:
        self.database, self.lock, self.holder = database, lock, holder
        super().__init__(
            f"another warden daemon is running on {database} ({holder}; it holds {lock}). "
            "A SQLite store serves one daemon: stop that one first, or run several replicas on "
            "PostgreSQL"
        )


@dataclass
class DaemonLock:
    """The held lock; `release` (or the process's exit) frees it."""

    path: Path
    handle: IO[str]

    def release(self) -> None:
        if self.handle.closed:
            return
        self.handle.close()  # closing the descriptor drops the flock

    def __enter__(self) -> DaemonLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def hold(url: str, *, now: datetime | None = None) -> DaemonLock | None:
    """Take the daemon lock of the SQLite store at `url` (None for other databases and for an
    in-memory SQLite). Raises AlreadyRunning when another process holds it."""
    database = sqlite_path(url)
    if database is None or str(database) == ":memory:":
        return None
    lock = database.with_name(database.name + ".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)  # as the store does for its file
        handle = open(lock, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
    except OSError as exc:
        raise WardenError(f"cannot open the daemon lock {lock}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(handle)
        handle.close()
        raise AlreadyRunning(database, lock, holder) from None
    except OSError as exc:
        handle.close()
        raise WardenError(f"cannot lock {lock}: {exc.strerror or exc}") from exc
    started = (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    handle.seek(0)
    handle.truncate()
    handle.write(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}) + "\n"
    )
    handle.flush()
    return DaemonLock(lock, handle)


def _holder(handle: IO[str]) -> str:
    """Who holds the lock, from what it wrote: `pid 123 on host, started 2026-12-07T03:00:00Z`."""
    handle.seek(0)
    try:
        data = json.loads(handle.read(MAX_HOLDER_BYTES))
        pid, host, started = int(data["pid"]), str(data["host"]), str(data["started"])
    except (ValueError, KeyError, TypeError):
        return "a process that did not say who it is"
    return f"pid {pid} on {host[:100]}, started {started[:40]}"

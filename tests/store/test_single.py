"""warden/store/single.py: one daemon per SQLite file, by a lock the kernel drops on exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from warden.core.errors import WardenError
from warden.store.single import AlreadyRunning, hold

AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def test_a_second_holder_is_refused_with_the_first_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    first = hold(url, now=AT)
    assert first is not None and first.path == tmp_path / "w.db.lock"
    assert json.loads(first.path.read_text())["pid"] == os.getpid()
    with pytest.raises(AlreadyRunning) as refused:
        hold(url)  # another open file description: flock refuses it as it would another process
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message and "started 2026-12-07T03:00:00Z" in message
    assert str(tmp_path / "w.db") in message and "PostgreSQL" in message
    first.release()
    again = hold(url)  # released: free again
    assert again is not None
    again.release()


def test_the_lock_of_a_killed_holder_is_free(tmp_path: Path) -> None:
    """A holder that dies (SIGKILL: no clean-up runs) leaves no stale lock."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code = (
        "import os, signal, sys\n"
        "from warden.store.single import hold\n"
        f"hold({url!r})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert r.returncode == -9
    assert (tmp_path / "w.db.lock").exists()  # the file stays; its lock went with the process
    held = hold(url)
    assert held is not None
    held.release()


def test_a_lock_file_that_says_nothing_useful_is_not_quoted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    first = hold(url)
    assert first is not None
    first.handle.seek(0)
    first.handle.truncate()
    first.handle.write("WARDEN_API_TOKEN=secret\n")
    first.handle.flush()
    with pytest.raises(AlreadyRunning) as refused:
        hold(url)
    assert "secret" not in str(refused.value)
    assert "did not say who it is" in str(refused.value)
    first.release()


def test_postgresql_and_memory_take_no_file_lock(tmp_path: Path) -> None:
    assert hold("postgresql+psycopg://postgres@127.0.0.1:5432/test") is None
    assert hold("sqlite:///:memory:") is None


def test_a_lock_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "w.db.lock").mkdir()  # something else in the lock file's place
    with pytest.raises(WardenError, match=r"cannot open the daemon lock .*w\.db\.lock"):
        hold(f"sqlite:///{tmp_path / 'w.db'}")

"""Commands that read the store never create one, and a store that does not answer is one line
and exit 1, on real SQLite files and a PostgreSQL URL to a closed loopback port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.support.factories import TINY_CATALOG as TINY
from warden.interfaces.cli.main import main

# Every command that reads or changes an existing store, with the arguments it needs.
READERS = [
    ["status"],
    ["evaluate"],
    ["log"],
    ["log", "verify"],
    ["log", "export"],
    ["feeds"],
    ["rejects"],
    ["rejects", "--failed-runs"],
    ["rejects", "dismiss", "--all", "--reason", "x"],
    ["registry", "unmapped"],
    ["ack", "1", "--by", "a"],
    ["silence", "list"],
    ["silence", "add", "--match", "domain=cyber", "--for", "1h", "--by", "a", "--comment", "c"],
    ["silence", "expire", "1", "--by", "a"],
]


def warden(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def config(folder: Path, database_url: str) -> Path:
    (folder / "tiny.yaml").write_text(TINY)
    cfg = folder / "warden.yaml"
    cfg.write_text(f"database_url: {database_url!r}\ncatalog: [bundled, {folder / 'tiny.yaml'}]\n")
    return cfg


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_command_that_reads_the_store_never_creates_one(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "var" / "warden.db"
    cfg = config(tmp_path, f"sqlite:///{db}")
    r = warden(*args, "--config", cfg)
    assert r.exit_code == 2, r.output
    assert f"no database at {db}: this command reads an existing store and does not create" in (
        r.output
    )
    assert "ok" not in r.output.split("error:")[0] and "Traceback" not in r.output
    assert not db.exists() and not db.parent.exists()


def test_log_verify_in_another_folder_no_longer_says_ok_for_an_empty_new_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default database_url is relative (var/warden.db): run elsewhere, it used to create an
    empty store there and say `ok: 0 entries verified`."""
    monkeypatch.chdir(tmp_path)
    r = warden("log", "verify")
    assert r.exit_code == 2 and "no database at" in r.output and "ok:" not in r.output
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("args", [["db", "upgrade"], ["ingest", "."]], ids=" ".join)
def test_commands_that_fill_a_store_create_it(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "var" / "warden.db"
    cfg = config(tmp_path, f"sqlite:///{db}")
    (tmp_path / "logs").mkdir()
    args = [a if a != "." else str(tmp_path / "logs") for a in args]
    r = warden(*args, "--config", cfg)
    assert db.exists(), r.output
    assert "no database at" not in r.output


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "args",
    [["status"], ["log", "verify"], ["log", "export"], ["db", "upgrade"], ["feeds"]],
    ids=" ".join,
)
def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path, args: list[str]) -> None:
    port = closed_port()
    cfg = config(tmp_path, f"postgresql://warden:pw@127.0.0.1:{port}/warden")
    r = warden(*args, "--config", cfg)
    assert r.exit_code == 1, r.output
    (line,) = r.output.splitlines()  # used to be a 155-line traceback
    assert line.startswith(f"warden: error: store postgresql://warden:***@127.0.0.1:{port}/warden")
    assert "unavailable:" in line and "refused" in line.lower() and "pw@" not in line

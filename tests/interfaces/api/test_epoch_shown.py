"""The leadership epoch of each trigger-log entry, where entries are shown: the read API over
loopback HTTP (the list, one entry, its replay), the web view's page of an entry, `warden log`
(table, JSON, CSV) and `warden log replay`. On PostgreSQL a number (the epoch the entry was
written under); on SQLite none.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import requests
from click.testing import CliRunner
from sqlalchemy import text

from tests.support.server import serving
from tests.support.varied_run import READ_TOKEN, run
from warden.interfaces.cli.main import main
from warden.store import Store

AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}
EPOCH = 3  # as if two failovers had happened before this run


def _prepare(db_url: str) -> int | None:
    """The epoch the run's entries are written under: on PostgreSQL, the store's (set here as
    a third leader's would be); on SQLite, none."""
    store = Store(db_url)
    try:
        store.upgrade()
        if store.dialect != "postgresql":
            return None
        with store.write() as conn:
            conn.execute(text("UPDATE leadership SET epoch = :e"), {"e": EPOCH})
        return EPOCH
    finally:
        store.dispose()


def test_the_read_api_shows_each_entrys_epoch(tmp_path: Path, db_url: str) -> None:
    expected = _prepare(db_url)
    w, _ = run(tmp_path, db_url)
    try:
        with serving(w) as url:
            page = requests.get(f"{url}/api/v1/triggers?limit=500", headers=AUTH, timeout=30)
            assert page.status_code == 200, page.text
            items = page.json()["items"]
            assert items and {i["epoch"] for i in items} == {expected}
            seq = next(i["seq"] for i in items if i["kind"] == "transition")
            one = requests.get(f"{url}/api/v1/triggers/{seq}", headers=AUTH, timeout=30).json()
            assert one["entry"]["epoch"] == expected
            assert "epoch" not in one["content"]  # beside the hashed content, not in it
            replayed = requests.get(f"{url}/api/v1/triggers/{seq}/replay", headers=AUTH, timeout=30)
            assert replayed.json()["epoch"] == expected
            ui = requests.Session()  # the web view's page of the entry
            login = {"token": READ_TOKEN, "next": "/ui/"}
            assert ui.post(f"{url}/ui/login", data=login, timeout=30).status_code == 200
            page = ui.get(f"{url}/ui/triggers/{seq}", timeout=30).text
            assert "<h2>Hash chain</h2>" in page
            shown = f"<dt>leadership epoch</dt><dd>{expected} "
            assert (shown in page) == (expected is not None), page
    finally:
        w.close()


def test_warden_log_shows_each_entrys_epoch(tmp_path: Path, db_url: str) -> None:
    expected = _prepare(db_url)
    w, _ = run(tmp_path, db_url)
    w.close()
    config = tmp_path / "warden.yaml"
    config.write_text(f"database_url: {db_url!r}\ncatalog: [{tmp_path / 'catalog.yaml'}]\n")
    runner = CliRunner()

    def log(*args: str) -> str:
        r = runner.invoke(main, ["log", *args, "--config", str(config)])
        assert r.exit_code == 0, r.output
        return r.output

    lines = [json.loads(line) for line in log("--json").splitlines()]
    assert lines and {line["epoch"] for line in lines} == {expected}
    rows = list(csv.DictReader(io.StringIO(log("--csv"))))
    assert rows and {r["epoch"] for r in rows} == {"" if expected is None else str(expected)}
    header = log().splitlines()[0].split()
    assert ("epoch" in header) == (expected is not None)  # SQLite has none to show
    seq = next(line["seq"] for line in lines if line["kind"] == "transition")
    replayed = log("replay", str(seq))
    shown = f"written under leadership epoch {expected}"
    assert (shown in replayed) == (expected is not None), replayed
    as_json = json.loads(log("replay", str(seq), "--json"))
    assert as_json["epoch"] == expected

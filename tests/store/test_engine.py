"""warden/store/engine.py: a SQLite store whose file goes away while warden runs is an outage,
never a new empty store made at the same path."""

from __future__ import annotations

from pathlib import Path

import pytest

from warden.store import Store, StoreUnavailable


def test_a_sqlite_file_that_goes_away_is_not_made_again(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    with store.read():
        pass
    store.dispose()  # as a pool does after an error: the next job connects anew
    for f in tmp_path.iterdir():
        f.rename(f.with_name(f.name + ".away"))
    with pytest.raises(StoreUnavailable, match=r"w\.db is gone"), store.read():
        pass
    assert not db.exists()  # SQLite would have made an empty file here
    for f in tmp_path.iterdir():
        f.rename(f.with_name(f.name.removesuffix(".away")))
    with store.read() as conn:  # back: the store answers again, its tables and all
        assert conn.exec_driver_sql("SELECT count(*) FROM outbox").scalar() == 0
    store.dispose()


def test_a_new_store_is_still_made_on_first_use(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'new' / 'w.db'}")
    store.upgrade()
    assert (tmp_path / "new" / "w.db").exists()
    store.dispose()


def test_a_store_a_newer_warden_migrated_is_refused_clearly(db_url: str, tmp_path: Path) -> None:
    """A deployment rolled back after an upgrade: the store is at a revision this code does not
    know. Every command says so (no traceback, no migration guessed) and changes nothing."""
    import subprocess
    import sys

    from sqlalchemy import text

    from warden.store.engine import NewerSchema

    store = Store(db_url)
    store.upgrade()
    with store.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(NewerSchema, match=r"schema revision 9999, which this warden .* newer"):
        store.upgrade()
    store.dispose()
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(f"database_url: '{db_url}'\ncatalog: [bundled]\n")
    command = [sys.executable, "-m", "warden.interfaces.cli.main", "--config", str(cfg), "status"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "schema revision 9999" in out.stderr and "Traceback" not in out.stderr
    store = Store(db_url)
    with store.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "9999"
    store.dispose()

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

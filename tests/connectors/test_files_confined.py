"""Files stay inside their feed: a link in a feed folder to a file outside it is rejected unread
(unless the feed allows it), /proc, /sys and /dev files and FIFOs are never read, and a reject
message never quotes the content of a file that is not what the feed reads (a secret on its
first line stays out of the store and the logs)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.connectors.conftest import NOW, clock
from warden.core import plugins
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations, rejects

SECRET = "s3cret-token-value"


def batch(model: str) -> str:
    return json.dumps(
        [{"model": model, "benchmark": "b", "metric": "acc", "value": 0.5,
          "observed_at": "2025-01-01T00:00:00Z"}]
    )  # fmt: skip


def connector(name: str, source: Path, **extra: object) -> object:
    return plugins.load(plugins.CONNECTORS, name)({"source": str(source), **extra})


def stored(store: Store) -> tuple[list[str], list[tuple[str, str]]]:
    with store.read() as conn:
        models = [r[0] for r in conn.execute(select(observations.c.subject))]
        refused = [(r[0], r[1]) for r in conn.execute(select(rejects.c.source, rejects.c.message))]
    return models, refused


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "good.json").write_text(batch("inside"))
    return folder


def test_a_link_to_proc_is_never_read(
    store: Store, feed: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARDEN_API_TOKEN", SECRET)
    (feed / "environ.json").symlink_to("/proc/self/environ")
    with caplog.at_level(logging.WARNING):
        result = run_feed(store, "f", connector("observations_json", feed), Cursor(), clock)  # type: ignore[arg-type]
    models, refused = stored(store)
    assert models == ["inside"] and result.rejected == 1
    ((source, message),) = refused
    assert source.endswith("environ.json") and "system file" in message
    assert SECRET not in caplog.text and SECRET not in message


def test_a_link_outside_the_folder_is_refused_unless_the_feed_allows_it(
    store: Store, feed: Path, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere.json").write_text(batch("outside"))
    (feed / "linked.json").symlink_to(tmp_path / "elsewhere.json")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "deep.json").write_text(batch("deep"))
    (feed / "linked_dir").symlink_to(tmp_path / "dir", target_is_directory=True)
    run_feed(store, "f", connector("observations_json", feed), Cursor(), clock)  # type: ignore[arg-type]
    models, refused = stored(store)
    assert models == ["inside"]
    why = {Path(s).name: m for s, m in refused}
    assert sorted(why) == ["linked.json", "linked_dir"]
    assert "outside the feed's source folder" in why["linked.json"]
    assert "a link to a folder: not followed" in why["linked_dir"]

    allowed = connector("observations_json", feed, links_outside=True)
    run_feed(store, "g", allowed, Cursor(), clock)  # type: ignore[arg-type]
    assert sorted(stored(store)[0]) == ["inside", "inside", "outside"]


def test_a_link_inside_the_folder_is_read(store: Store, feed: Path) -> None:
    (feed / "sub").mkdir()
    (feed / "sub" / "real.json").write_text(batch("linked-inside"))
    (feed / "alias.json").symlink_to(feed / "sub" / "real.json")
    result = run_feed(store, "f", connector("observations_json", feed), Cursor(), clock)  # type: ignore[arg-type]
    assert sorted(stored(store)[0]) == ["inside", "linked-inside"]
    assert (result.rejected, result.duplicates) == (0, 1)  # the link was read: the same record


def test_a_fifo_is_rejected_without_being_opened(store: Store, feed: Path) -> None:
    os.mkfifo(feed / "pipe.json")  # opening it for reading would block for ever
    result = run_feed(store, "f", connector("observations_json", feed), Cursor(), clock)  # type: ignore[arg-type]
    assert result.rejected == 1 and "not a regular file" in result.rejections[0].message
    os.mkfifo(feed.parent / "alone.json")
    lone = run_feed(store, "g", connector("observations_json", feed.parent / "alone.json"),  # type: ignore[arg-type]
                    Cursor(), clock)  # fmt: skip
    assert lone.rejected == 1 and "not a regular file" in lone.rejections[0].message


def test_a_file_that_is_not_a_csv_table_is_not_quoted(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "leak.csv").write_text(f"WARDEN_API_TOKEN={SECRET},PATH=/usr/bin\nx,y\n")
    (folder / "config.csv").write_text(f"api_token: {SECRET}, b\ndatabase_url: x\n")
    (folder / "real.csv").write_text("name,score\nm,1\n")
    options = {
        "model": {"column": "model"},
        "benchmark": {"value": "b"},
        "metric": {"value": "m"},
        "value": {"column": "value"},
        "time": {"column": "time"},
    }
    feed = connector("csv", folder, **options)
    result = run_feed(store, "f", feed, Cursor(), lambda: NOW)  # type: ignore[arg-type]
    messages = {Path(r.source).name: r.message for r in result.rejections}
    assert SECRET not in "".join(messages.values())
    assert "not a CSV header (not shown)" in messages["leak.csv"]
    assert "not a CSV header (not shown)" in messages["config.csv"]
    assert "'name', 'score'" in messages["real.csv"]  # a real header helps, and is shown


def test_an_eval_log_with_too_many_entries_is_refused_before_its_directory_is_read(
    tmp_path: Path,
) -> None:
    import zipfile

    path = tmp_path / "many.eval"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", "{}")
        for i in range(50):
            z.writestr(f"samples/{i}.json", "{}")
    small = connector("inspect_logs", path, max_eval_members=10)
    (item,) = list(small.fetch(Cursor()))  # type: ignore[attr-defined]
    assert item.reason == "too_large" and "51 entries, over the 10-entry limit" in item.message
    (item,) = list(connector("inspect_logs", path).fetch(Cursor()))  # type: ignore[attr-defined]
    assert getattr(item, "reason", None) != "too_large"  # the default takes it

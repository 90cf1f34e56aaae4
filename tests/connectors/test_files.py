"""Reading files for the connectors: which files a folder holds, and files that go away or
cannot be read."""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

from connectors.inspect_logs import InspectLogs
from tests.connectors.conftest import clock
from tests.connectors.test_inspect_logs import fetch
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store


def test_hidden_files_and_inspect_side_folders_are_not_read(
    log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    for folder in (".buffer/run", "2026-01-01T00-00-00_tiny_x.checkpoints", ".git"):
        (log_dir / folder).mkdir(parents=True)
        (log_dir / folder / "manifest.json").write_text("{}")
    (log_dir / ".#editing.json").write_text("{")
    (log_dir / "nested").mkdir()
    nested = Path(shutil.copy(inspect_logs["epochs"], log_dir / "nested" / "epochs.eval"))
    sources = {item.source for item in fetch(log_dir)}
    expected = {str(inspect_logs[name].name) for name in ("eval", "json")}
    assert {Path(s).name for s in sources} == expected | {nested.name}


def test_file_removed_after_listing_is_skipped(log_dir: Path) -> None:
    items = InspectLogs({"path": log_dir}).fetch(Cursor())
    first = next(items)
    (second,) = [p for p in log_dir.iterdir() if str(p) != first.source]
    second.unlink()
    assert list(items) == []


def test_unreadable_file_is_rejected_and_tried_again(
    store: Store, log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    # Running as root, permissions do not stop a read: the failing open is simulated.
    target = next(p for p in log_dir.iterdir() if p.suffix == ".json")
    real_open = Path.open

    def failing_open(self: Path, *args: object, **kwargs: object) -> object:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    connector, cursor = InspectLogs({"path": log_dir}), Cursor()
    with mock.patch.object(Path, "open", autospec=True, side_effect=failing_open):
        result = run_feed(store, "lab", connector, cursor, clock)
    assert [(r.source, r.reason) for r in result.rejections] == [(str(target), "unreadable")]
    assert result.ingested == 2
    again = run_feed(store, "lab", connector, cursor, clock)  # permission fixed
    assert (again.ingested, again.rejected) == (2, 0)

"""Bad input through the whole ingest path into a real store (SQLite file, and PostgreSQL when
WARDEN_TEST_DATABASE_URL is set): each bad file becomes one reject row naming the file and the
reason, nothing else from it is stored, and the good files beside it are still ingested."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import func, select

from connectors.inspect_logs import InspectLogs
from tests.connectors import craft
from tests.connectors.conftest import clock
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import IngestResult, run_feed
from warden.store import Store
from warden.store.schema import failed_runs, feed_runs, feeds, observations, rejects

LIMIT = 64 * 1024  # max_header_bytes in these tests: real headers are about 3 KiB
GOOD_OBSERVATIONS = 4  # the .eval and the .json log in `log_dir`, two metrics each
NAME = "2026-01-01T00-00-00-00-00_tiny_bad"


@dataclass(frozen=True)
class Bad:
    """A bad file made in `folder` from the real logs, and the reject it must give."""

    make: Callable[[Path, dict[str, Path]], Path]
    reason: str
    record: str | None = None
    field: str | None = None


def edited_json(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path, dict[str, Path]], Path]:
    def make(folder: Path, logs: dict[str, Path]) -> Path:
        doc = craft.log_json(logs["json"])
        edit(doc)
        return craft.write_json(folder / f"{NAME}.json", doc)

    return make


def set_accuracy(value: object) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["results"]["scores"][0]["metrics"]["accuracy"]["value"] = value

    return edit


def truncated_eval(folder: Path, logs: dict[str, Path]) -> Path:
    data = logs["eval"].read_bytes()
    path = folder / f"{NAME}.eval"
    path.write_bytes(data[: len(data) // 2])
    return path


def not_a_zip(folder: Path, logs: dict[str, Path]) -> Path:
    path = folder / f"{NAME}.eval"
    path.write_bytes(b"this is not a zip archive\n" * 10)
    return path


def zip_without_header(folder: Path, logs: dict[str, Path]) -> Path:
    return craft.write_zip(folder / f"{NAME}.eval", {"readme.txt": b"hello"})


def bomb(folder: Path, logs: dict[str, Path]) -> Path:
    """A few KiB of zip whose header.json expands to 16 times the limit."""
    header = craft.header_json(logs["eval"])
    text = json.dumps(header) + " " * (16 * LIMIT)
    path = craft.write_zip(folder / f"{NAME}.eval", {"header.json": text.encode()})
    assert path.stat().st_size < LIMIT // 4
    return path


def lying_bomb(folder: Path, logs: dict[str, Path]) -> Path:
    """The same bomb, but its headers declare a 100-byte header.json."""
    return craft.patch_sizes(bomb(folder, logs), "header.json", file_size=100)


def damaged_eval(folder: Path, logs: dict[str, Path]) -> Path:
    """A real log with its members stored uncompressed and one byte of header.json changed."""
    members = craft.eval_members(logs["eval"])
    path = craft.write_zip(folder / f"{NAME}.eval", members, zipfile.ZIP_STORED)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("header.json")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.file_size // 2] ^= 0x20
    path.write_bytes(bytes(data))
    return path


def error_log(folder: Path, logs: dict[str, Path]) -> Path:
    return Path(shutil.copy(logs["error"], folder / f"{NAME}.eval"))


SCORE = "results.scores[0].metrics.accuracy.value"
CASES = {
    "truncated_eval": Bad(truncated_eval, "truncated"),
    "not_a_zip": Bad(not_a_zip, "malformed"),
    "zip_without_header": Bad(zip_without_header, "malformed"),
    "header_bomb": Bad(bomb, "too_large"),
    "header_bomb_lying_about_size": Bad(lying_bomb, "too_large"),
    "damaged_member": Bad(damaged_eval, "truncated"),
    "zip64_offset_past_end": Bad(
        lambda f, _: craft.write_zip64_offset(f / f"{NAME}.eval", 2**64 - 1), "truncated"
    ),
    "malformed_json": Bad(
        lambda f, _: _write(f / f"{NAME}.json", b'{"status": "success",, "eval": {}}'), "malformed"
    ),
    "truncated_json": Bad(
        lambda f, _: _write(f / f"{NAME}.json", b'{"status": "succ'), "truncated"
    ),
    "json_not_an_object": Bad(lambda f, _: _write(f / f"{NAME}.json", b"[1, 2]"), "malformed"),
    "nan_value": Bad(edited_json(set_accuracy(float("nan"))), "invalid_value", "match", SCORE),
    "infinite_value": Bad(edited_json(set_accuracy(float("inf"))), "invalid_value", "match", SCORE),
    "string_value": Bad(edited_json(set_accuracy("0.67")), "invalid_value", "match", SCORE),
    "bool_value": Bad(edited_json(set_accuracy(True)), "invalid_value", "match", SCORE),
    "missing_model": Bad(
        edited_json(lambda d: d["eval"].pop("model")), "missing_field", None, "eval.model"
    ),
    "missing_results": Bad(
        edited_json(lambda d: d.pop("results")), "missing_field", None, "results"
    ),
    "naive_time": Bad(
        edited_json(lambda d: d["stats"].update(completed_at="2026-01-01T00:00:00")),
        "invalid_value",
        None,
        "stats.completed_at",
    ),
    "overlong_model_id": Bad(
        edited_json(lambda d: d["eval"].update(model="x" * 201)),
        "invalid_value",
        None,
        "eval.model",
    ),
}
# Runs that ended in error or were cancelled: not bad input, but failed runs (recorded apart).
FAILED_RUNS = {
    "error_log": Bad(error_log, "run_error", "header.json", "status"),
    "cancelled_log": Bad(
        edited_json(lambda d: d.update(status="cancelled")), "run_cancelled", None, "status"
    ),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def connector_for(folder: Path) -> InspectLogs:
    return InspectLogs({"path": folder, "max_header_bytes": LIMIT})


def stored(store: Store) -> tuple[list[Any], list[Any]]:
    with store.read() as conn:
        obs = conn.execute(select(observations.c.source, observations.c.key)).all()
        rej = conn.execute(
            select(
                rejects.c.source,
                rejects.c.reason,
                rejects.c.record,
                rejects.c.field,
                rejects.c.message,
                rejects.c.feed,
            )
        ).all()
    return obs, rej


@pytest.mark.parametrize("case", FAILED_RUNS.values(), ids=FAILED_RUNS.keys())
def test_a_failed_run_is_recorded_as_one_not_rejected(
    case: Bad, store: Store, log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    bad = case.make(log_dir, inspect_logs)
    cursor = Cursor()
    result = run_feed(store, "lab", connector_for(log_dir), cursor, clock)
    assert result.error is None and result.rejected == 0 and result.failed_runs == 1
    (run,) = result.run_failures
    assert (run.source, run.reason) == (str(bad), case.reason)
    _, rej = stored(store)
    assert rej == []
    with store.read() as conn:
        (row,) = conn.execute(select(failed_runs.c.source, failed_runs.c.status)).all()
    assert row == (str(bad), "error" if case.reason == "run_error" else "cancelled")
    assert str(bad) in cursor.versions  # not read again by the feed's next runs
    assert_only_good_files_ingested(store, result, log_dir)


def assert_only_good_files_ingested(store: Store, result: IngestResult, log_dir: Path) -> None:
    good = {str(p) for p in log_dir.iterdir()} - {r.source for r in result.rejections}
    obs, _ = stored(store)
    assert result.ingested == len(obs) == GOOD_OBSERVATIONS
    assert {source for source, _ in obs} <= good


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_file_is_rejected_and_good_files_still_ingested(
    case: Bad, store: Store, log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    bad = case.make(log_dir, inspect_logs)
    result = run_feed(store, "lab", connector_for(log_dir), Cursor(), clock)

    assert result.error is None
    assert result.rejected == 1
    (rejection,) = result.rejections
    assert (rejection.source, rejection.reason) == (str(bad), case.reason)
    obs, rej = stored(store)
    assert [tuple(r[:4]) for r in rej] == [(str(bad), case.reason, case.record, case.field)]
    assert rej[0].message and rej[0].feed == "lab"
    assert str(bad) not in {source for source, _ in obs}
    assert_only_good_files_ingested(store, result, log_dir)
    with store.read() as conn:
        run = conn.execute(select(feed_runs)).one()
    assert (run.status, run.ingested, run.rejected) == ("ok", GOOD_OBSERVATIONS, 1)


@pytest.mark.parametrize("case", ["truncated_eval", "nan_value"])
def test_rejecting_the_same_bad_file_twice_records_it_once(
    case: str, store: Store, log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    CASES[case].make(log_dir, inspect_logs)
    connector = connector_for(log_dir)
    first = run_feed(store, "lab", connector, Cursor(), clock)
    again = run_feed(store, "lab", connector, Cursor(), clock)  # a restart: nothing remembered
    assert first.rejected == again.rejected == 1
    assert (again.ingested, again.duplicates) == (0, GOOD_OBSERVATIONS)
    _, rej = stored(store)
    assert len(rej) == 1


def test_unchanged_bad_file_is_not_read_again(
    store: Store, log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    CASES["nan_value"].make(log_dir, inspect_logs)
    connector, cursor = connector_for(log_dir), Cursor()
    assert run_feed(store, "lab", connector, cursor, clock).rejected == 1
    again = run_feed(store, "lab", connector, cursor, clock)
    assert (again.ingested, again.duplicates, again.rejected, again.skipped) == (0, 0, 0, 0)


def test_bad_file_is_ingested_once_fixed(
    store: Store, log_dir: Path, inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    bad = truncated_eval(log_dir, inspect_logs)
    connector, cursor = connector_for(log_dir), Cursor()
    assert run_feed(store, "lab", connector, cursor, clock).rejected == 1
    bad.write_bytes(inspect_logs["epochs"].read_bytes())
    fixed = run_feed(store, "lab", connector, cursor, clock)
    assert (fixed.ingested, fixed.rejected) == (4, 0)


def test_reingesting_the_same_folder_adds_nothing(store: Store, log_dir: Path) -> None:
    connector = connector_for(log_dir)
    first = run_feed(store, "lab", connector, Cursor(), clock)
    assert (first.ingested, first.duplicates, first.rejected) == (GOOD_OBSERVATIONS, 0, 0)
    before, _ = stored(store)
    for _ in range(2):
        again = run_feed(store, "lab", connector, Cursor(), clock)
        assert (again.ingested, again.duplicates, again.rejected) == (0, GOOD_OBSERVATIONS, 0)
    after, _ = stored(store)
    assert sorted(after) == sorted(before)


def test_same_logs_in_another_feed_are_that_feeds_own(store: Store, log_dir: Path) -> None:
    connector = connector_for(log_dir)
    run_feed(store, "lab", connector, Cursor(), clock)
    other = run_feed(store, "mirror", connector, Cursor(), clock)
    assert other.ingested == GOOD_OBSERVATIONS


def test_empty_folder_is_rejected(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a log")
    result = run_feed(store, "lab", connector_for(folder), Cursor(), clock)
    assert (result.ingested, result.rejected, result.error) == (0, 1, None)
    obs, rej = stored(store)
    assert obs == []
    assert [(r.source, r.reason) for r in rej] == [(str(folder), "malformed")]


def test_missing_path_fails_the_run_without_raising(store: Store, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_feed(store, "lab", connector_for(missing), Cursor(), clock)
    assert result.error is not None and str(missing) in result.error
    assert (result.ingested, result.rejected) == (0, 0)
    obs, rej = stored(store)
    assert obs == rej == []
    with store.read() as conn:
        run = conn.execute(select(feed_runs)).one()
        feed = conn.execute(select(feeds)).one()
    assert run.status == "failed" and run.error == result.error
    assert feed.last_error == result.error and feed.last_success_at is None


def test_file_changing_while_read_is_rejected_and_read_again(
    store: Store,
    log_dir: Path,
    inspect_logs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changing = Path(shutil.copy(inspect_logs["epochs"], log_dir / f"{NAME}.eval"))
    connector = connector_for(log_dir)
    read = connector._read

    def read_then_append(fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        out = read(fp, source)
        if source == str(changing):
            with changing.open("ab") as writer:  # another process still writing the file
                writer.write(b"\0" * 16)
        return out

    monkeypatch.setattr(connector, "_read", read_then_append)
    cursor = Cursor()
    result = run_feed(store, "lab", connector, cursor, clock)
    assert [(r.source, r.reason) for r in result.rejections] == [(str(changing), "file_changed")]
    assert_only_good_files_ingested(store, result, log_dir)
    assert str(changing) not in cursor.versions  # read again next run

    monkeypatch.undo()
    changing.write_bytes(inspect_logs["epochs"].read_bytes())
    later = run_feed(store, "lab", connector, cursor, clock)
    assert (later.ingested, later.rejected) == (4, 0)


def test_each_bad_file_gets_its_own_reject(
    store: Store, log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    bad = [CASES[name].make(log_dir, inspect_logs) for name in ("truncated_eval", "nan_value")]
    result = run_feed(store, "lab", connector_for(log_dir), Cursor(), clock)
    assert result.rejected == 2
    _, rej = stored(store)
    assert sorted((r.source, r.reason) for r in rej) == sorted(
        [(str(bad[0]), "truncated"), (str(bad[1]), "invalid_value")]
    )
    assert_only_good_files_ingested(store, result, log_dir)
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(rejects)).scalar_one() == 2


def test_printable_unicode_ids_are_stored_as_given(
    store: Store, log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    model, task = "labo/modèle-ü-模型", "évaluation/" + "t" * 180
    edited_json(lambda d: d["eval"].update(model=model, task=task))(log_dir, inspect_logs)
    # The edited copy shares its eval_id with the original .json log: keys depend on the run and
    # the score, so move the original out to see the edited one stored.
    (log_dir / inspect_logs["json"].name).unlink()
    result = run_feed(store, "lab", connector_for(log_dir), Cursor(), clock)
    assert (result.ingested, result.rejected, result.error) == (GOOD_OBSERVATIONS, 0, None)
    with store.read() as conn:
        rows = conn.execute(select(observations.c.subject, observations.c.benchmark)).all()
    assert (model, task) in {tuple(r) for r in rows}

"""connectors.source.payloads on archives (.zip bodies and local archives, with their limits), a
feed run that re-reads an unchanged URL and adds nothing, and secrets in a feed's URL. One
document: test_source.py."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ClassVar

import pytest
from sqlalchemy import select

from connectors.archive import ZSTD
from connectors.files import Reader, read_all
from connectors.observations_json import ObservationsJson, parse_batch
from connectors.source import payloads
from tests.connectors import craft
from tests.connectors.conftest import NOW, clock
from tests.connectors.source_server import (
    DOC,
    MODIFIED,
    OBSERVATION,
    etagged,
    fetch,
    remember,
    zipped,
)
from tests.support.loopback import FAST, Loopback, Script, reply
from warden.core.errors import NotReady, ParseError
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.ingest.feedrun import run_feed
from warden.ingest.http import HttpClient
from warden.store import Store
from warden.store.schema import metadata, observations, rejects

# -- zip -------------------------------------------------------------------------------------------
ARCHIVE = {
    "a.json": DOC,
    "dir/": b"",
    "dir/b.JSON": json.dumps([OBSERVATION]).encode(),
    ".hidden.json": b"[]",
    "dir/.x.json": b"[]",
    "__MACOSX/._a.json": b"\0\x05\x16\x07",
    "README.txt": b"read me",
}


def test_zip_url_gives_one_payload_per_member(loopback: Loopback) -> None:
    loopback.routes["/data.zip"] = etagged(zipped(ARCHIVE), content_type="application/zip")
    url, cursor = loopback.url("/data.zip"), Cursor()
    items = fetch(url, cursor)
    assert [(i.source, i.member) for i in items if isinstance(i, Payload)] == [
        (url, "a.json"),
        (url, "dir/b.JSON"),
    ]
    first, second = (i for i in items if isinstance(i, Payload))
    assert (first.content, first.content_hash) == (DOC, sha256(DOC))
    assert first.version == second.version and first.fetched_at == NOW
    remember(cursor, items)
    assert fetch(url, cursor) == []


def test_zip_content_type_or_redirect_name_makes_an_archive(loopback: Loopback) -> None:
    body = zipped({"a.json": DOC})
    loopback.routes["/download"] = reply(200, body, {"Content-Type": "application/zip"})
    loopback.routes["/latest"] = reply(302, headers={"Location": "/files/data-2026.zip"})
    loopback.routes["/files/data-2026.zip"] = reply(200, body)  # no type: the name decides
    for path in ("/download", "/latest"):
        (item,) = fetch(loopback.url(path))
        assert isinstance(item, Payload) and (item.member, item.content) == ("a.json", DOC)
        assert item.source == loopback.url(path)


def test_inspect_eval_logs_are_not_treated_as_archives(loopback: Loopback) -> None:
    log = zipped({"header.json": b"{}", "_journal/start.json": b"{}"})
    loopback.routes["/logs/run.eval"] = reply(200, log, {"Content-Type": "application/zip"})
    (item,) = fetch(loopback.url("/logs/run.eval"), suffixes=(".eval", ".json"))
    assert isinstance(item, Payload) and item.content == log and item.member is None
    loopback.routes["/logs/run.zip"] = reply(200, log)
    (item,) = fetch(loopback.url("/logs/run.zip"), suffixes=(".zip",))
    assert isinstance(item, Payload) and item.content == log


def test_zip_with_too_many_entries_is_rejected_before_reading_them(loopback: Loopback) -> None:
    loopback.routes["/many.zip"] = reply(200, zipped({f"m{i}.json": b"[]" for i in range(50)}))
    limits = FAST.model_copy(update={"max_members": 20})
    (item,) = fetch(loopback.url("/many.zip"), limits=limits)
    assert isinstance(item, Rejection) and item.reason == "too_large"
    assert item.message == "the zip archive has 50 entries, over the 20-entry limit"


def test_zip_bomb_is_rejected_at_the_expanded_limit(loopback: Loopback) -> None:
    members = {"a.json": DOC, "bomb.json": b"\0" * 8 * 2**20, "z.json": DOC}
    loopback.routes["/bomb.zip"] = reply(200, zipped(members))
    limits = FAST.model_copy(update={"max_expanded_bytes": 2**20})
    items = fetch(loopback.url("/bomb.zip"), limits=limits)
    assert [type(i).__name__ for i in items] == ["Payload", "Rejection"]
    rejection = items[1]
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.record) == ("too_large", "bomb.json")


def test_member_sizes_are_counted_not_trusted(tmp_path: Path, loopback: Loopback) -> None:
    plain = craft.write_zip(tmp_path / "x.zip", {"big.json": b"\0" * 300_000})
    small = craft.patch_sizes(tmp_path / "x.zip", "big.json", file_size=10)
    loopback.routes["/small.zip"] = reply(200, small.read_bytes())
    (item,) = fetch(loopback.url("/small.zip"), reader=read_all(2**30))
    assert isinstance(item, Rejection) and item.reason == "truncated"  # CRC of 10 bytes fails
    assert item.record == "big.json"
    huge = craft.patch_sizes(craft.write_zip(plain, {"ok.json": DOC}), "ok.json", file_size=2**31)
    loopback.routes["/huge.zip"] = reply(200, huge.read_bytes())
    limits = FAST.model_copy(update={"max_expanded_bytes": 4096})
    (item,) = fetch(loopback.url("/huge.zip"), limits=limits)
    assert isinstance(item, Payload) and item.content == DOC  # 2 GB declared, few bytes real


def test_zstd_members_are_expanded(tmp_path: Path, loopback: Loopback) -> None:
    path = craft.write_zip(tmp_path / "z.zip", {"a.json": DOC, "b.json": b"[]"}, ZSTD)
    loopback.routes["/z.zip"] = reply(200, path.read_bytes())
    items = fetch(loopback.url("/z.zip"))
    assert [(i.member, i.content) for i in items if isinstance(i, Payload)] == [
        ("a.json", DOC),
        ("b.json", b"[]"),
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [(zipped({"a.json": DOC})[:-30], "truncated"), (b"just text, not a zip", "malformed")],
)
def test_damaged_or_false_zip_is_rejected(loopback: Loopback, body: bytes, reason: str) -> None:
    loopback.routes["/d.zip"] = reply(200, body)
    (item,) = fetch(loopback.url("/d.zip"))
    assert isinstance(item, Rejection) and item.reason == reason


def test_zip_without_wanted_members_is_rejected(loopback: Loopback) -> None:
    loopback.routes["/d.zip"] = reply(200, zipped({"README.txt": b"hi", "x/": b""}))
    (item,) = fetch(loopback.url("/d.zip"))
    assert isinstance(item, Rejection) and item.reason == "malformed"
    assert item.message == "no observation files (*.json) found in the zip archive"


def test_reader_error_in_a_member_names_the_member(loopback: Loopback) -> None:
    loopback.routes["/d.zip"] = reply(200, zipped({"a.json": DOC, "b.json": DOC * 10}))

    def picky(fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        if source.endswith("!b.json"):
            raise ParseError("invalid_value", "bad", source=source, record="3")
        return fp.read(), None

    good, bad = fetch(loopback.url("/d.zip"), reader=picky)
    assert isinstance(good, Payload) and good.member == "a.json"
    assert isinstance(bad, Rejection) and (bad.reason, bad.record) == ("invalid_value", "b.json:3")
    assert bad.source == loopback.url("/d.zip") and bad.version == good.version


def test_a_given_client_is_reused_with_its_limits_and_clock(loopback: Loopback) -> None:
    loopback.routes["/obs.json"] = etagged(DOC)
    later = datetime(2027, 1, 1, tzinfo=UTC)
    with HttpClient(FAST, clock=lambda: later) as client:
        for _ in range(2):
            items = list(
                payloads(
                    loopback.url("/obs.json"),
                    (".json",),
                    Cursor(),
                    read_all(2**20),
                    "x",
                    client=client,
                )
            )
            assert [i.fetched_at for i in items if isinstance(i, Payload)] == [later]
        assert len({s.client_port for s in loopback.hits("/obs.json")}) == 1  # kept alive


@pytest.mark.realdata
def test_real_epoch_hub_served_as_a_zip_gives_its_csvs(samples: Path, loopback: Loopback) -> None:
    """Epoch publishes its Benchmarking Hub as benchmark_data.zip: CSVs plus a README."""
    folder = samples / "epoch" / "benchmark_data"
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    hub = zipped({f"benchmark_data/{name}": data for name, data in files.items()})
    loopback.routes["/data/benchmark_data.zip"] = reply(200, hub, {"ETag": '"hub"'})
    url = loopback.url("/data/benchmark_data.zip")
    items = fetch(url, suffixes=(".csv",), reader=read_all(64 * 2**20))
    got = {i.member: i.content for i in items if isinstance(i, Payload)}
    assert len(items) == len(got) == 4
    assert got == {f"benchmark_data/{n}": d for n, d in files.items() if n.endswith(".csv")}
    assert got["benchmark_data/gpqa_diamond.csv"].startswith(b"Model version,mean_score,")
    assert {i.source for i in items} == {url}


# -- local archives --------------------------------------------------------------------------------
def test_local_zip_gives_members_and_is_skipped_when_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(zipped(ARCHIVE))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    cursor = Cursor()
    items = fetch(path, cursor)
    assert [(i.source, i.member) for i in items if isinstance(i, Payload)] == [
        (str(path), "a.json"),
        (str(path), "dir/b.JSON"),
    ]
    assert len(items) == 2 and {i.fetched_at for i in items if isinstance(i, Payload)} == {
        datetime.fromtimestamp(1_700_000_000, UTC)
    }
    remember(cursor, items)
    assert fetch(path, cursor) == []


def test_local_gz_file_is_gunzipped(tmp_path: Path) -> None:
    path = tmp_path / "obs.json.gz"
    path.write_bytes(gzip.compress(DOC))
    (item,) = fetch(path)
    assert isinstance(item, Payload) and item.content == DOC and item.source == str(path)


def test_local_folders_and_plain_files_are_walked_as_before(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(DOC)
    (tmp_path / "b.zip").write_bytes(zipped({"c.json": DOC}))  # only the source itself unzips
    assert [Path(i.source).name for i in fetch(tmp_path)] == ["a.json"]
    with pytest.raises(FileNotFoundError):
        fetch(tmp_path / "missing.zip")


# -- through a feed run ----------------------------------------------------------------------------
class UrlObservations:
    """observations_json read through `payloads`, so its source may be a URL."""

    name: ClassVar[str] = "url_observations"

    def __init__(self, source: str) -> None:
        self.source = source

    def fetch(self, cursor: Cursor) -> Iterator[Payload | Rejection | Pending]:
        reader = read_all(2**20)
        return payloads(self.source, (".json",), cursor, reader, "observation files", limits=FAST)

    def parse(self, payload: Payload) -> list[Observation]:
        return parse_batch(payload)


def test_feed_rerun_of_an_unchanged_url_adds_nothing(store: Store, loopback: Loopback) -> None:
    loopback.routes["/obs.json"] = etagged(DOC)
    connector, cursor = UrlObservations(loopback.url("/obs.json")), Cursor()
    first = run_feed(store, "remote", connector, cursor, clock)
    assert (first.ingested, first.rejected, first.error) == (2, 0, None)
    assert json.loads(cursor.versions[loopback.url("/obs.json")])["etag"] == '"v1"'
    again = run_feed(store, "remote", connector, cursor, clock)
    assert (again.ingested, again.duplicates, again.rejected, again.error) == (0, 0, 0, None)
    assert len(loopback.hits("/obs.json")) == 2
    assert loopback.hits("/obs.json")[1].headers["If-None-Match"] == '"v1"'


def test_feed_run_records_an_unreachable_url_as_failed(store: Store, loopback: Loopback) -> None:
    loopback.routes["/obs.json"] = reply(503)
    result = run_feed(store, "remote", UrlObservations(loopback.url("/obs.json")), Cursor(), clock)
    assert result.error == (
        f"FetchError: {loopback.url('/obs.json')}: HTTP 503 Service Unavailable "
        "(gave up after 3 attempts; the next run tries again)"
    )
    assert result.ingested == 0


def test_feed_run_rejects_an_html_page_and_asks_again_next_run(
    store: Store, loopback: Loopback
) -> None:
    loopback.routes["/obs.json"] = reply(200, b"<html>down</html>", {"Content-Type": "text/html"})
    connector, cursor = UrlObservations(loopback.url("/obs.json")), Cursor()
    result = run_feed(store, "remote", connector, cursor, clock)
    assert [r.reason for r in result.rejections] == ["malformed"] and cursor.versions == {}
    loopback.routes["/obs.json"] = etagged(DOC)
    assert run_feed(store, "remote", connector, cursor, clock).ingested == 2


# -- secrets in the URL ----------------------------------------------------------------------------
SECRETS = ("hunter2", "SEKRET")


def secret_url(loopback: Loopback, path: str) -> tuple[str, str]:
    """`path` on the loopback server with a password and a token; and the URL as shown."""
    query = "?page=2&token=SEKRET"
    url = loopback.base.replace("http://", "http://reader:hunter2@") + path + query
    return url, loopback.url(path + "?page=2&token=***")


def stored_text(store: Store) -> str:
    """Every row of every table, as text."""
    with store.read() as conn:
        rows = [row for table in metadata.sorted_tables for row in conn.execute(select(table))]
    return "\n".join(repr(tuple(row)) for row in rows)


def test_secrets_in_a_url_are_sent_but_never_stored_or_logged(
    store: Store, loopback: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    members = {
        "a.json": DOC,
        "b.json": json.dumps([{**OBSERVATION, "value": "high"}]).encode(),  # parse rejects it
        "c.json": DOC * 20,  # over max_bytes: the fetch rejects it
    }
    loopback.routes["/feed/obs.zip"] = etagged(zipped(members), content_type="application/zip")
    url, shown = secret_url(loopback, "/feed/obs.zip")
    connector = ObservationsJson({"source": url, "max_bytes": 4096, "fetch": FAST.model_dump()})
    cursor = Cursor()
    first = run_feed(store, "secret", connector, cursor, clock, persist=True)
    assert (first.ingested, first.rejected, first.error) == (2, 2, None)
    assert {r.source for r in first.rejections} == {shown}
    assert list(cursor.versions) == [shown]
    again = run_feed(store, "secret", connector, cursor, clock, persist=True)
    assert (again.ingested, again.duplicates, again.rejected, again.error) == (0, 0, 0, None)
    hits = loopback.hits("/feed/obs.zip")
    assert len(hits) == 2
    for hit in hits:  # the request itself carries the secrets
        assert hit.path.endswith("token=SEKRET")
        assert (
            hit.headers["Authorization"] == "Basic " + base64.b64encode(b"reader:hunter2").decode()
        )
    assert hits[1].headers["If-None-Match"] == '"v1"'
    assert hits[1].headers["If-Modified-Since"] == MODIFIED
    with store.read() as conn:
        sources = set(conn.execute(select(observations.c.source)).scalars())
        sources |= set(conn.execute(select(rejects.c.source)).scalars())
    assert sources == {shown}
    text = stored_text(store)
    assert shown in text and not any(s in text for s in SECRETS)
    assert f"rejected {shown}" in caplog.text
    assert not any(s in caplog.text for s in SECRETS)


@pytest.mark.parametrize(
    ("script", "reader"),
    [
        (reply(200, b"<html>Sign in</html>", {"Content-Type": "text/html"}), None),
        (reply(200, DOC * 1000), None),  # over max_bytes as transferred
        (reply(200, DOC), read_all(10)),
        (reply(200, b"\x1f\x8b\x08garbage", {"Content-Encoding": "gzip"}), None),
    ],
    ids=["html-page", "body-too-large", "reader-error", "bad-gzip"],
)
def test_every_rejection_of_a_url_names_it_without_its_secrets(
    loopback: Loopback, script: Script, reader: Reader | None
) -> None:
    loopback.routes["/obs.json"] = script
    url, shown = secret_url(loopback, "/obs.json")
    (item,) = fetch(url, reader=reader, limits=FAST.model_copy(update={"max_bytes": 20_000}))
    assert isinstance(item, Rejection) and item.source == shown


def test_a_pending_member_of_a_url_names_it_without_its_secrets(loopback: Loopback) -> None:
    loopback.routes["/logs.zip"] = reply(200, zipped({"run.json": DOC}))
    url, shown = secret_url(loopback, "/logs.zip")

    def running(fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        raise NotReady(source, "run in progress")

    assert fetch(url, reader=running) == [Pending(f"{shown}!run.json", "run in progress")]


def test_a_version_saved_under_the_secret_url_keeps_the_get_conditional(
    loopback: Loopback,
) -> None:
    """A cursor saved by a warden that keyed URLs as written: its version moves to the shown
    URL (the secret leaves the cursor) and the request is still conditional."""
    loopback.routes["/obs.json"] = etagged(DOC)
    url, shown = secret_url(loopback, "/obs.json")
    (item,) = fetch(url)
    assert isinstance(item, Payload) and item.version is not None
    cursor = Cursor({url: item.version})
    assert fetch(url, cursor) == []
    assert loopback.hits("/obs.json")[1].headers["If-None-Match"] == '"v1"'
    assert cursor.versions == {shown: item.version}

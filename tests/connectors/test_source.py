"""connectors.source.payloads on one document at a URL (a loopback server): conditional GETs
through the cursor, what a server sends instead of the document (HTML pages), and .gz bodies.
Archives, feed runs and secrets in URLs: test_source_archives.py."""

from __future__ import annotations

import gzip
import json
from typing import BinaryIO

import pytest

from connectors.files import read_all
from connectors.observations_json import parse_batch
from connectors.source import conditional_headers
from tests.connectors.conftest import NOW
from tests.connectors.source_server import (
    DOC,
    MODIFIED,
    OBSERVATION,
    etagged,
    fetch,
    remember,
)
from tests.support.loopback import FAST, Loopback, reply
from warden.core.errors import NotReady
from warden.core.model import Payload, Pending, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.ingest.http import FetchError


# -- one document, conditional GETs -------------------------------------------------------------
def test_url_document_becomes_one_payload(loopback: Loopback) -> None:
    loopback.routes["/obs.json"] = etagged(DOC)
    url = loopback.url("/obs.json")
    (item,) = fetch(url)
    assert isinstance(item, Payload)
    assert (item.source, item.content, item.member) == (url, DOC, None)
    assert item.content_hash == sha256(DOC)
    assert item.fetched_at == NOW
    assert item.version is not None
    assert json.loads(item.version) == {
        "etag": '"v1"',
        "last_modified": MODIFIED,
        "sha256": sha256(DOC),
    }
    assert [o.subject for o in parse_batch(item)] == ["acme/model-1", "acme/model-2"]


def test_unchanged_url_costs_one_conditional_request_and_yields_nothing(
    loopback: Loopback,
) -> None:
    loopback.routes["/obs.json"] = etagged(DOC)
    url, cursor = loopback.url("/obs.json"), Cursor()
    remember(cursor, fetch(url, cursor))
    assert fetch(url, cursor) == []
    first, second = loopback.hits("/obs.json")
    assert "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"] == '"v1"'
    assert second.headers["If-Modified-Since"] == MODIFIED


def test_last_modified_alone_makes_the_request_conditional(loopback: Loopback) -> None:
    loopback.routes["/obs.json"] = etagged(DOC, etag=None)
    url, cursor = loopback.url("/obs.json"), Cursor()
    remember(cursor, fetch(url, cursor))
    assert fetch(url, cursor) == []
    assert "If-None-Match" not in loopback.hits("/obs.json")[1].headers


def test_changed_document_is_read_again(loopback: Loopback) -> None:
    url, cursor = loopback.url("/obs.json"), Cursor()
    loopback.routes["/obs.json"] = etagged(DOC)
    remember(cursor, fetch(url, cursor))
    changed = json.dumps([OBSERVATION]).encode()
    loopback.routes["/obs.json"] = etagged(changed, '"v2"')
    (item,) = fetch(url, cursor)
    assert isinstance(item, Payload) and item.content == changed
    assert item.version is not None and json.loads(item.version)["etag"] == '"v2"'


def test_server_ignoring_conditional_requests_still_adds_nothing(loopback: Loopback) -> None:
    loopback.routes["/obs.json"] = etagged(DOC, honour=False)
    url, cursor = loopback.url("/obs.json"), Cursor()
    remember(cursor, fetch(url, cursor))
    assert fetch(url, cursor) == []  # same validators and bytes: the version matches
    loopback.routes["/bare.json"] = reply(200, DOC)  # no validators at all: the hash decides
    url = loopback.url("/bare.json")
    remember(cursor, fetch(url, cursor))
    assert fetch(url, cursor) == []


def test_a_local_files_version_gives_no_conditional_headers() -> None:
    assert conditional_headers("1234:1700000000000000000") == {}
    assert conditional_headers('["not", "a", "dict"]') == {}
    assert conditional_headers(None) == {}
    assert conditional_headers('{"etag": "\\"a\\"", "sha256": "0"}') == {"If-None-Match": '"a"'}


def test_streaming_readers_get_a_file_for_urls_too(loopback: Loopback) -> None:
    loopback.routes["/big.json"] = reply(200, b'{"head": 1}\n' + b"x" * 300_000)

    def first_line(fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        assert fp.seekable() and source == loopback.url("/big.json")
        return fp.readline().strip(), "line-1"

    (item,) = fetch(loopback.url("/big.json"), reader=first_line)
    assert isinstance(item, Payload)
    assert (item.content, item.member, item.content_hash) == (
        b'{"head": 1}',
        "line-1",
        sha256(b'{"head": 1}'),
    )


def test_reader_errors_become_rejections_with_the_version(loopback: Loopback) -> None:
    loopback.routes["/obs.json"] = etagged(DOC)
    (item,) = fetch(loopback.url("/obs.json"), reader=read_all(10))
    assert isinstance(item, Rejection)
    assert (item.reason, item.message) == ("too_large", "file is over the 10-byte limit")
    assert item.version is not None  # the same bytes are not rejected again

    def not_yet(fp: BinaryIO, source: str) -> tuple[bytes, str | None]:
        raise NotReady(source, "run in progress")

    (pending,) = fetch(loopback.url("/obs.json"), reader=not_yet)
    assert pending == Pending(loopback.url("/obs.json"), "run in progress")


# -- what the server sends instead ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", b"<h1>Sign in</h1>"),
        ("text/plain", b"\n  <!DOCTYPE html><html><head><title>Rate\nlimited</title></head>"),
        ("application/json", b"\xef\xbb\xbf<HTML><body>Service down</body></HTML>"),
    ],
)
def test_html_page_is_rejected_not_parsed(
    loopback: Loopback, content_type: str, body: bytes
) -> None:
    loopback.routes["/obs.json"] = reply(200, body, {"Content-Type": content_type})
    (item,) = fetch(loopback.url("/obs.json"))
    assert isinstance(item, Rejection)
    assert item.reason == "malformed" and item.version is None
    assert item.message.startswith("the server sent an HTML page")
    assert "not observation files" in item.message
    assert f"Content-Type {content_type.split(';')[0]}" in item.message
    if b"Rate" in body:
        assert "titled 'Rate limited'" in item.message


def test_html_is_a_document_when_the_connector_reads_html(loopback: Loopback) -> None:
    page = b"<!DOCTYPE html><html><table></table></html>"
    loopback.routes["/board.html"] = reply(200, page, {"Content-Type": "text/html"})
    (item,) = fetch(loopback.url("/board.html"), suffixes=(".html",))
    assert isinstance(item, Payload) and item.content == page


def test_unreachable_url_fails_the_iteration(loopback: Loopback) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(loopback.url("/gone.json"))
    assert caught.value.permanent and caught.value.status == 404


def test_too_large_body_is_a_rejection(loopback: Loopback) -> None:
    loopback.routes["/obs.json"] = reply(200, DOC)
    (item,) = fetch(loopback.url("/obs.json"), limits=FAST.model_copy(update={"max_bytes": 50}))
    assert isinstance(item, Rejection) and item.reason == "too_large"
    assert "over the 50-byte limit" in item.message


# -- gzip ------------------------------------------------------------------------------------------
def test_gz_url_is_gunzipped(loopback: Loopback) -> None:
    packed = gzip.compress(DOC)
    loopback.routes["/obs.json.gz"] = reply(200, packed, {"Content-Type": "application/gzip"})
    (item,) = fetch(loopback.url("/obs.json.gz"))
    assert isinstance(item, Payload)
    assert (item.content, item.content_hash) == (DOC, sha256(DOC))
    assert item.source == loopback.url("/obs.json.gz")


def test_gz_name_decoded_in_transfer_is_not_gunzipped_twice(loopback: Loopback) -> None:
    encoded = {"Content-Encoding": "gzip", "Content-Type": "application/gzip"}
    loopback.routes["/obs.json.gz"] = reply(200, gzip.compress(DOC), encoded)
    (item,) = fetch(loopback.url("/obs.json.gz"))
    assert isinstance(item, Payload) and item.content == DOC


@pytest.mark.parametrize(
    ("packed", "reason"),
    [
        (gzip.compress(b"\0" * 8 * 2**20, 9), "too_large"),
        (gzip.compress(DOC)[:-20], "truncated"),
        (b"\x1f\x8b\x08garbage", "malformed"),
    ],
    ids=["bomb", "cut", "garbage"],
)
def test_bad_gz_body_is_rejected(loopback: Loopback, packed: bytes, reason: str) -> None:
    loopback.routes["/obs.json.gz"] = reply(200, packed)
    limits = FAST.model_copy(update={"max_expanded_bytes": 2**20})
    (item,) = fetch(loopback.url("/obs.json.gz"), limits=limits)
    assert isinstance(item, Rejection) and item.reason == reason

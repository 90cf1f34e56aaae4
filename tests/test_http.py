"""warden.http against a real loopback server whose answers each test scripts: retries and
backoff, Retry-After, permanent and transient failures, timeouts and the deadline, size limits,
gzip, redirects, Content-Length lies and connection resets."""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest

from tests.connectors.conftest import NOW, clock
from warden.http import FetchError, FetchLimits, HttpClient, retry_after, user_agent
from warden.redact import redact

# Milliseconds, so retries cost nothing; timeouts well under a second.
FAST = FetchLimits(
    connect_timeout=0.5,
    read_timeout=0.3,
    deadline=2.0,
    retries=2,
    backoff_base=0.001,
    backoff_max=0.004,
    retry_after_max=10,
)


# -- the loopback server -------------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    client_port: int


class Handler(BaseHTTPRequestHandler):
    """Answers each GET with the script its Loopback routes the path to (404 if none)."""

    protocol_version = "HTTP/1.1"
    loopback: Loopback

    @property
    def stop(self) -> threading.Event:
        """Set when the test ends: long-running scripts return."""
        return self.loopback.stop

    def do_GET(self) -> None:
        with self.loopback.lock:
            self.loopback.seen.append(Seen(self.path, dict(self.headers), self.client_address[1]))
        script = self.loopback.routes.get(urlsplit(self.path).path, reply(404, b"no such"))
        try:
            script(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up: that is the test

    def log_message(self, *args: Any) -> None:
        return


Script = Callable[[Handler], None]


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # resets and aborted reads are what these tests provoke


class Loopback:
    """A threaded HTTP/1.1 server on 127.0.0.1; `routes` maps a path to the script answering it.
    `seen` lists every request; `sleeps` what a client made with `client_for` waited."""

    def __init__(self) -> None:
        self.routes: dict[str, Script] = {}
        self.seen: list[Seen] = []
        self.sleeps: list[float] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        handler = type("BoundHandler", (Handler,), {"loopback": self})
        self.server = Server(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if urlsplit(s.path).path == path]


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    thread = threading.Thread(target=server.server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.server.shutdown()
        server.server.server_close()


def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Script:
    def script(h: Handler) -> None:
        h.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(body)

    return script


def in_turn(*scripts: Script) -> Script:
    """Each request gets the next script; the last one answers the rest."""
    queue = list(scripts)

    def script(h: Handler) -> None:
        (queue.pop(0) if len(queue) > 1 else queue[0])(h)

    return script


def drip(length: int, every: float, stall_after: int | None = None) -> Script:
    """Headers announcing `length` bytes, then one byte every `every` seconds (or, with
    `stall_after`, that many bytes and then nothing), until the client goes away."""

    def script(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        for i in range(length):
            if stall_after is not None and i >= stall_after:
                h.stop.wait(3)
                return
            h.wfile.write(b"x")
            h.wfile.flush()
            if h.stop.wait(every):
                return

    return script


def reset(after_headers: bool = False) -> Script:
    """Abort the connection with a TCP reset, before the response or in the middle of its body."""

    def script(h: Handler) -> None:
        if after_headers:
            h.send_response(200)
            h.send_header("Content-Length", "100000")
            h.end_headers()
            h.wfile.write(b"x" * 1000)
            h.wfile.flush()
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    return script


def raw(data: bytes) -> Script:
    """Bytes written as they are after the status line's headers (for chunked bodies and lies)."""

    def script(h: Handler) -> None:
        h.wfile.write(data)
        h.close_connection = True

    return script


@pytest.fixture
def client(loopback: Loopback) -> Iterator[HttpClient]:
    with HttpClient(FAST, sleep=loopback.sleeps.append, clock=clock) as c:
        yield c


def failure(client: HttpClient, url: str, **headers: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        client.get(url, headers)
    return caught.value


# -- success -------------------------------------------------------------------------------------
def test_body_is_spooled_with_its_hash_and_arrival_time(
    loopback: Loopback, client: HttpClient
) -> None:
    body = b'{"a": 1}' * 1000
    loopback.routes["/doc.json"] = reply(200, body, {"ETag": '"v1"'})
    with client.get(loopback.url("/doc.json")) as fetched:
        assert fetched.body.read() == body
        assert (fetched.status, fetched.size, fetched.attempts) == (200, len(body), 1)
        assert fetched.arrived_at == NOW
        assert fetched.headers["ETag"] == '"v1"'
    assert fetched.sha256 == hashlib.sha256(body).hexdigest()


def test_requests_carry_the_user_agent_and_ask_for_gzip_only(
    loopback: Loopback, client: HttpClient
) -> None:
    loopback.routes["/x"] = reply(200, b"ok")
    client.get(loopback.url("/x")).close()
    (seen,) = loopback.hits("/x")
    version = importlib.metadata.version("warden")
    assert seen.headers["User-Agent"] == f"warden/{version}" == user_agent()
    assert seen.headers["Accept-Encoding"] == "gzip"


def test_user_agent_falls_back_to_dev_when_warden_is_not_installed() -> None:
    missing = importlib.metadata.PackageNotFoundError("warden")
    with mock.patch("importlib.metadata.version", autospec=True, side_effect=missing):
        assert user_agent.__wrapped__() == "warden/dev"


def test_a_reused_client_keeps_its_connection_alive(loopback: Loopback, client: HttpClient) -> None:
    loopback.routes["/a"] = reply(200, b"x" * 100_000)
    loopback.routes["/b"] = reply(304)
    for path in ("/a", "/b", "/a"):
        client.get(loopback.url(path), {"If-None-Match": '"v"'}).close()
    assert len({seen.client_port for seen in loopback.seen}) == 1


def test_gzip_transfer_encoding_is_decoded(loopback: Loopback, client: HttpClient) -> None:
    body = b"line of text\n" * 5000
    # Two gzip members back to back, as `cat a.gz b.gz` makes: both are decoded.
    packed = gzip.compress(body[:100]) + gzip.compress(body[100:])
    loopback.routes["/g"] = reply(200, packed, {"Content-Encoding": "gzip"})
    with client.get(loopback.url("/g")) as fetched:
        assert fetched.body.read() == body and fetched.size == len(body)


def test_chunked_body_is_read_whole(loopback: Loopback, client: HttpClient) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (b"abc", b"defgh" * 100))
    loopback.routes["/c"] = raw(head + chunks + b"0\r\n\r\n")
    with client.get(loopback.url("/c")) as fetched:
        assert fetched.body.read() == b"abc" + b"defgh" * 100


# -- retries and their end -----------------------------------------------------------------------
def test_transient_failures_are_retried_with_exponential_backoff(
    loopback: Loopback, client: HttpClient
) -> None:
    loopback.routes["/flaky"] = in_turn(reply(503), reply(502), reply(200, b"at last"))
    with client.get(loopback.url("/flaky")) as fetched:
        assert fetched.body.read() == b"at last" and fetched.attempts == 3
    assert len(loopback.hits("/flaky")) == 3
    assert loopback.sleeps == [0.001, 0.002]


def test_retries_stop_and_the_error_says_how_many_attempts(
    loopback: Loopback, client: HttpClient
) -> None:
    loopback.routes["/down"] = reply(503)
    error = failure(client, loopback.url("/down"))
    assert len(loopback.hits("/down")) == FAST.retries + 1 == 3
    assert (error.reason, error.status, error.permanent, error.attempts) == (
        "http_status",
        503,
        False,
        3,
    )
    assert str(error) == (
        f"{loopback.url('/down')}: HTTP 503 Service Unavailable "
        "(gave up after 3 attempts; the next run tries again)"
    )


def test_backoff_is_capped() -> None:
    limits = FetchLimits(backoff_base=1, backoff_max=5, retries=6)
    with HttpClient(limits) as c:
        assert [c.backoff(i) for i in range(5)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_server_errors_429_and_408_are_transient(
    loopback: Loopback, client: HttpClient, status: int
) -> None:
    loopback.routes["/t"] = reply(status)
    error = failure(client, loopback.url("/t"))
    assert not error.permanent and error.status == status
    assert len(loopback.hits("/t")) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_client_errors_fail_fast_as_permanent(
    loopback: Loopback, client: HttpClient, status: int
) -> None:
    loopback.routes["/p"] = reply(status)
    error = failure(client, loopback.url("/p"))
    assert error.permanent and error.status == status and error.reason == "http_status"
    assert len(loopback.hits("/p")) == 1 and loopback.sleeps == []
    assert loopback.url("/p") in str(error) and f"HTTP {status}" in str(error)


def test_404_and_401_messages_say_what_to_check(loopback: Loopback, client: HttpClient) -> None:
    loopback.routes["/secret"] = reply(401)
    assert "check the feed's credentials" in str(failure(client, loopback.url("/secret")))
    gone = str(failure(client, loopback.url("/missing")))
    assert gone == f"{loopback.url('/missing')}: HTTP 404 Not Found: check the feed's URL " + (
        "(the document is not there)"
    )


def test_retry_after_seconds_is_honoured(loopback: Loopback, client: HttpClient) -> None:
    loopback.routes["/busy"] = in_turn(reply(429, headers={"Retry-After": "7"}), reply(200, b"ok"))
    client.get(loopback.url("/busy")).close()
    assert loopback.sleeps == [7.0]


def test_retry_after_http_date_is_honoured(loopback: Loopback, client: HttpClient) -> None:
    when = format_datetime(NOW + timedelta(seconds=3), usegmt=True)
    loopback.routes["/busy"] = in_turn(reply(503, headers={"Retry-After": when}), reply(200))
    client.get(loopback.url("/busy")).close()
    assert loopback.sleeps == [3.0]


def test_retry_after_beyond_the_cap_gives_up_at_once(
    loopback: Loopback, client: HttpClient
) -> None:
    loopback.routes["/later"] = reply(429, headers={"Retry-After": "3600"})
    error = failure(client, loopback.url("/later"))
    assert len(loopback.hits("/later")) == 1 and loopback.sleeps == []
    assert not error.permanent and error.retry_after == 3600
    assert "asks to wait 3600 s, longer than the 10-s cap" in str(error)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(minutes=2), usegmt=True), 120.0),
        (format_datetime(NOW - timedelta(minutes=2), usegmt=True), 0.0),  # past: at once
        ("soon", None),
        ("-5", None),
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone
        ("Wed, 21 Oct 99999 07:28:00 GMT", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after(value, NOW) == seconds


def test_refused_connection_is_transient_and_retried(client: HttpClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = failure(client, f"http://127.0.0.1:{port}/x")
    assert (error.reason, error.permanent, error.attempts) == ("connection", False, 3)
    assert "cannot connect" in str(error) and "Connection refused" in str(error)


@pytest.mark.parametrize("after_headers", [False, True], ids=["before", "mid-body"])
def test_connection_reset_is_transient_and_retried(
    loopback: Loopback, client: HttpClient, after_headers: bool
) -> None:
    loopback.routes["/rst"] = reset(after_headers)
    error = failure(client, loopback.url("/rst"))
    assert (error.reason, error.permanent) == ("connection", False)
    assert len(loopback.hits("/rst")) == 3


def test_reset_then_success_recovers(loopback: Loopback, client: HttpClient) -> None:
    loopback.routes["/rst"] = in_turn(reset(), reply(200, b"fine"))
    with client.get(loopback.url("/rst")) as fetched:
        assert fetched.body.read() == b"fine" and fetched.attempts == 2


# -- timeouts --------------------------------------------------------------------------------------
def test_dripping_body_fails_at_the_deadline(loopback: Loopback) -> None:
    """Each byte arrives well within the read timeout; only the deadline stops it."""
    loopback.routes["/drip"] = drip(10_000, every=0.02)
    limits = FAST.model_copy(update={"deadline": 0.3, "retries": 0})
    t0 = time.monotonic()
    with HttpClient(limits) as c:
        error = failure(c, loopback.url("/drip"))
    assert time.monotonic() - t0 < 0.8
    assert (error.reason, error.permanent) == ("timeout", False)
    assert "longer than the 0.3-s deadline" in str(error)


def test_body_that_never_finishes_fails_at_the_read_timeout(loopback: Loopback) -> None:
    loopback.routes["/stall"] = drip(1000, every=0, stall_after=10)
    limits = FAST.model_copy(update={"read_timeout": 0.2, "retries": 0})
    t0 = time.monotonic()
    with HttpClient(limits) as c:
        error = failure(c, loopback.url("/stall"))
    assert time.monotonic() - t0 < 0.7
    assert (error.reason, error.permanent) == ("timeout", False)
    assert "the body stalled: no bytes for 0.2 s" in str(error)


def test_no_response_is_a_timeout_and_is_retried(loopback: Loopback) -> None:

    def silent(h: Handler) -> None:
        h.stop.wait(3)

    loopback.routes["/silent"] = silent
    sleeps: list[float] = []
    limits = FAST.model_copy(update={"read_timeout": 0.15, "retries": 1})
    with HttpClient(limits, sleep=sleeps.append) as c:
        error = failure(c, loopback.url("/silent"))
    assert (error.reason, error.permanent, error.attempts) == ("timeout", False, 2)
    assert len(loopback.hits("/silent")) == 2 and sleeps == [0.001]


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

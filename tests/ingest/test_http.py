"""warden.ingest.http against a real loopback server whose answers each test scripts
(tests/support/loopback.py): success, retries and backoff, Retry-After, permanent and transient
failures, timeouts and the deadline. Sizes, gzip, redirects, Content-Length lies and errors:
tests/ingest/test_http_content.py."""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import socket
import time
from datetime import timedelta
from email.utils import format_datetime
from unittest import mock

import pytest

from tests.connectors.conftest import NOW
from tests.support.loopback import (
    FAST,
    Handler,
    Loopback,
    drip,
    failure,
    in_turn,
    raw,
    reply,
    reset,
)
from warden.ingest.http import FetchLimits, HttpClient, retry_after, user_agent


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

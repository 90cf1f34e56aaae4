"""Warden's one HTTP fetch layer: a GET that cannot hang, cannot fill memory, and says why it
failed.

`HttpClient.get` applies `FetchLimits`: connect and read timeouts plus an overall deadline per
response (a server that sends its headers and then drips the body, or never finishes it, fails
as a timeout); retries with exponential backoff on connection errors, timeouts, 408, 429 and
5xx, honouring `Retry-After` (seconds or an HTTP date) up to a cap; a maximum body size,
refused as soon as it is exceeded or announced by Content-Length; gzip transfer encoding
decoded with a limit on the expanded size (a gzip bomb stops at the limit); redirects followed
only to http(s), and only a few. The body is spooled to a bounded temporary file.

Failures raise `FetchError`, an OSError (so a feed run records it as a failed run) with a
`reason` from `REASONS` and `permanent` (a 4xx other than 408/429, a bad URL, a bad redirect:
retrying will not help; everything else is transient and is retried first).

Errors name a URL as `warden.core.redact.redact` shows it: no user info, no token values. Only the
request itself carries them (urllib3's own debug lines are filtered the same way, by
warden/core/redact.py, imported here).

Why the retry and redirect loops are hand-written rather than `urllib3.Retry` on requests'
`HTTPAdapter(max_retries=...)`: tried, with tests/ingest/test_http*.py as the measure. A Retry
subclass given the client's injected sleep (total/connect/read/status = `retries`, 408/429/5xx
forced, `backoff_factor`, `backoff_max`, `respect_retry_after_header`, `retry_after_max`) failed
7 of their 69 tests: urllib3 waits 0 s before the first retry (`get_backoff_time` counts from
the second), reads an HTTP-date Retry-After against `time.time()` instead of the injected clock,
clamps a Retry-After over the cap and retries instead of giving up at once; a retried request
that still fails reaches requests as a `MaxRetryError`, which requests turns into a
`ConnectionError` (a read timeout is no longer a `timeout`) without the retry history (so no
"gave up after N attempts"); and urllib3 retries only until the headers arrive, so a body cut
short or reset mid-stream (read here with `stream=True`, under the deadline and size limits) is
never retried. Each is fixable only by overriding most of Retry and keeping an outer loop for
the body anyway: two retry loops for one.
Redirects are not urllib3's to follow under requests (its adapter calls `urlopen` with
`redirect=False`); requests' own following (`allow_redirects`, `max_redirects`) failed 4 more: a
redirect to ftp/file/gopher surfaces as `InvalidSchema` after the hop (an `invalid_url`, not a
refused `redirect`) and an invalid Location escapes as a bare ValueError; it also drops only
`Authorization` when the host changes, where this client keeps only the conditional headers.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import io
import logging
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from pydantic import BaseModel, ConfigDict, Field

from warden.core.clock import Clock, system_clock
from warden.core.redact import redact

log = logging.getLogger(__name__)

# What went wrong, for logs and metrics: a fixed set.
REASONS = (
    "timeout",
    "connection",
    "http_status",
    "too_large",
    "redirect",
    "bad_content",
    "invalid_url",
)
CHUNK = 64 * 1024
SPOOL_MEMORY = 2 * 2**20  # bodies up to this size stay in memory, larger ones go to disk
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CONDITIONAL = ("If-None-Match", "If-Modified-Since")


class FetchLimits(BaseModel):
    """How long and how much one fetch may take; connectors embed it in their options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect_timeout: float = Field(10.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(30.0, gt=0, description="seconds to wait for any bytes")
    deadline: float = Field(300.0, gt=0, description="seconds for one whole response")
    retries: int = Field(3, ge=0, le=10, description="retries of a transient failure")
    backoff_base: float = Field(1.0, ge=0, description="seconds before the first retry")
    backoff_max: float = Field(30.0, ge=0, description="longest wait between retries")
    retry_after_max: float = Field(120.0, ge=0, description="longest Retry-After honoured")
    max_redirects: int = Field(5, ge=0, le=20)
    max_bytes: int = Field(256 * 2**20, gt=0, description="largest body as transferred")
    max_expanded_bytes: int = Field(1024 * 2**20, gt=0, description="largest gunzipped body")
    max_members: int = Field(10_000, gt=0, description="most entries in a zip archive")


class FetchError(OSError):
    """A URL that could not be fetched. `reason` is one of `REASONS`; `permanent` says whether
    trying again can help."""

    def __init__(
        self,
        reason: str,
        url: str,
        detail: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown fetch error reason {reason!r}")
        self.reason = reason
        self.url = url
        self.detail = detail
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.attempts = attempts
        if permanent:
            tail = ""
        elif attempts > 1:
            tail = f" (gave up after {attempts} attempts; the next run tries again)"
        else:
            tail = " (transient: the next run tries again)"
        super().__init__(f"{redact(url)}: {detail}{tail}")

    def __str__(self) -> str:
        return str(self.args[0])

    def again(self, attempts: int, detail: str | None = None) -> FetchError:
        """This error as the outcome of `attempts` attempts."""
        return FetchError(
            self.reason,
            self.url,
            detail or self.detail,
            permanent=self.permanent,
            status=self.status,
            retry_after=self.retry_after,
            attempts=attempts,
        )


@functools.cache
def user_agent() -> str:
    try:
        version = importlib.metadata.version("warden")
    except importlib.metadata.PackageNotFoundError:
        version = "dev"
    return f"warden/{version}"


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, (when - now).total_seconds())


class Gunzip:
    """A streaming gzip decoder (concatenated members too) refusing to expand past `limit`."""

    def __init__(self, limit: int, url: str) -> None:
        self.limit = limit
        self.url = url
        self.total = 0
        self._seen = False
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            while data:
                if self._inflater.eof:  # another member follows
                    self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._seen = True
                out = self._inflater.decompress(data, CHUNK)
                self.total += len(out)
                if self.total > self.limit:
                    detail = f"gzip data expands past the {self.limit}-byte limit"
                    raise FetchError("too_large", self.url, detail, permanent=True)
                if out:
                    yield out
                tail = self._inflater.unused_data if self._inflater.eof else b""
                data = tail or self._inflater.unconsumed_tail
        except zlib.error as exc:
            detail = f"invalid gzip data ({exc})"
            raise FetchError("bad_content", self.url, detail, permanent=True) from exc

    @property
    def complete(self) -> bool:
        """Whether the data fed so far ends where a gzip member ends (or was empty)."""
        return not self._seen or self._inflater.eof

    def finish(self) -> None:
        if not self.complete:
            raise FetchError("bad_content", self.url, "gzip data cut short", permanent=True)


@dataclass
class Fetched:
    """A response: 304 (unchanged; empty body) or a 2xx with its body spooled, decoded."""

    url: str  # where the body came from, after redirects
    status: int
    headers: Mapping[str, str]
    body: IO[bytes]
    size: int
    sha256: str
    arrived_at: datetime
    attempts: int = 1
    redirects: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.body.close()

    def __enter__(self) -> Fetched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Session(requests.Session):
    """A session that never follows redirects itself: `HttpClient` does, checking each one.
    (requests otherwise prepares the next request even with allow_redirects=False, and an
    invalid Location raises a bare ValueError there.)"""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


class HttpClient:
    """GETs under `limits`; one requests.Session (keep-alive) until `close`."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = system_clock,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.sleep = sleep
        self.clock = clock
        self.session = _Session()
        self.session.headers["User-Agent"] = user_agent()
        self.session.headers["Accept-Encoding"] = "gzip"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first)."""
        return float(min(self.limits.backoff_max, self.limits.backoff_base * 2**attempt))

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """GET `url`, retrying transient failures. Returns a 2xx or, for a conditional request,
        a 304; raises FetchError otherwise."""
        attempt = 0
        while True:
            try:
                fetched = self._once(url, dict(headers or {}))
            except FetchError as exc:
                if exc.permanent or attempt >= self.limits.retries:
                    raise exc.again(attempt + 1) from exc
                wait = exc.retry_after if exc.retry_after is not None else self.backoff(attempt)
                if wait > self.limits.retry_after_max:
                    detail = f"{exc.detail}; the server asks to wait {wait:.0f} s, longer than "
                    detail += f"the {self.limits.retry_after_max:g}-s cap"
                    raise exc.again(attempt + 1, detail) from exc
                log.info("GET %s: %s; retrying in %.3g s", redact(url), exc.detail, wait)
                self.sleep(wait)
                attempt += 1
            else:
                fetched.attempts = attempt + 1
                return fetched

    # -- one attempt, redirects included -------------------------------------------------------
    def _once(self, url: str, headers: dict[str, str]) -> Fetched:
        end = time.monotonic() + self.limits.deadline
        current, hops = url, list[str]()
        while True:
            response = self._send(current, headers, end)
            with response:
                status = response.status_code
                if status in REDIRECTS and "Location" in response.headers:
                    location = response.headers["Location"]
                    try:
                        target = urljoin(current, location)
                        urlsplit(target)
                    except ValueError as exc:
                        detail = f"redirected to an invalid URL {location!r} ({exc})"
                        raise FetchError("redirect", url, detail, permanent=True) from exc
                    headers = self._follow(url, current, target, headers, len(hops))
                    hops.append(target)
                    current = target
                    continue
                arrived_at = self.clock()
                if status == 304 and _conditional(headers):
                    empty = io.BytesIO()
                    nothing = hashlib.sha256().hexdigest()
                    _keep_alive(response)
                    return Fetched(current, 304, response.headers, empty, 0, nothing, arrived_at)
                if not 200 <= status < 300:
                    raise self._status_error(current, response)
                body, size, digest = self._body(current, response, end)
                _keep_alive(response)
                return Fetched(
                    current, status, response.headers, body, size, digest, arrived_at, 1, hops
                )

    def _send(self, url: str, headers: Mapping[str, str], end: float) -> requests.Response:
        limits = self.limits
        left = end - time.monotonic()
        if left <= 0:
            raise self._timeout(url)
        timeout = (limits.connect_timeout, min(limits.read_timeout, left))
        try:
            return self.session.get(
                url, headers=headers, stream=True, allow_redirects=False, timeout=timeout
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise FetchError(
                "timeout",
                url,
                f"no connection within {limits.connect_timeout:g} s",
                permanent=False,
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise FetchError(
                "timeout", url, f"no response within {timeout[1]:g} s", permanent=False
            ) from exc
        except requests.exceptions.SSLError as exc:
            raise FetchError("connection", url, f"TLS failed: {exc}", permanent=True) from exc
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader,
        ) as exc:
            raise FetchError("invalid_url", url, f"invalid URL: {exc}", permanent=True) from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError(
                "connection", url, f"cannot connect: {_cause(exc)}", permanent=False
            ) from exc

    def _follow(
        self, url: str, current: str, target: str, headers: dict[str, str], hops: int
    ) -> dict[str, str]:
        scheme = urlsplit(target).scheme.lower()
        if scheme not in ("http", "https"):
            detail = f"redirected to {redact(target)!r}: only http and https are followed"
            raise FetchError("redirect", url, detail, permanent=True)
        if hops >= self.limits.max_redirects:
            detail = f"more than {self.limits.max_redirects} redirects (the last to "
            detail += f"{redact(target)!r})"
            raise FetchError("redirect", url, detail, permanent=True)
        if urlsplit(target).netloc != urlsplit(current).netloc:
            # The caller's own headers (credentials, say) stay with the host they were meant for.
            wanted = {h.lower() for h in CONDITIONAL}
            return {k: v for k, v in headers.items() if k.lower() in wanted}
        return headers

    def _status_error(self, url: str, response: requests.Response) -> FetchError:
        status = response.status_code
        permanent = 300 <= status < 500 and status not in (408, 429)
        detail = f"HTTP {status} {response.reason or ''}".rstrip()
        if status in (401, 403):
            detail += ": check the feed's credentials or whether the document is public"
        elif status in (404, 410):
            detail += ": check the feed's URL (the document is not there)"
        elif status == 304:
            detail += " to a request that was not conditional"
        elif 300 <= status < 400:
            detail += ": a redirect without a usable Location"
        wait = retry_after(response.headers.get("Retry-After"), self.clock())
        return FetchError(
            "http_status", url, detail, permanent=permanent, status=status, retry_after=wait
        )

    def _timeout(self, url: str) -> FetchError:
        detail = f"the response took longer than the {self.limits.deadline:g}-s deadline"
        return FetchError("timeout", url, detail, permanent=False)

    # -- the body --------------------------------------------------------------------------------
    def _body(
        self, url: str, response: requests.Response, end: float
    ) -> tuple[IO[bytes], int, str]:
        limits = self.limits
        announced = response.headers.get("Content-Length", "")
        if announced.strip().isdigit() and int(announced) > limits.max_bytes:
            detail = f"the body is {int(announced)} bytes (Content-Length), over the "
            detail += f"{limits.max_bytes}-byte limit"
            raise FetchError("too_large", url, detail, permanent=True)
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", ""):
            detail = f"unsupported Content-Encoding {encoding!r} (warden asks for gzip only)"
            raise FetchError("bad_content", url, detail, permanent=True)
        gunzip = Gunzip(limits.max_expanded_bytes, url) if "gzip" in encoding else None
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_MEMORY)  # noqa: SIM115
        digest, size, received = hashlib.sha256(), 0, 0
        try:
            for chunk in self._chunks(url, response, end):
                received += len(chunk)
                if received > limits.max_bytes:
                    detail = f"the body is over the {limits.max_bytes}-byte limit"
                    raise FetchError("too_large", url, detail, permanent=True)
                for data in gunzip.feed(chunk) if gunzip else (chunk,):
                    digest.update(data)
                    spool.write(data)
                    size += len(data)
            if gunzip:
                gunzip.finish()
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool, size, digest.hexdigest()

    def _chunks(self, url: str, response: requests.Response, end: float) -> Iterator[bytes]:
        """The raw body, each read bounded by the read timeout and the deadline."""
        raw: Any = response.raw
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise self._timeout(url)
            wait = min(self.limits.read_timeout, left)
            _set_timeout(raw, wait)
            try:
                chunk: bytes = raw.read1(CHUNK, decode_content=False)
            except urllib3.exceptions.ReadTimeoutError as exc:
                if time.monotonic() >= end:
                    raise self._timeout(url) from exc
                detail = f"the body stalled: no bytes for {wait:g} s"
                raise FetchError("timeout", url, detail, permanent=False) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                detail = f"the connection broke while reading the body: {_cause(exc)}"
                raise FetchError("connection", url, detail, permanent=False) from exc
            if not chunk:
                return
            yield chunk


def _conditional(headers: Mapping[str, str]) -> bool:
    wanted = {h.lower() for h in CONDITIONAL}
    return any(k.lower() in wanted for k in headers)


def _keep_alive(response: requests.Response) -> None:
    """Hand a fully read response's connection back to the pool (closing the response would
    close it, since its body was read from `raw`), so a reused client keeps it alive."""
    response.raw.release_conn()


def _set_timeout(raw: Any, seconds: float) -> None:
    """Bound the next socket read (urllib3 keeps the connection's socket on the response)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _cause(exc: BaseException) -> str:
    """The innermost text of a requests/urllib3 exception chain (the OS error, usually)."""
    seen: BaseException = exc
    for _ in range(10):  # chains are short; never loop on a cycle
        reason = getattr(seen, "reason", None)
        wrapped = seen.args[0] if seen.args else None
        inner = next(
            (e for e in (reason, wrapped, seen.__cause__) if isinstance(e, BaseException)), None
        )
        if inner is None or inner is seen:
            break
        seen = inner
    return f"{type(seen).__name__}: {seen}" if str(seen) else type(seen).__name__

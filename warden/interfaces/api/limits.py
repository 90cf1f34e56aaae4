"""What one HTTP client may cost the daemon: bounded bodies on every endpoint, bounded time to
send a request, and a throttle on failed authentication.

- `BodyLimit` (ASGI middleware): a body over its path's limit is refused with 413 as soon as
  that is known (its Content-Length, or the bytes counted as they arrive), before it is parsed;
  a body that stops arriving for `body_timeout_seconds` is answered 408. The push endpoint takes
  up to 16 MiB; every other endpoint 64 KiB (an acknowledgement or a silence is a few hundred
  bytes: a 200 MiB one used to be parsed whole, 747 MiB of RSS).
- `SlowClientH11` (uvicorn's h11 protocol): a connection that has not sent a whole request line
  and headers within `header_timeout_seconds` of opening (or of its previous response) is
  closed. uvicorn times out idle keep-alive connections but not slow ones (slowloris: 400
  connections sending a header byte at a time were all held for 60 s).
- `AuthThrottle`: after `max_failures` failed authentications from one client address within
  `window_seconds`, that address is answered 429 (with Retry-After) until the window passes,
  whatever it sends; refusals are counted in `warden_http_auth_failures_total` and
  `warden_http_auth_throttled_total` (no address label: addresses are unbounded).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUSH_BODY_BYTES = 16 * 2**20
OTHER_BODY_BYTES = 64 * 2**10
BODY_TIMEOUT_SECONDS = 30.0
HEADER_TIMEOUT_SECONDS = 10.0


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over their path's limit (413) or too slow to arrive (408)."""

    def __init__(
        self,
        app: ASGIApp,
        limits: dict[str, int] | None = None,
        default: int = OTHER_BODY_BYTES,
        body_timeout_seconds: float = BODY_TIMEOUT_SECONDS,
    ) -> None:
        self.app = app
        self.limits = limits or {}
        self.default = default
        self.timeout = body_timeout_seconds

    def limit(self, path: str) -> int:
        return self.limits.get(path, self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, f"body over the {limit}-byte limit")
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                raise _SlowBody from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except _TooLarge:
            if not started:
                await _answer(send, 413, f"body over the {limit}-byte limit")
        except _SlowBody:
            if not started:
                await _answer(send, 408, f"the body did not arrive within {self.timeout:g} s")


class _SlowBody(Exception):
    pass


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": {"message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SlowClientH11(H11Protocol):
    """uvicorn's h11 protocol, closing connections that are slow to send a request's head."""

    header_timeout_seconds = HEADER_TIMEOUT_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout_seconds, self._too_slow)

    def _too_slow(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def handle_events(self) -> None:
        had = self.cycle
        super().handle_events()
        if self.cycle is not had and self._head_timer is not None:  # a request's head arrived
            self._head_timer.cancel()
            self._head_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():  # waiting for the next request's head
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)


class AuthThrottle:
    """Failed authentications per client address in a sliding window."""

    def __init__(
        self,
        max_failures: int = 20,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures[address]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return deque()
        return failures

    def retry_after(self, address: str) -> float | None:
        """Seconds until `address` may try again, or None when it is not throttled."""
        now = self.clock()
        with self._lock:
            failures = self._recent(address, now)
            if len(failures) < self.max_failures:
                return None
            return max(1.0, failures[0] + self.window - now)

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            self._recent(address, now)
            self._failures[address].append(now)
            if len(self._failures) > 100_000:  # a flood of addresses: forget the oldest half
                for stale in list(self._failures)[:50_000]:
                    del self._failures[stale]

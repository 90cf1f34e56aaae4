"""Who is looking at the web view: a session made by the login form from an API token.

A browser cannot send a bearer header when it follows a link, so the login form takes a token
(checked by `Auth.check`, which throttles and counts failures as for the API) and answers a
cookie holding a random session id, never the token: HttpOnly (no script reads it),
SameSite=Strict (no other site's page sends it), Path=/ui, Secure when the request came over
https. The sessions live in the daemon's memory, keyed by the SHA-256 of their id: a restart or
`Log out` ends them, and each ends after SESSION_SECONDS anyway.

A form that changes something (acknowledge, silence, log out) carries a CSRF token, the
HMAC-SHA256 of its session id under a key made at start-up, compared in constant time; a POST
whose `Origin` names another host is refused too. A request with an `Authorization: Bearer`
header (a script) needs no CSRF token: nothing a browser sends by itself authenticates it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.security.utils import get_authorization_scheme_param

from warden.interfaces.api.auth import ANONYMOUS, Auth, Principal, Role

COOKIE = "warden_session"
SESSION_SECONDS = 8 * 3600
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Visitor:
    """Who a request is, and how it proved it: `session` is its session id (a cookie) or None
    (a bearer header, or reading without a token under `http.public_read`)."""

    principal: Principal
    session: str | None = None

    @property
    def can_write(self) -> bool:
        return self.principal is not ANONYMOUS and self.principal.role >= Role.WRITE


class Sessions:
    """The open sessions (in memory) and the key their CSRF tokens are made with."""

    def __init__(self, auth: Auth, clock: Callable[[], float] = time.monotonic) -> None:
        self.auth = auth
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._open: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _slot(session: str) -> str:
        return hashlib.sha256(session.encode()).hexdigest()

    def open(self, principal: Principal) -> str:
        """A new session for `principal`; returns its id (the cookie's value)."""
        session = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            for slot in [s for s, (_, ends) in self._open.items() if ends <= now]:
                del self._open[slot]
            while len(self._open) >= MAX_SESSIONS:  # the oldest first (dicts keep order)
                del self._open[next(iter(self._open))]
            self._open[self._slot(session)] = (principal, now + SESSION_SECONDS)
        return session

    def close(self, session: str) -> None:
        with self._lock:
            self._open.pop(self._slot(session), None)

    def find(self, session: str) -> Principal | None:
        with self._lock:
            found = self._open.get(self._slot(session))
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def csrf(self, session: str | None) -> str:
        """The CSRF token of forms shown in `session` ("" outside one)."""
        if session is None:
            return ""
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def visitor(self, request: Request) -> Visitor | None:
        """Who `request` is: its session, its bearer token (`Auth.check`: a wrong one raises
        HTTPException 401), anyone under `public_read`; None when it must log in."""
        session = request.cookies.get(COOKIE)
        if session:
            principal = self.find(session)
            if principal is not None:
                return Visitor(principal, session)
        header = request.headers.get("authorization")
        if header:
            from fastapi.security import HTTPAuthorizationCredentials

            scheme, credentials = get_authorization_scheme_param(header)
            given = HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)
            return Visitor(self.auth.check(request, given, Role.READ))
        if self.auth.public_read:
            return Visitor(ANONYMOUS)
        return None

    def form_allowed(self, request: Request, visitor: Visitor, token: str | None) -> str | None:
        """Why a form POST may not act (None: it may): another site's Origin, or a session
        form without its CSRF token."""
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
            return "the form was sent from another site"
        if visitor.session is None:
            return None  # a bearer header: no ambient credential to forge with
        expected = self.csrf(visitor.session)
        if not token or not hmac.compare_digest(token.encode(), expected.encode()):
            return "the form's CSRF token is missing or wrong: reload the page and try again"
        return None


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of the web view, never another site."""
    if not target or not target.startswith("/ui/") or target.startswith("//"):
        return "/ui/"
    if any(c in target for c in "\\\r\n") or urlsplit(target).netloc:
        return "/ui/"
    return target

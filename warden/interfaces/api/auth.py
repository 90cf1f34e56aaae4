"""Who may read and write: named bearer tokens with roles, as FastAPI dependencies.

- Roles: `read` (the read endpoints), `write` (also acknowledge, silence, push observations),
  `admin` (also end a silence someone else made). The single `api_token` of older configs is an
  `admin` token named `api_token`.
- A token is configured by its SHA-256 or by the environment variable holding it
  (`warden.app.settings.TokenSettings`); a presented token is hashed and compared with every
  configured digest by `hmac.compare_digest`, all of them each time.
- Reading needs a token unless `http.public_read` is true.
- Every refusal is 401 (no token, an unknown one: `WWW-Authenticate: Bearer`) or 403 (a role
  too low, or no token configured at all), with a reason that names no secret; failed
  authentications count towards the per-address throttle (429, `limits.AuthThrottle`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter

from warden.app.settings import LEGACY_TOKEN, Settings
from warden.interfaces.api.limits import AuthThrottle


class Role(IntEnum):
    READ = 1
    WRITE = 2
    ADMIN = 3


@dataclass(frozen=True)
class Principal:
    """Who a request is: a token's name and role. `shared` for the legacy `api_token`, which
    names no person: its writes name their author in the body (`by`)."""

    name: str
    role: Role
    shared: bool = False

    @property
    def author(self) -> str:
        return self.name


ANONYMOUS = Principal("anonymous", Role.READ)
_bearer = HTTPBearer(
    auto_error=False,
    description="A token of `http.tokens` (or the legacy `api_token`): "
    "`Authorization: Bearer TOKEN`.",
)


@dataclass(frozen=True)
class _Token:
    name: str
    role: Role
    digest: bytes
    shared: bool


class Auth:
    """The configured tokens, and dependencies that admit a request with at least a role."""

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        tokens = [
            _Token(t.name, Role[t.role.upper()], bytes.fromhex(t.digest), False)
            for t in settings.http.tokens
        ]
        if settings.api_token is not None:
            digest = hashlib.sha256(settings.api_token.get_secret_value().encode()).digest()
            tokens.append(_Token(LEGACY_TOKEN, Role.ADMIN, digest, True))
        self._tokens: Sequence[_Token] = tokens
        self.public_read = settings.http.public_read
        self.throttle = AuthThrottle()
        self.failures = Counter(
            "warden_http_auth_failures",
            "Requests refused for a missing or wrong bearer token.",
            registry=registry,
        )
        self.throttled = Counter(
            "warden_http_auth_throttled",
            "Requests refused (429) because their address failed authentication too often.",
            registry=registry,
        )

    def identify(self, token: str) -> Principal | None:
        """The principal whose token this is, or None. Every configured digest is compared
        (in constant time), whichever matches."""
        presented = hashlib.sha256(token.encode()).digest()
        found: _Token | None = None
        for t in self._tokens:
            if hmac.compare_digest(presented, t.digest):
                found = t
        return None if found is None else Principal(found.name, found.role, found.shared)

    def require(self, role: Role) -> Callable[..., Principal]:
        """A dependency admitting requests whose token has `role` or more (for `Role.READ`,
        any request while `public_read`)."""

        def dependency(
            request: Request,
            credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
        ) -> Principal:
            return self.check(request, credentials, role)

        return dependency

    def check(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None, role: Role
    ) -> Principal:
        if role is Role.READ and self.public_read and credentials is None:
            return ANONYMOUS
        if not self._tokens:
            what = "read" if role is Role.READ else "write"
            raise HTTPException(
                403,
                f"the {what} API is off: no api_token is configured (nor any http.tokens)"
                + ("; or set http.public_read: true" if role is Role.READ else ""),
            )
        address = request.client.host if request.client else "unknown"
        wait = self.throttle.retry_after(address)
        if wait is not None:
            self.throttled.inc()
            raise HTTPException(
                429,
                "too many failed authentications from this address",
                headers={"Retry-After": str(int(wait + 0.999))},
            )
        principal = None
        if credentials is not None and credentials.scheme.lower() == "bearer":
            principal = self.identify(credentials.credentials)
        if principal is None:
            self.throttle.failed(address)
            self.failures.inc()
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        if principal.role < role:
            raise HTTPException(
                403,
                f"token {principal.name!r} has role {principal.role.name.lower()}; "
                f"{request.method} {request.url.path} needs {role.name.lower()}",
            )
        return principal

"""The web view's machinery: the Jinja2 templates, who a request is, and every answer's headers.

Each page is built in a worker thread (the store is synchronous) by a function of the visitor
that returns a template and its context; `Web.serve` finds the visitor first (no session and no
`public_read`: a redirect to the login form, so a page never shows anything to a stranger) and
turns warden's errors into an HTML page with `status_of`'s status. Every answer forbids caching
(the pages name unreleased models), framing, and any script or style not served from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from warden import __version__
from warden.core.errors import WardenError
from warden.interfaces.api.alerts import status_of
from warden.interfaces.api.auth import ANONYMOUS, Auth
from warden.interfaces.api.ui import present
from warden.interfaces.api.ui.sessions import Sessions, Visitor
from warden.store import StoreUnavailable

if TYPE_CHECKING:
    from warden.app.daemon import Warden

log = logging.getLogger(__name__)

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
NAV = (
    ("overview", "/ui/", "Overview"),
    ("triggers", "/ui/triggers", "Trigger log"),
    ("catalog", "/ui/catalog", "Catalog"),
    ("forecasts", "/ui/forecasts", "Forecasts"),
    ("feeds", "/ui/feeds", "Feeds"),
)
STYLESHEET = resources.files("warden.interfaces.api.ui").joinpath("static/warden.css")

Page = tuple[str, dict[str, Any]]  # a template and its context


class Web:
    def __init__(self, warden: Warden, auth: Auth) -> None:
        self.warden = warden
        self.auth = auth
        self.sessions = Sessions(auth)
        self.env = Environment(
            loader=PackageLoader("warden.interfaces.api.ui", "templates"),
            autoescape=select_autoescape(["html", "svg"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = present.when
        self.env.filters["value"] = present.value
        self.env.globals.update(nav=NAV, version=__version__)
        self.stylesheet = STYLESHEET.read_bytes()

    def render(
        self, request: Request, visitor: Visitor | None, page: Page, status: int = 200
    ) -> HTMLResponse:
        template, context = page
        session = visitor.session if visitor else None
        html = self.env.get_template(template).render(
            visitor=visitor,
            anonymous=visitor is not None and visitor.principal is ANONYMOUS,
            csrf=self.sessions.csrf(session),
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def error(
        self, request: Request, visitor: Visitor | None, status: int, message: str
    ) -> HTMLResponse:
        return self.render(
            request, visitor, ("error.html", {"status": status, "message": message}), status
        )

    def to_login(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", 303, HEADERS)

    def visitor(self, request: Request) -> Visitor | Response:
        """The visitor, or the answer that refuses the request (the login form; a 401 page
        for a wrong bearer token)."""
        try:
            found = self.sessions.visitor(request)
        except HTTPException as exc:
            response = self.error(request, None, exc.status_code, str(exc.detail))
            for name, value in (exc.headers or {}).items():
                response.headers[name] = value
            return response
        return self.to_login(request) if found is None else found

    async def serve(
        self, request: Request, build: Callable[[Visitor], Page | Response]
    ) -> Response:
        """A page: `build(visitor)` run in a worker thread, for a visitor who may read."""
        visitor = self.visitor(request)
        if isinstance(visitor, Response):
            return visitor
        try:
            page = await run_in_threadpool(build, visitor)
        except WardenError as exc:
            status = status_of(exc)
            if isinstance(exc, StoreUnavailable):
                self.warden.outage.failed("a web view request", exc)
            elif status >= 500:
                log.error("web view %s: %s", request.url.path, exc)
            return self.error(request, visitor, status, str(exc))
        if isinstance(page, Response):
            for name, value in HEADERS.items():
                page.headers.setdefault(name, value)
            return page
        return self.render(request, visitor, page)

"""The web view for governance staff, under `/ui/` (docs/how-to/governance-web-view.md):
server-rendered pages (Jinja2 templates in templates/, one stylesheet in static/, no script),
signed in with the API's tokens through a login form (sessions.py), reading what the read API
reads (pages.py), acknowledging and silencing with a `write` token, and the signed export
(actions.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from warden.interfaces.api.auth import Auth
from warden.interfaces.api.ui.actions import add_actions
from warden.interfaces.api.ui.pages import add_pages
from warden.interfaces.api.ui.web import Web

if TYPE_CHECKING:
    from warden.app.daemon import Warden


def router(warden: Warden, auth: Auth) -> APIRouter:
    """The web view's routes, for `app.include_router`."""
    web = Web(warden, auth)
    r = APIRouter(prefix="/ui")
    add_actions(r, web)
    add_pages(r, web)
    return r

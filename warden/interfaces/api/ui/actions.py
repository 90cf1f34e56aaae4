"""The web view's forms and downloads: logging in and out, acknowledging and silencing an alert
(a `write` token; recorded under the token's name, as over the API), the signed export of the
trigger log (any reader), and the stylesheet.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from warden.alerting import actions as alerting
from warden.core.errors import UsageError, WardenError
from warden.core.matchers import Matchers
from warden.interfaces.api.alerts import author, status_of
from warden.interfaces.api.auth import Role
from warden.interfaces.api.ui import present
from warden.interfaces.api.ui.sessions import COOKIE, SESSION_SECONDS, Visitor, safe_next
from warden.interfaces.api.ui.web import HEADERS, Web

FORM_BYTES = 16 * 1024
# What the silence form offers, in seconds.
SILENCE_FOR = {"1h": 3600, "4h": 4 * 3600, "1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400}


async def _form(request: Request) -> dict[str, str] | None:
    """The urlencoded form of a POST (first value of each field); None if over FORM_BYTES."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def add_actions(r: APIRouter, web: Web) -> None:
    warden = web.warden

    @r.get("/static/warden.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(
            web.stylesheet,
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    @r.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/ui/") -> Response:
        return web.render(request, None, ("login.html", {"next": safe_next(next), "why": None}))

    @r.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request) or {}
        target = safe_next(form.get("next"))
        token = form.get("token", "").strip()
        try:
            if not token:
                raise HTTPException(401, "give a token")
            given = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
            principal = web.auth.check(request, given, Role.READ)
        except HTTPException as exc:
            page = ("login.html", {"next": target, "why": str(exc.detail)})
            response = web.render(request, None, page, exc.status_code)
            for name, value in (exc.headers or {}).items():
                if name.lower() != "www-authenticate":  # a form, not a bearer challenge
                    response.headers[name] = value
            return response
        done = RedirectResponse(target, 303, HEADERS)
        done.set_cookie(
            COOKIE,
            web.sessions.open(principal),
            max_age=SESSION_SECONDS,
            path="/ui",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return done

    @r.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await _form(request) or {}
        session = request.cookies.get(COOKIE)
        if session and web.sessions.find(session) is not None:
            visitor = Visitor(web.sessions.find(session), session)  # type: ignore[arg-type]
            why = web.sessions.form_allowed(request, visitor, form.get("csrf"))
            if why is not None:
                return web.error(request, visitor, 403, why)
            web.sessions.close(session)
        response = RedirectResponse("/ui/login", 303, HEADERS)
        response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
        return response

    async def act(request: Request, seq: int, do: Any) -> Response:
        """A write form about trigger `seq`: who, the CSRF check, `do(visitor, form)` in a
        thread; then back to the trigger's page, saying what was done."""
        visitor = web.visitor(request)
        if isinstance(visitor, Response):
            if visitor.status_code == 303:  # a form without a session: refused, not redirected
                return web.error(request, None, 401, "log in to act on an alert")
            return visitor
        form = await _form(request)
        if form is None:
            return web.error(request, visitor, 413, f"the form is over {FORM_BYTES} bytes")
        if not visitor.can_write:
            role = "no token" if not visitor.session and visitor.principal.name == "anonymous" \
                else f"token {visitor.principal.name!r} has role " \
                     f"{visitor.principal.role.name.lower()}"  # fmt: skip
            return web.error(request, visitor, 403, f"{role}; this needs a write token")
        why = web.sessions.form_allowed(request, visitor, form.get("csrf"))
        if why is not None:
            return web.error(request, visitor, 403, why)
        try:
            done = await run_in_threadpool(do, visitor, form)
        except WardenError as exc:
            return web.error(request, visitor, status_of(exc), str(exc))
        return RedirectResponse(f"/ui/triggers/{seq}?done={done}", 303, HEADERS)

    @r.post("/triggers/{seq}/ack", include_in_schema=False)
    async def ack(request: Request, seq: int) -> Response:
        def do(visitor: Visitor, form: dict[str, str]) -> str:
            by = author(visitor.principal, form.get("by") or None, "by")
            threshold, subject = alerting.alert_of_trigger(warden.store, seq)
            ids = {t.id for t in warden.catalog.thresholds}
            entry = alerting.acknowledge(
                warden.store, threshold, subject, by, form.get("note", ""), warden.clock(),
                thresholds=ids,
            )  # fmt: skip
            return f"ack-{entry}"

        return await act(request, seq, do)

    @r.post("/triggers/{seq}/silence", include_in_schema=False)
    async def silence(request: Request, seq: int) -> Response:
        def do(visitor: Visitor, form: dict[str, str]) -> str:
            by = author(visitor.principal, form.get("by") or None, "by")
            length = SILENCE_FOR.get(form.get("duration", ""))
            if length is None:
                raise UsageError(f"duration: choose one of {', '.join(SILENCE_FOR)}")
            comment = form.get("comment", "").strip()
            if not comment:
                raise UsageError("comment: say why the alert is silenced")
            threshold, subject = alerting.alert_of_trigger(warden.store, seq)
            now = warden.clock()
            silence_id, _ = alerting.add_silence(
                warden.store,
                Matchers(match={"threshold": threshold, "subject": subject}),
                now,
                now + timedelta(seconds=length),
                by,
                comment,
                now,
                thresholds=warden.catalog.thresholds,
            )
            return f"silence-{silence_id}"

        return await act(request, seq, do)

    @r.get("/export", include_in_schema=False)
    async def export(request: Request) -> Response:
        q = request.query_params

        def build(_: Visitor) -> Response:
            return _export(
                web, {k: q.get(k) or "" for k in ("threshold", "kind", "since", "until")}
            )

        return await web.serve(request, build)


def _export(web: Web, given: dict[str, str]) -> Response:
    """The trigger log's export (jsonl), as `warden log export`; with `checkpoint_key` set, a
    zip of it and its signature (FILE.sig: `warden log verify-export FILE --key KEY.pub`)."""
    from warden.triggerlog import checkpoint as cps
    from warden.triggerlog import export as logexport

    warden = web.warden
    settings = warden.settings
    since, until = (
        present.parse_time(given[k], k) if given[k] else None for k in ("since", "until")
    )
    if since and until and until <= since:
        raise UsageError("until must be later than since")
    kinds = (given["kind"],) if given["kind"] else ()
    filters = logexport.Filters(since, until, given["threshold"] or None, kinds)
    key = (
        None
        if settings.checkpoint_key is None
        else cps.signing_key(settings.checkpoint_key, "checkpoint_key")
    )
    now = warden.clock()
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as out, warden.store.read() as conn:

        def checkpoint(size: int) -> str:
            return cps.signed(cps.at(conn, settings.log_origin, size), key).show()

        summary = logexport.export(conn, "jsonl", filters, now, out, checkpoint)
        out.seek(0)
        data = out.read()
    name = f"trigger-log-{now.strftime('%Y%m%dT%H%M%SZ')}.jsonl"
    if key is None:
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(data, media_type="application/x-ndjson", headers=headers)
    doc = logexport.signature(key, summary, now)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
        z.writestr(f"{name}.sig", json.dumps(doc, indent=2, sort_keys=True) + "\n")
    headers = {"Content-Disposition": f'attachment; filename="{name}.zip"'}
    return Response(packed.getvalue(), media_type="application/zip", headers=headers)

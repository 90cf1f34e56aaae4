"""The HTTP API for people's actions on alerts: acknowledgements and silences. A `write` token
acts (warden/interfaces/api/auth.py), and is recorded as the author; each action is an entry in
the trigger log, exactly as from the command line.

    POST   /api/v1/acks              {"threshold", "subject"} or {"trigger": SEQ}; "note"
    GET    /api/v1/silences          active and pending silences (?all=true: ended ones too)
    POST   /api/v1/silences          {"match": {...}, "match_re": {...}, "starts_at"?,
                                      "ends_at" or "duration" ("2h"), "comment"}
    DELETE /api/v1/silences/{id}     (a silence someone else made: an `admin` token)

With the shared `api_token` of older configs, which names no one, the body names the author
(`by`, `created_by`, `?by=`) as before.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from warden.alerting import actions as alerting
from warden.core.errors import Conflict, NotFound, UsageError, WardenError
from warden.core.matchers import Matchers
from warden.interfaces.api.auth import Auth, Principal, Role
from warden.interfaces.api.schemas import (
    AUTH_ERRORS,
    AckIn,
    AckOut,
    SilenceCreated,
    SilenceEnded,
    SilenceIn,
    SilenceOut,
    problems,
)
from warden.store import StoreUnavailable, actions

if TYPE_CHECKING:
    from warden.app.daemon import Warden


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": {"message": message}}, status_code=status)


def status_of(exc: WardenError) -> int:
    """The one place an error of warden's becomes an HTTP status (docs/reference/http-api.md
    lists them): 404 what the request names does not exist, 409 its state does not allow it,
    422 any other request that cannot be carried out as asked, 503 the store is unavailable
    (try again later), 500 anything else."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, UsageError):
        return 422
    if isinstance(exc, StoreUnavailable):
        return 503
    return 500


def add_error_handlers(app: FastAPI, warden: Warden) -> None:
    """Every error answers `{"detail": {"message": ...}}` with the status `status_of` gives:
    also a store outage (503, with Retry-After), a path parameter or query that does not parse
    (422) and an unknown path or method (404, 405), which FastAPI would answer in its own
    shapes."""

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(_request: Request, exc: StoreUnavailable) -> Response:
        warden.outage.failed("an HTTP request", exc)
        response = _problem(status_of(exc), f"{exc}; try again later")
        response.headers["Retry-After"] = "30"
        return response

    @app.exception_handler(WardenError)
    async def refused(_request: Request, exc: WardenError) -> Response:
        return _problem(status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _problem(422, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        response = _problem(exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response


def _refusal(exc: UsageError) -> JSONResponse:
    return _problem(status_of(exc), str(exc))


async def _json(request: Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(await request.json())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _problem(422, f"{where}: {first['msg']}" if where else str(first["msg"]))
    except ValueError:
        return _problem(400, "the body is not JSON")


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting a body the handler reads itself (so that a request is
    authenticated before its body is parsed, and a body that is not JSON answers 400)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def author(principal: Principal, given: str | None, field: str) -> str:
    """Who an action is recorded under: a named token's name; with the shared `api_token`,
    the name the request gives."""
    if principal.shared:
        if not given or not given.strip():
            raise UsageError(f"{field}: name who acts (the shared api_token names no one)")
        return given
    if given is not None and given != principal.name:
        raise UsageError(
            f"{field}: this token's actions are recorded under its name {principal.name!r}; "
            f"leave {field} out"
        )
    return principal.name


def add_alert_routes(app: FastAPI, warden: Warden, auth: Auth) -> None:
    writer = Depends(auth.require(Role.WRITE))
    reader = Depends(auth.require(Role.READ))

    @app.post(
        "/api/v1/acks",
        response_model=AckOut,
        openapi_extra=body_schema(AckIn),
        responses=problems(400, 404, 409, 413, 422, *AUTH_ERRORS),
        tags=["actions"],
    )
    async def ack(request: Request, principal: Principal = writer) -> Response:
        """Acknowledge an alert: stops its repeats and escalation until it resolves."""
        body = await _json(request, AckIn)
        if isinstance(body, Response):
            return body

        def run() -> int:
            by = author(principal, body.by, "by")
            if body.trigger is not None:
                threshold, subject = alerting.alert_of_trigger(warden.store, body.trigger)
            elif body.threshold and body.subject:
                threshold, subject = body.threshold, body.subject
            else:
                raise UsageError("give trigger, or threshold and subject")
            now = warden.clock()
            ids = {t.id for t in warden.catalog.thresholds}
            return alerting.acknowledge(
                warden.store, threshold, subject, by, body.note, now, thresholds=ids
            )

        try:
            seq = await run_in_threadpool(run)
        except UsageError as exc:
            return _refusal(exc)
        return JSONResponse({"trigger": seq})

    @app.get(
        "/api/v1/silences",
        response_model=list[SilenceOut],
        responses=problems(422, *AUTH_ERRORS),
        tags=["actions"],
    )
    def silences(all: bool = False, _: Principal = reader) -> Response:
        """Active and pending silences; `all=true` adds ended ones."""
        with warden.store.read() as conn:
            rows = actions.list_silences(conn, warden.clock(), include_ended=all)
        return JSONResponse([r.as_dict() for r in rows])

    @app.post(
        "/api/v1/silences",
        status_code=201,
        response_model=SilenceCreated,
        openapi_extra=body_schema(SilenceIn),
        responses=problems(400, 413, 422, *AUTH_ERRORS),
        tags=["actions"],
    )
    async def add_silence(request: Request, principal: Principal = writer) -> Response:
        """Add a silence: matching alerts are evaluated and logged but not delivered."""
        body = await _json(request, SilenceIn)
        if isinstance(body, Response):
            return body

        def run() -> tuple[int, int]:
            from warden.core.config import parse_duration

            by = author(principal, body.created_by, "created_by")
            now = warden.clock()
            starts = (body.starts_at or now).astimezone(UTC)
            if (body.ends_at is None) == (body.duration is None):
                raise UsageError("give either ends_at or duration")
            if body.duration is not None:
                try:
                    ends = starts + timedelta(seconds=parse_duration(body.duration, "duration"))
                except ValueError as exc:
                    raise UsageError(str(exc)) from exc
            else:
                assert body.ends_at is not None
                ends = body.ends_at.astimezone(UTC)
            try:
                matchers = Matchers(match=body.match, match_re=body.match_re)
            except ValidationError as exc:
                raise UsageError(str(exc.errors()[0]["msg"])) from exc
            return alerting.add_silence(
                warden.store,
                matchers,
                starts,
                ends,
                by,
                body.comment,
                now,
                thresholds=warden.catalog.thresholds,
                force=body.force,
                force_hint='"force": true',
            )

        try:
            silence_id, seq = await run_in_threadpool(run)
        except UsageError as exc:
            return _refusal(exc)
        return JSONResponse({"id": silence_id, "trigger": seq}, status_code=201)

    @app.delete(
        "/api/v1/silences/{silence_id}",
        response_model=SilenceEnded,
        responses=problems(404, 409, 422, *AUTH_ERRORS),
        tags=["actions"],
    )
    async def expire(
        request: Request, silence_id: int, by: str | None = None, principal: Principal = writer
    ) -> Response:
        """End a silence now. A silence someone else made takes an `admin` token."""

        def run() -> int:
            who = author(principal, by, "by")
            with warden.store.read() as conn:
                found = actions.get_silence(conn, silence_id)
            if found is None:
                raise NotFound(f"no silence {silence_id}")
            if found.silence.created_by != who and principal.role < Role.ADMIN:
                raise _Forbidden(
                    f"silence {silence_id} was made by {found.silence.created_by!r}: ending "
                    f"another's silence needs an admin token (token {principal.name!r} has "
                    f"role {principal.role.name.lower()})"
                )
            return alerting.expire_silence(warden.store, silence_id, who, warden.clock())

        try:
            seq = await run_in_threadpool(run)
        except _Forbidden as exc:
            return _problem(403, str(exc))
        except UsageError as exc:
            return _refusal(exc)
        return JSONResponse({"trigger": seq})


class _Forbidden(Exception):
    pass

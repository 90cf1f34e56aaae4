"""The HTTP API for people's actions on alerts: acknowledgements and silences. Same bearer token
as the push API; each action is an entry in the trigger log, exactly as from the command line.

    POST   /api/v1/acks              {"threshold", "subject"} or {"trigger": SEQ}; "by", "note"
    GET    /api/v1/silences          active and pending silences (?all=true: ended ones too)
    POST   /api/v1/silences          {"match": {...}, "match_re": {...}, "starts_at"?,
                                      "ends_at" or "duration" ("2h"), "created_by", "comment"}
    DELETE /api/v1/silences/{id}?by=NAME
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from warden.alerting import actions as alerting
from warden.core.errors import Conflict, NotFound, UsageError, WardenError
from warden.core.matchers import Matchers
from warden.store import StoreUnavailable, actions

if TYPE_CHECKING:
    from warden.app.daemon import Warden


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: str | None = None
    subject: str | None = None
    trigger: int | None = Field(None, ge=1)
    by: str = Field(min_length=1)
    note: str = ""


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    duration: str | None = None
    created_by: str = Field(min_length=1)
    comment: str = Field(min_length=1)
    # Add it even if a matcher names a label no alert has, or a value none takes.
    force: bool = False


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


def add_alert_routes(
    app: FastAPI, warden: Warden, refused: Callable[[Request], Response | None]
) -> None:
    @app.post("/api/v1/acks")
    async def ack(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        body = await _json(request, AckIn)
        if isinstance(body, Response):
            return body

        def run() -> int:
            if body.trigger is not None:
                threshold, subject = alerting.alert_of_trigger(warden.store, body.trigger)
            elif body.threshold and body.subject:
                threshold, subject = body.threshold, body.subject
            else:
                raise UsageError("give trigger, or threshold and subject")
            now = warden.clock()
            ids = {t.id for t in warden.catalog.thresholds}
            return alerting.acknowledge(
                warden.store, threshold, subject, body.by, body.note, now, thresholds=ids
            )

        try:
            seq = await run_in_threadpool(run)
        except UsageError as exc:
            return _refusal(exc)
        return JSONResponse({"trigger": seq})

    @app.get("/api/v1/silences")
    def silences(all: bool = False) -> Response:
        with warden.store.read() as conn:
            rows = actions.list_silences(conn, warden.clock(), include_ended=all)
        return JSONResponse([r.as_dict() for r in rows])

    @app.post("/api/v1/silences")
    async def add_silence(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        body = await _json(request, SilenceIn)
        if isinstance(body, Response):
            return body

        def run() -> tuple[int, int]:
            from warden.core.config import parse_duration

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
                body.created_by,
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

    @app.delete("/api/v1/silences/{silence_id}")
    async def expire(request: Request, silence_id: int, by: str = "") -> Response:
        if (no := refused(request)) is not None:
            return no
        if not by.strip():
            return _problem(422, "by: name who ends the silence (?by=NAME)")
        try:
            seq = await run_in_threadpool(
                alerting.expire_silence, warden.store, silence_id, by, warden.clock()
            )
        except UsageError as exc:
            return _refusal(exc)
        return JSONResponse({"trigger": seq})

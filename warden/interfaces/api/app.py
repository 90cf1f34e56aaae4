"""The HTTP API: `/metrics`, `/healthz`, `/readyz`, `POST /api/v1/observations`, the actions on
alerts (alerts.py), the read API (reads.py); `/docs` and `/redoc` from bundled assets (no CDN:
fastapi-offline ships Swagger UI and ReDoc)."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics import exposition as openmetrics
from starlette.concurrency import run_in_threadpool

from warden import __version__
from warden.app.daemon import PUSH_FEED, Warden
from warden.core import plugins
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.interfaces.api.alerts import add_alert_routes, add_error_handlers
from warden.interfaces.api.auth import Auth, Principal, Role
from warden.interfaces.api.limits import PUSH_BODY_BYTES, BodyLimit
from warden.interfaces.api.log import router as log_router
from warden.interfaces.api.reads import add_read_routes
from warden.interfaces.api.schemas import AUTH_ERRORS, Health, PushOut, Readiness, problems
from warden.interfaces.api.ui import router as ui_router
from warden.metrics.exposition import render

log = logging.getLogger(__name__)

# The connector (entry point) whose schema pushed bodies follow.
PUSH_CONNECTOR = "observations_json"
# Reject reasons of a body that is not JSON (a cut upload is `truncated`): 400, not 422.
NOT_JSON = frozenset({"malformed", "truncated"})


def create_app(warden: Warden) -> FastAPI:
    app = FastAPIOffline(
        title="warden",
        version=__version__,
        description="Warden's HTTP API: the trigger log, alerts, catalog, feeds and forecasts "
        "(read), acknowledgements, silences and pushed observations (write). "
        "See docs/reference/http-api.md.",
        static_url="/docs/static",
    )
    batch = plugins.load(plugins.CONNECTORS, PUSH_CONNECTOR)
    push_schema = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": batch.batch_schema()}},
        }
    }
    app.add_middleware(BodyLimit, limits={"/api/v1/observations": PUSH_BODY_BYTES})
    auth = Auth(warden.settings, warden.metrics.registry)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready"}},
        tags=["health"],
    )
    def readyz() -> Response:
        ready, why = warden.ready()
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "detail": why},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics",
        tags=["health"],
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    def metrics(request: Request) -> Response:
        # Content negotiation: OpenMetrics for scrapers that ask for it (Prometheus does).
        # The exposition writes what prometheus_client would, faster for big gauge families.
        if "application/openmetrics-text" in request.headers.get("accept", ""):
            body = render(warden.metrics.registry, openmetrics=True)
            kind = openmetrics.CONTENT_TYPE_LATEST
        else:
            body = render(warden.metrics.registry, openmetrics=False)
            # Warden's names are all classic ones, so the body is text format 0.0.4, which
            # every Prometheus reads (prometheus_client answers the same unless 1.0.0 is asked).
            kind = CONTENT_TYPE_PLAIN_0_0_4
        headers = {"Content-Type": kind, "Vary": "Accept, Accept-Encoding"}
        if _accepts_gzip(request.headers.get("accept-encoding", "")):
            # As Prometheus asks: a 10,000-series body shrinks ~15x; level 1 keeps it fast.
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return Response(body, headers=headers)

    add_alert_routes(app, warden, auth)
    add_read_routes(app, warden, auth)
    app.include_router(log_router(warden, auth))
    app.include_router(ui_router(warden, auth))  # the web view, /ui/
    add_error_handlers(app, warden)

    @app.post(
        "/api/v1/observations",
        openapi_extra=push_schema,
        response_model=PushOut,
        responses=problems(400, 413, 422, *AUTH_ERRORS),
        tags=["actions"],
    )
    async def push(
        request: Request,
        _: Principal = Depends(auth.require(Role.WRITE)),  # noqa: B008
    ) -> Response:
        """Push observations (a `write` token); the thresholds they touch are evaluated."""
        body = await request.body()  # BodyLimit bounds it
        payload = Payload(PUSH_FEED, body, sha256(body), fetched_at=warden.clock())
        result = await run_in_threadpool(
            warden.ingest_payload, PUSH_FEED, _Pushed(batch.parse_batch), payload
        )
        stored = result.ingested + result.duplicates
        if result.rejections and stored:
            # Part of the batch was refused record by record (a value its scale cannot take):
            # the rest is stored, and the answer lists what was not.
            rejected = [
                {"record": r.record, "field": r.field, "reason": r.reason, "message": r.message}
                for r in result.rejections
            ]
            counts = {"ingested": result.ingested, "duplicates": result.duplicates}
            return JSONResponse({**counts, "rejected": rejected})
        if result.rejections:
            bad = result.rejections[0]
            return _error(
                400 if bad.reason in NOT_JSON else 422,
                bad.message,
                reason=bad.reason,
                record=bad.record,
                field=bad.field,
            )
        return JSONResponse({"ingested": result.ingested, "duplicates": result.duplicates})

    return app


class _Pushed:
    """Pushed bodies arrive as payloads: there is nothing to fetch, only warden's own schema to
    parse."""

    name: ClassVar[str] = PUSH_FEED

    def __init__(self, parse_batch: Callable[[Payload], list[Observation]]) -> None:
        self._parse_batch = parse_batch

    def fetch(self, cursor: Cursor) -> Iterator[Payload | Rejection | Pending]:
        return iter(())

    def parse(self, payload: Payload) -> list[Observation]:
        return self._parse_batch(payload)


def _error(status: int, message: str, **fields: Any) -> JSONResponse:
    detail = {"message": message, **{k: v for k, v in fields.items() if v is not None}}
    return JSONResponse({"detail": detail}, status_code=status)


def _accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header takes gzip: named (any case) or by `*`, with q > 0."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[name.lower()] = q
    return weights.get("gzip", weights.get("*", 0.0)) > 0

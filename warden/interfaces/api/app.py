"""The HTTP API: `/metrics`, `/healthz`, `/readyz` and `POST /api/v1/observations`."""

from __future__ import annotations

import gzip
import hmac
import logging
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics import exposition as openmetrics
from starlette.concurrency import run_in_threadpool

from warden import __version__
from warden.app.daemon import PUSH_FEED, Warden
from warden.core import plugins
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.interfaces.api.alerts import add_alert_routes, add_error_handlers
from warden.interfaces.api.limits import PUSH_BODY_BYTES, AuthThrottle, BodyLimit
from warden.metrics.exposition import render

log = logging.getLogger(__name__)

# The connector (entry point) whose schema pushed bodies follow.
PUSH_CONNECTOR = "observations_json"
# Reject reasons of a body that is not JSON (a cut upload is `truncated`): 400, not 422.
NOT_JSON = frozenset({"malformed", "truncated"})


def create_app(warden: Warden) -> FastAPI:
    app = FastAPI(title="warden", version=__version__)
    batch = plugins.load(plugins.CONNECTORS, PUSH_CONNECTOR)
    push_schema = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": batch.batch_schema()}},
        }
    }
    token = warden.settings.api_token
    app.add_middleware(BodyLimit, limits={"/api/v1/observations": PUSH_BODY_BYTES})
    throttle = AuthThrottle()
    auth_failures = Counter(
        "warden_http_auth_failures",
        "Requests refused for a missing or wrong bearer token.",
        registry=warden.metrics.registry,
    )
    auth_throttled = Counter(
        "warden_http_auth_throttled",
        "Requests refused (429) because their address failed authentication too often.",
        registry=warden.metrics.registry,
    )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Response:
        ready, why = warden.ready()
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "detail": why},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics")
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

    def refused(request: Request) -> Response | None:
        """Why `request` may not write (403 without a token configured, 401 with a wrong
        one), or None."""
        if token is None:
            return _error(403, "the write API is off: no api_token is configured")
        address = request.client.host if request.client else "unknown"
        wait = throttle.retry_after(address)
        if wait is not None:
            auth_throttled.inc()
            response = _error(429, "too many failed authentications from this address")
            response.headers["Retry-After"] = str(int(wait + 0.999))
            return response
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            throttle.failed(address)
            auth_failures.inc()
            response = _error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return None

    add_alert_routes(app, warden, refused)
    add_error_handlers(app, warden)

    @app.post("/api/v1/observations", openapi_extra=push_schema)
    async def push(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
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

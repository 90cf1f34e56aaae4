"""The trigger log's checkpoints and proofs over HTTP, for auditors and witnesses (formats:
warden/triggerlog/checkpoint.py, proofs.py):

    GET /api/v1/log/checkpoint                     the newest checkpoint (text/plain, a signed
                                                   note when `checkpoint_key` is set)
    GET /api/v1/log/proof/inclusion?seq=N[&size=M]  the inclusion proof of entry N
    GET /api/v1/log/proof/consistency?old=M[&new=N] the proof that the log at N extends M

A proof is made against the checkpoint warden issued at that size (default: the newest), so it
carries its signature; a size no checkpoint was issued at gets an unsigned one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from warden.core.errors import NotFound, UsageError
from warden.interfaces.api.alerts import status_of
from warden.interfaces.api.auth import Auth, Role
from warden.store import merkle as rows
from warden.triggerlog import checkpoint as cps
from warden.triggerlog import proofs
from warden.triggerlog.checkpoint import Checkpoint, CheckpointError
from warden.triggerlog.merkle import ProofError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from warden.app.daemon import Warden


def router(warden: Warden, auth: Auth) -> APIRouter:
    """The routes, behind the read authentication of the other read endpoints."""
    api = APIRouter(prefix="/api/v1/log", dependencies=[Depends(auth.require(Role.READ))])
    origin = warden.settings.log_origin

    def issued(conn: Connection, size: int | None) -> Checkpoint:
        found = (
            rows.latest_checkpoint(conn) if size is None else rows.checkpoint_of_size(conn, size)
        )
        if found is not None:
            return cps.parse(found.note, "the stored checkpoint")
        if size is None:
            raise NotFound("no checkpoint issued yet (warden log checkpoint, checkpoint_every)")
        try:
            return cps.at(conn, origin, size)
        except CheckpointError as exc:
            raise NotFound(str(exc)) from exc

    async def answer(make: Callable[[Connection], Any]) -> Any:
        """What `make` makes from the store, or the error's answer (status_of: 404 nothing
        there, 422 a request that cannot be met)."""

        def run() -> Any:
            with warden.store.read() as conn:
                try:
                    return make(conn)
                except (ProofError, CheckpointError) as exc:
                    raise UsageError(str(exc)) from exc

        try:
            return await run_in_threadpool(run)
        except UsageError as exc:
            return JSONResponse({"detail": {"message": str(exc)}}, status_code=status_of(exc))

    @api.get("/checkpoint", response_class=PlainTextResponse)
    async def checkpoint() -> Response:
        cp = await answer(lambda conn: issued(conn, None))
        if isinstance(cp, Response):
            return cp
        return PlainTextResponse(cp.show(), media_type="text/plain; charset=utf-8")

    @api.get("/proof/inclusion")
    async def inclusion(seq: int = Query(ge=1), size: int | None = Query(None, ge=1)) -> Response:
        def make(conn: Connection) -> dict[str, Any]:
            cp = issued(conn, size)
            if seq > cp.size:
                raise NotFound(f"entry {seq} is not in the checkpoint of {cp.size} entries")
            return proofs.inclusion(conn, seq, cp)

        found = await answer(make)
        return found if isinstance(found, Response) else JSONResponse(found)

    @api.get("/proof/consistency")
    async def consistency(old: int = Query(ge=0), new: int | None = Query(None, ge=0)) -> Response:
        def make(conn: Connection) -> dict[str, Any]:
            second = issued(conn, new)
            if old > second.size:
                raise UsageError(f"old ({old}) is larger than new ({second.size})")
            return proofs.consistency(conn, issued(conn, old), second)

        found = await answer(make)
        return found if isinstance(found, Response) else JSONResponse(found)

    return api

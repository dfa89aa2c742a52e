"""The JSON API: status, dead letters (list, replay, drop) and the mapping preview.

Every route needs the admin token (``Authorization: Bearer <server.admin_token>``) or a status page
session; the ones that change something take JSON or no body at all, and a browser's request to
them must come from bridgeline's own pages (:mod:`bridgeline.server.guard`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from bridgeline.errors import ConfigError
from bridgeline.mapping import MappingSet
from bridgeline.server.auth import require_operator
from bridgeline.server.dead_letters import ACTIONS, dead_letter_action
from bridgeline.server.preview import PreviewBusy, preview_off_loop, preview_request
from bridgeline.server.snapshot import status_snapshot

if TYPE_CHECKING:
    from bridgeline.sync.service import Service

router = APIRouter()


def busy() -> HTTPException:
    return HTTPException(429, "previews are already running; try again in a moment", {"Retry-After": "1"})


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def live_mappings(request: Request) -> MappingSet:
    """The live mapping set; 503 while there is none (the replica is not ready either)."""
    try:
        return _service(request).mappings.current
    except ConfigError:
        raise HTTPException(503, "no mapping set is live yet: see /readyz", {"Retry-After": "5"}) from None


@router.get("/api/status")
async def status(request: Request) -> dict[str, Any]:
    await require_operator(request)
    state = request.app.state
    return await status_snapshot(
        _service(request), state.health, started=state.started, stopping=state.stopping.is_set()
    )


@router.get("/api/dead-letters")
async def list_dead_letters(request: Request) -> dict[str, Any]:
    await require_operator(request)
    snapshot = await status_snapshot(_service(request), audit_limit=0, links_limit=0, dead_limit=1000)
    return {"dead_letters": snapshot["dead_letters"]}


@router.post("/api/dead-letters/{entity:path}/{action}")
async def dead_letter_api(request: Request, entity: str, action: str) -> JSONResponse:
    """``*`` as the entity means every dead letter."""
    if action not in ACTIONS:
        raise HTTPException(404, "unknown action: use replay or drop")
    who = await require_operator(request)
    every = entity == "*"
    result = await dead_letter_action(
        _service(request), action, None if every else entity, every=every, asked_by=who
    )
    if not (result["done"] or every):
        result["error"] = f"{entity} is not a dead letter (any more): GET /api/dead-letters lists them"
        return JSONResponse(result, status_code=404)
    return JSONResponse(result)


@router.post("/api/preview")
async def preview_api(request: Request) -> JSONResponse:
    """``{"mapping": "...", "input": {...}}`` -> the rendered record, or ``error`` / ``skipped``."""
    await require_operator(request)
    raw = await request.body()
    try:
        status, answer = await preview_off_loop(
            request.app.state.previews, preview_request, live_mappings(request), raw
        )
    except PreviewBusy:
        raise busy() from None
    return JSONResponse(answer, status_code=status)

"""The ASGI app served by ``bridgeline run``: health, readiness, metrics and status.

``/healthz`` says the process is alive; ``/readyz`` says it can do its job (database reachable,
mappings loaded, connectors authenticated, not shutting down) and answers 503 otherwise, so a load
balancer or Kubernetes stops routing webhooks to a replica that would have to refuse them. A
system that is merely unreachable does not make a replica unready - every replica would be
unready at once and webhooks, which only need the database, would be lost; refused credentials do.

Further routes live in ``routes_*`` modules of this package (webhooks, status page), each exposing
a FastAPI ``router``; handlers reach the running :class:`~bridgeline.sync.service.Service` as
``request.app.state.service``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridgeline import __version__, metrics
from bridgeline.log import redact_value
from bridgeline.server.health import ConnectorHealth
from bridgeline.server.snapshot import oldest_pending_seconds, status_snapshot

if TYPE_CHECKING:
    from bridgeline.sync.service import Service


def create_app(
    service: Service,
    *,
    health: ConnectorHealth | None = None,
    stopping: asyncio.Event | None = None,
) -> FastAPI:
    """The app for ``service``. ``stopping`` set means the daemon is draining: not ready any more."""
    app = FastAPI(title="bridgeline", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.state.health = health or ConnectorHealth(service.settings)
    app.state.stopping = stopping or service.stopping
    app.state.started = time.monotonic()
    metrics.BUILD_INFO.labels(__version__).set(1)

    for router in _routers():
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/status", status_code=307)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        checks = await readiness(request.app)
        ready = all(c["ok"] for c in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        await refresh_gauges(service)
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/status")
    async def status(request: Request) -> dict[str, Any]:
        state = request.app.state
        return await status_snapshot(
            service, state.health, started=state.started, stopping=state.stopping.is_set()
        )

    return app


def _routers() -> list[Any]:
    """Every ``routes_*`` module of this package contributes its ``router`` (webhooks, status page...)."""
    import importlib
    import pkgutil

    import bridgeline.server as package

    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("routes_"):
            found.append(importlib.import_module(f"{package.__name__}.{info.name}").router)
    return found


async def readiness(app: FastAPI) -> dict[str, dict[str, Any]]:
    """Each condition of readiness with its verdict."""
    service: Service = app.state.service
    health: ConnectorHealth = app.state.health
    checks: dict[str, dict[str, Any]] = {}
    checks["running"] = {"ok": not app.state.stopping.is_set()}
    checks["database"] = {"ok": await service.store.ping()}
    last = service.mappings.last
    live = service.mappings._set
    checks["mappings"] = {
        "ok": live is not None,
        "live": [m.name for m in live.mappings] if live is not None else [],
        "last_reload_ok": last.ok if last else None,
        "last_reload_error": last.error if last and not last.ok else None,
    }
    results = await health.current()
    for system in ("jira", *sorted(service.targets)):
        mine = [r for r in results if r.system == system]
        if not mine:
            continue
        refused = [r for r in mine if not r.ok and not r.transient]
        unreachable = [r for r in mine if not r.ok and r.transient]
        entry: dict[str, Any] = {"ok": not refused, "authenticated": not refused and not unreachable}
        if refused:
            entry["error"] = refused[0].detail
        elif unreachable:
            entry["warning"] = unreachable[0].detail
        checks[system] = entry
    redacted: dict[str, dict[str, Any]] = redact_value("checks", checks)
    return redacted


async def refresh_gauges(service: Service) -> None:
    """State gauges straight from the store and the pollers, so every scrape is current."""
    depth = await service.store.queue_depth()
    for state in ("pending", "done", "dead"):
        metrics.QUEUE_DEPTH.labels(state).set(depth.get(state, 0))
    metrics.DEAD_LETTERS.set(depth.get("dead", 0))
    metrics.OLDEST_PENDING.set(await oldest_pending_seconds(service))
    metrics.IN_FLIGHT.set(service.worker.in_flight)
    for poller in service.pollers:
        lag = poller.lag()
        if lag is not None:
            metrics.SYNC_LAG.labels(poller.name).set(lag)

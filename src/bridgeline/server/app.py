"""The ASGI app served by ``bridgeline run``: health, readiness, metrics and status.

``/healthz`` says the process is alive; ``/readyz`` says it can do its job (database reachable,
mappings loaded, connectors authenticated) and answers 503 otherwise, so a load balancer or
Kubernetes stops routing webhooks to a replica that would have to refuse them.

Further routes live in ``routes_*`` modules of this package (webhooks, status page), each exposing
a FastAPI ``router``; handlers reach the running :class:`~bridgeline.sync.service.Service` as
``request.app.state.service``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridgeline import __version__, metrics

if TYPE_CHECKING:
    from bridgeline.sync.service import Service


def create_app(service: Service) -> FastAPI:
    app = FastAPI(title="bridgeline", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    for router in _routers():
        app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await readiness(service)
        ready = all(c["ok"] for c in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/status")
    async def status() -> dict[str, Any]:
        return await status_summary(service)

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


async def readiness(service: Service) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    checks["database"] = {"ok": await service.store.ping()}
    last = service.mappings.last
    checks["mappings"] = {
        "ok": last is not None and service.mappings._set is not None,
        "live": [m.name for m in service.mappings.current.mappings] if service.mappings._set else [],
        "last_reload_ok": last.ok if last else None,
        "last_reload_error": last.error if last and not last.ok else None,
    }
    if service.jira is not None:
        checks["jira"] = {"ok": service.jira.deployment is not None, "deployment": service.jira.deployment}
    for name in service.targets:
        checks[name] = {"ok": True}
    return checks


async def status_summary(service: Service) -> dict[str, Any]:
    depth = await service.store.queue_depth()
    return {
        "version": __version__,
        "queue": depth,
        "pollers": {p.name: {"lag_seconds": p.lag()} for p in service.pollers},
        "mappings": [m.name for m in service.mappings.current.mappings],
        "links": await service.store.count_links(top_level=True),
    }

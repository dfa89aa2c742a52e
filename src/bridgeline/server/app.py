"""The ASGI app served by ``bridgeline run``: health, readiness, metrics and status.

``/healthz`` says the process is alive; ``/readyz`` says it can do its job (database reachable,
mappings loaded, connectors authenticated, not shutting down) and answers 503 otherwise, so a load
balancer or Kubernetes stops routing webhooks to a replica that would have to refuse them. A
system that is merely unreachable does not make a replica unready - every replica would be
unready at once and webhooks, which only need the database, would be lost; refused credentials do.

Only the probes and the signed webhooks answer strangers; ``/readyz`` tells them the verdict and
each check's ``ok``, and the reasons only to an operator (:mod:`bridgeline.server.auth`).
``/metrics`` needs the admin token, a session or ``server.metrics_token``, unless
``server.metrics_open``. Every request passes :class:`~bridgeline.server.guard.Guard` first.

Further routes live in ``routes_*`` modules of this package (webhooks, status page, API), each
exposing a FastAPI ``router``; handlers reach the running
:class:`~bridgeline.sync.service.Service` as ``request.app.state.service``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridgeline import __version__, metrics
from bridgeline.errors import RetryableError
from bridgeline.log import get_logger, redact_value
from bridgeline.server.auth import SessionBook, SignInLimiter, admin_token, caller
from bridgeline.server.guard import Guard
from bridgeline.server.health import ConnectorHealth
from bridgeline.server.preview import PREVIEWS_AT_ONCE
from bridgeline.server.snapshot import oldest_pending_seconds

if TYPE_CHECKING:
    from bridgeline.sync.service import Service

log = get_logger("bridgeline.server")


def create_app(
    service: Service,
    *,
    health: ConnectorHealth | None = None,
    stopping: asyncio.Event | None = None,
) -> FastAPI:
    """The app for ``service``. ``stopping`` set means the daemon is draining: not ready any more."""
    app = FastAPI(title="bridgeline", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    server = service.settings.server
    app.state.service = service
    app.state.health = health or ConnectorHealth(service.settings)
    app.state.stopping = stopping or service.stopping
    app.state.started = time.monotonic()
    app.state.sessions = SessionBook(service.store, server)
    app.state.sign_ins = SignInLimiter(server.sign_in_attempts, server.sign_in_window_seconds)
    app.state.previews = asyncio.Semaphore(PREVIEWS_AT_ONCE)
    app.add_middleware(Guard, settings=server)
    app.add_exception_handler(RetryableError, _unavailable)
    metrics.BUILD_INFO.labels(__version__).set(1)
    if admin_token(server) is None:
        log.warning(
            "server.admin_token is not set: the status page and the API are closed "
            "(health and the webhooks are served)"
        )

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
        if not (await caller(request)).operator:  # the verdict only: reasons may name systems and accounts
            checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        if not server.metrics_open and (await caller(request)).kind == "stranger":
            raise HTTPException(
                401,
                "/metrics needs Authorization: Bearer <server.metrics_token> (or the admin token); "
                "server.metrics_open: true serves it to anyone",
                headers={"WWW-Authenticate": 'Bearer realm="bridgeline"'},
            )
        await refresh_gauges(service)
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is away: try again later (a 503, as readiness says too)."""
    return JSONResponse(
        {"error": f"unavailable, try again later: {redact_value('error', exc)}"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


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

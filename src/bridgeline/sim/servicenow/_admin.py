"""The simulator's own endpoints under ``/_sim/`` (no auth, never fault-injected).

========================  =========================================================================
``GET /_sim``             this list
``GET|PUT /_sim/faults``  fault injection settings (latency, error rate, timeouts, resets)
``GET|PUT /_sim/settings`` knobs (``table_transition_refusal``, ``rate_limit``, ``token_lifetime``...)
``POST /_sim/reset``      back to the seed data; forget tokens, calls, outbound registration
``GET /_sim/state``       every table (``?tables=change_request,change_task`` for fewer)
``GET|PUT /_sim/clock``   ``{"now": "2025-03-01 10:00:00"}`` freezes, ``{"advance_seconds": 60}``
                          moves, ``{"now": null}`` returns to real time
``GET|DELETE /_sim/calls`` API call counters per method and path, and the latest calls
``GET|PUT|DELETE /_sim/outbound``  the notification target; ``POST /_sim/outbound/wait``
``POST /_sim/approve/{number}``    the CAB's answer: ``{"reject": false, "reason": ..., "approver": ...}``
========================  =========================================================================
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridgeline.sim.servicenow._clock import parse_sn_datetime
from bridgeline.sim.servicenow._errors import SimError, error_envelope
from bridgeline.sim.servicenow._outbound import OutboundTarget

if TYPE_CHECKING:
    from bridgeline.sim.servicenow._simulator import ServiceNowSimulator


def admin_routes(sim: ServiceNowSimulator) -> list[Route]:
    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except SimError as exc:
                return JSONResponse(exc.body(), exc.status)
            except (ValueError, TypeError) as exc:
                return JSONResponse(error_envelope("Bad request", str(exc)), 400)

        return endpoint

    async def index(request: Request) -> Response:
        return JSONResponse({"endpoints": [r.path for r in routes], "doc": __doc__})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            sim.faults.update(await body_of(request))
            sim.injector.reseed()
        return JSONResponse({"faults": sim.faults.as_dict(), "counters": vars(sim.injector.counters)})

    async def settings(request: Request) -> Response:
        if request.method == "PUT":
            with sim.lock:
                sim.settings.update(await body_of(request))
        return JSONResponse({"settings": sim.settings.as_dict()})

    async def reset(request: Request) -> Response:
        sim.reset()
        return JSONResponse({"reset": True})

    async def state(request: Request) -> Response:
        wanted = [t for t in (request.query_params.get("tables") or "").split(",") if t]
        return JSONResponse(sim.state.dump(wanted or None))

    async def clock(request: Request) -> Response:
        if request.method == "PUT":
            data = await body_of(request)
            if "now" in data:
                if data["now"] is None:
                    sim.clock.resume()
                else:
                    moment = parse_sn_datetime(str(data["now"]))
                    if moment is None:
                        raise ValueError(f"not a date-time: {data['now']!r}")
                    sim.clock.freeze(moment)
            if "advance_seconds" in data:
                sim.clock.advance(float(data["advance_seconds"]))
        return JSONResponse(sim.clock.as_dict())

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            sim.state.clear_calls()
        limit = int(request.query_params.get("limit", "100"))
        return JSONResponse(sim.state.calls_summary(limit))

    async def outbound(request: Request) -> Response:
        if request.method == "PUT":
            sim.outbound.register(OutboundTarget.from_json(await body_of(request)))
            sim.save()
        elif request.method == "DELETE":
            sim.outbound.register(None)
            sim.save()
        return JSONResponse(sim.outbound.status())

    async def outbound_wait(request: Request) -> Response:
        timeout = float(request.query_params.get("timeout", "10"))
        drained = await asyncio.to_thread(sim.outbound.wait_idle, timeout)
        return JSONResponse({"drained": drained, **sim.outbound.status()}, 200 if drained else 504)

    async def approve(request: Request) -> Response:
        data = await body_of(request)
        number = request.path_params["number"]
        if data.get("reject"):
            row = sim.reject(number, reason=str(data.get("reason") or ""), approver=data.get("approver"))
        else:
            row = sim.approve(
                number, approver=data.get("approver"), comment=data.get("reason") or data.get("comment")
            )
        keys = ("number", "sys_id", "state", "approval", "sys_updated_by", "sys_mod_count")
        return JSONResponse({"result": {k: row.get(k, "") for k in keys}})

    routes = [
        Route("/_sim", guarded(index), methods=["GET"]),
        Route("/_sim/faults", guarded(faults), methods=["GET", "PUT"]),
        Route("/_sim/settings", guarded(settings), methods=["GET", "PUT"]),
        Route("/_sim/reset", guarded(reset), methods=["POST"]),
        Route("/_sim/state", guarded(state), methods=["GET"]),
        Route("/_sim/clock", guarded(clock), methods=["GET", "PUT"]),
        Route("/_sim/calls", guarded(calls), methods=["GET", "DELETE"]),
        Route("/_sim/outbound", guarded(outbound), methods=["GET", "PUT", "DELETE"]),
        Route("/_sim/outbound/wait", guarded(outbound_wait), methods=["POST"]),
        Route("/_sim/approve/{number}", guarded(approve), methods=["POST"]),
    ]
    return routes

"""``/_sim/``: the simulator's own controls for tests and demos (no credentials, never faulted).

=============================================  =================================================
``GET|PUT /_sim/faults``                       fault injection (latency, 5xx, 429, timeouts, resets)
``GET|PUT /_sim/rate-limit``                   Jira-style rate limiting with Jira's headers
``GET|PUT /_sim/settings``                     search lag, page caps, server time zone, ...
``POST /_sim/reset``                           reseed (``{"seed": 7, "scale": {...}}``), webhooks cleared
``GET /_sim/state``                            the whole state as JSON
``POST /_sim/save``                            write the state file now
``PUT /_sim/users/{ref}``                      ``{"timeZone": "Asia/Tokyo", "readOnly": false}``
``GET|PUT /_sim/clock``                        ``{"freeze": true, "at": "..."}``, ``{"advanceMs": 60000}``
``PUT /_sim/issues/{key}/updated``             ``{"updated": "2024-05-01T10:00:30.000+0000" | epoch ms}``
``GET /_sim/webhooks``                         outbox status and delivery options
``PUT /_sim/webhooks/options``                 delays, duplicates, reordering, quirks, retries
``GET /_sim/webhooks/deliveries``              every delivery with its attempts
``POST /_sim/webhooks/drain?timeout=5``        wait until the outbox is empty
=============================================  =================================================
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridgeline.sim.jira._clock import parse_timestamp, zone
from bridgeline.sim.jira._seed import JiraScale

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator

AdminHandler = Callable[["JiraSimulator", Request, dict[str, Any]], Awaitable[Any]]


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _route(path: str, handler: AdminHandler, methods: list[str], sim: JiraSimulator) -> Route:
    async def endpoint(request: Request) -> Response:
        body: dict[str, Any] = {}
        raw = await request.body()
        if raw.strip():
            try:
                loaded = json.loads(raw)
            except ValueError as exc:
                return JSONResponse({"error": f"invalid JSON: {exc}"}, status_code=400)
            if not isinstance(loaded, dict):
                return JSONResponse({"error": "expected a JSON object"}, status_code=400)
            body = loaded
        try:
            result = await handler(sim, request, body)
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except AdminError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    return Route(path, endpoint, methods=methods)


def _ms(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    return parse_timestamp(str(value))


async def index(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    return {"simulator": "jira", "mode": sim.mode, "endpoints": [r.path for r in routes(sim)]}


async def faults(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    if request.method == "PUT":
        sim.faults.update(body)
        if "seed" in body:
            sim.fault_injector.reseed()
    data = sim.faults.as_dict()
    data["counters"] = vars(sim.fault_injector.counters)
    return data


async def rate_limit(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    if request.method == "PUT":
        sim.rate_limit.update(body)
        sim.rate_limiter.reset()
    return {**sim.rate_limit.as_dict(), "refused": sim.rate_limiter.refused}


async def settings(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    with sim.state.lock:
        if request.method == "PUT":
            if "server_time_zone" in body:
                zone(str(body["server_time_zone"]))
            sim.state.settings.update(body)
        return dict(vars(sim.state.settings))


async def reset(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    scale = JiraScale(**body["scale"]) if isinstance(body.get("scale"), dict) else None
    sim.reset(seed=body.get("seed"), scale=scale)
    with sim.state.lock:
        return {"seed": sim.state.seed, "issues": len(sim.state.issues), "versions": len(sim.state.versions)}


async def state_dump(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    with sim.state.lock:  # to_dict shares values with the live state
        text = json.dumps(sim.state.to_dict(), ensure_ascii=False, separators=(",", ":"))
    return Response(text, media_type="application/json")


async def save(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    if sim.state_path is None:
        raise AdminError(409, "this simulator has no state file")
    sim.save()
    return {"saved": str(sim.state_path)}


async def user(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    ref = str(request.path_params["ref"])
    with sim.state.lock:
        found = sim.state.user(ref)
        if found is None:
            raise AdminError(404, f"no user {ref!r}")
        if "timeZone" in body:
            zone(str(body["timeZone"]))
            found.time_zone = str(body["timeZone"])
        if "active" in body:
            found.active = bool(body["active"])
        if "readOnly" in body:
            found.read_only = bool(body["readOnly"])
        if "admin" in body:
            found.admin = bool(body["admin"])
        sim.state.dirty = True
        sim.save_if_dirty()
        return {
            "accountId": found.account_id,
            "name": found.name,
            "emailAddress": found.email,
            "displayName": found.display_name,
            "timeZone": found.time_zone,
            "active": found.active,
            "readOnly": found.read_only,
            "admin": found.admin,
        }


async def clock(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    """``freeze`` (optionally ``at``), ``advanceMs``, ``offsetMs``, ``reset``: in that order."""
    c = sim.state.clock
    if request.method == "PUT":
        if body.get("reset"):
            c.reset()
        if "offsetMs" in body:
            c.set_offset(int(body["offsetMs"]))
        if body.get("freeze") is True:
            c.freeze(_ms(body["at"]) if body.get("at") is not None else None)
        elif body.get("freeze") is False:
            c.unfreeze()
        if "advanceMs" in body:
            c.advance(int(body["advanceMs"]))
    return c.status()


async def issue_times(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    key = str(request.path_params["key"])
    with sim.state.lock:
        issue = sim.state.issue(key)
        if issue is None:
            raise AdminError(404, f"no issue {key!r}")
        if "updated" in body:
            sim.state.set_updated(issue, _ms(body["updated"]))
        if "created" in body:
            sim.state.set_created(issue, _ms(body["created"]))
        sim.save_if_dirty()
        return {"key": issue.key, "id": str(issue.id), "created": issue.created, "updated": issue.updated}


async def webhooks(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    return {**sim.dispatcher.status(), "options": sim.webhook_options.as_dict()}


async def webhook_options(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    sim.webhook_options.update(body)
    if "seed" in body:
        sim.dispatcher.reseed()
    return sim.webhook_options.as_dict()


async def deliveries(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    return sim.dispatcher.deliveries()


async def drain(sim: JiraSimulator, request: Request, body: dict[str, Any]) -> Any:
    timeout = float(request.query_params.get("timeout", "10"))
    drained = await sim.dispatcher.drained(timeout)
    status = sim.dispatcher.status()
    return JSONResponse(status, status_code=200 if drained else 408)


def routes(sim: JiraSimulator) -> list[Route]:
    return [
        _route("/_sim/", index, ["GET"], sim),
        _route("/_sim/faults", faults, ["GET", "PUT"], sim),
        _route("/_sim/rate-limit", rate_limit, ["GET", "PUT"], sim),
        _route("/_sim/settings", settings, ["GET", "PUT"], sim),
        _route("/_sim/reset", reset, ["POST"], sim),
        _route("/_sim/state", state_dump, ["GET"], sim),
        _route("/_sim/save", save, ["POST"], sim),
        _route("/_sim/users/{ref}", user, ["PUT"], sim),
        _route("/_sim/clock", clock, ["GET", "PUT"], sim),
        _route("/_sim/issues/{key}/updated", issue_times, ["PUT"], sim),
        _route("/_sim/webhooks", webhooks, ["GET"], sim),
        _route("/_sim/webhooks/options", webhook_options, ["PUT"], sim),
        _route("/_sim/webhooks/deliveries", deliveries, ["GET"], sim),
        _route("/_sim/webhooks/drain", drain, ["POST"], sim),
    ]

"""The instance around the issues: server info, fields, users, projects and reference lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._clock import format_timestamp
from bridgeline.sim.jira._errors import JiraError, not_found_project
from bridgeline.sim.jira._http import Ctx, api_route, json_response

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator

CLOUD_VERSION = (1001, 0, 0)
DC_VERSION = (9, 12, 15)
BUILD_DATE_MS = 1_760_000_000_000  # a fixed build date, like a real instance's


async def server_info(ctx: Ctx) -> Response:
    settings = ctx.state.settings
    cloud = ctx.cloud
    numbers = CLOUD_VERSION if cloud else DC_VERSION
    tz = ctx.user.time_zone if ctx.user else settings.server_time_zone
    data: dict[str, Any] = {
        "baseUrl": ctx.base_url,
        "version": ".".join(map(str, numbers)) + ("-SNAPSHOT" if cloud else ""),
        "versionNumbers": list(numbers),
        "deploymentType": "Cloud" if cloud else settings.dc_deployment_type,
        "buildNumber": 100282 if cloud else 9120015,
        "buildDate": format_timestamp(BUILD_DATE_MS, tz),
        "serverTime": format_timestamp(ctx.state.clock.now_ms(), tz),
        "scmInfo": "8b2a5b1f0e7c4d3a9f6e5d4c3b2a1f0e9d8c7b6a",
        "serverTitle": "Jira",
    }
    if not cloud:
        data["serverTimeZone"] = settings.server_time_zone
    return json_response(data)


def _field_json(definition: cat.FieldDef) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": definition.id,
        "key": definition.id,
        "name": definition.name,
        "custom": definition.custom,
        "orderable": definition.orderable,
        "navigable": definition.navigable,
        "searchable": definition.searchable,
        "clauseNames": list(definition.clause_names),
    }
    if definition.schema is not None:
        data["schema"] = dict(definition.schema)
    return data


async def fields(ctx: Ctx) -> Response:
    return json_response([_field_json(f) for f in cat.FIELDS])


async def myself(ctx: Ctx) -> Response:
    with ctx.state.lock:
        data = ctx.view.user_record(ctx.actor, full=True)
    return json_response(data)


async def user(ctx: Ctx) -> Response:
    ref = ctx.param("accountId") or ctx.param("username") or ctx.param("key")
    with ctx.state.lock:
        found = ctx.state.user(ref) if ref else None
        if found is None:
            raise JiraError(404, f"The user with the key '{ref}' does not exist.")
        data = ctx.view.user_record(found, full=True)
    return json_response(data)


async def projects(ctx: Ctx) -> Response:
    with ctx.state.lock:
        data = [ctx.view.project(p, full=False) for p in ctx.state.projects.values()]
    return json_response(data)


async def projects_page(ctx: Ctx) -> Response:
    start = max(0, ctx.int_param("startAt", 0))
    limit = max(1, min(ctx.int_param("maxResults", 50), 100))
    query = (ctx.param("query") or "").lower()
    keys = {k.upper() for k in ctx.params("keys")}
    with ctx.state.lock:
        found = [
            p
            for p in ctx.state.projects.values()
            if (not query or query in p.key.lower() or query in p.name.lower())
            and (not keys or p.key in keys)
        ]
        page = found[start : start + limit]
        rest = ctx.view.rest
        data: dict[str, Any] = {
            "self": f"{rest}/project/search?maxResults={limit}&startAt={start}",
            "maxResults": limit,
            "startAt": start,
            "total": len(found),
            "isLast": start + limit >= len(found),
            "values": [ctx.view.project(p, full=False) for p in page],
        }
        if start + limit < len(found):
            data["nextPage"] = f"{rest}/project/search?maxResults={limit}&startAt={start + limit}"
    return json_response(data)


async def project(ctx: Ctx) -> Response:
    key = ctx.path("project")
    with ctx.state.lock:
        found = ctx.state.project(key)
        if found is None:
            raise not_found_project(key)
        data = ctx.view.project(found)
    return json_response(data)


async def project_components(ctx: Ctx) -> Response:
    key = ctx.path("project")
    with ctx.state.lock:
        found = ctx.state.project(key)
        if found is None:
            raise not_found_project(key)
        data = [
            {**ctx.view.component(c), "project": found.key, "projectId": found.id} for c in found.components
        ]
    return json_response(data)


async def statuses(ctx: Ctx) -> Response:
    return json_response([ctx.view.status(s.name) for s in cat.STATUSES])


async def priorities(ctx: Ctx) -> Response:
    data = [
        {**ctx.view.priority(p.name), "statusColor": p.color, "description": p.name} for p in cat.PRIORITIES
    ]
    return json_response(data)


async def issue_types(ctx: Ctx) -> Response:
    return json_response([ctx.view.issuetype(t.name) for t in cat.ISSUE_TYPES])


async def resolutions(ctx: Ctx) -> Response:
    return json_response([ctx.view.resolution(name) for name in cat.RESOLUTIONS])


async def application_links(ctx: Ctx) -> Response:
    return json_response([])


async def session(ctx: Ctx) -> Response:
    actor = ctx.actor
    data = {
        "self": f"{ctx.view.rest}/user?username={actor.name}",
        "name": actor.name,
        "loginInfo": {"failedLoginCount": 0, "loginCount": 1, "previousLoginTime": None},
    }
    return json_response(data)


def routes(sim: JiraSimulator) -> list[Route]:
    api = "/rest/api/{v}"
    return [
        api_route(api + "/serverInfo", server_info, ["GET"], sim, anonymous_ok=True),
        api_route(api + "/field", fields, ["GET"], sim),
        api_route(api + "/myself", myself, ["GET"], sim),
        api_route(api + "/user", user, ["GET"], sim),
        api_route(api + "/project", projects, ["GET"], sim),
        api_route(api + "/project/search", projects_page, ["GET"], sim),
        api_route(api + "/project/{project}", project, ["GET"], sim),
        api_route(api + "/project/{project}/components", project_components, ["GET"], sim),
        api_route(api + "/status", statuses, ["GET"], sim),
        api_route(api + "/priority", priorities, ["GET"], sim),
        api_route(api + "/issuetype", issue_types, ["GET"], sim),
        api_route(api + "/resolution", resolutions, ["GET"], sim),
        api_route("/rest/applinks/{applinks_version}/listApplicationlinks", application_links, ["GET"], sim),
        api_route("/rest/auth/1/session", session, ["GET"], sim),
    ]

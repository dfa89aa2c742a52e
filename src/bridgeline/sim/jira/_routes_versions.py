"""Fix versions (releases): list, page, read, create, update (release), delete, issue counts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._clock import local_date
from bridgeline.sim.jira._edit import EditResult, item
from bridgeline.sim.jira._errors import JiraError, not_found_project, not_found_version
from bridgeline.sim.jira._http import Ctx, api_route, json_response, no_content
from bridgeline.sim.jira._model import History, Issue, Project, Version
from bridgeline.sim.jira._routes_issues import publish

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator

ORDER_KEYS = ("description", "name", "releaseDate", "sequence", "startDate")


def find_project(ctx: Ctx) -> Project:
    key = ctx.path("project")
    project = ctx.state.project(key)
    if project is None:
        raise not_found_project(key)
    return project


def find_version(ctx: Ctx, ref: str | None = None) -> Version:
    version_id = ref if ref is not None else ctx.path("id")
    version = ctx.state.versions.get(int(version_id)) if str(version_id).isdecimal() else None
    if version is None:
        raise not_found_version(str(version_id))
    return version


def render_version(ctx: Ctx, version: Version, expand: set[str]) -> dict[str, Any]:
    data = ctx.view.version(version)
    if "issuesstatus" in expand:
        counts = {"unmapped": 0, "toDo": 0, "inProgress": 0, "done": 0}
        for issue_id in ctx.state.by_fix_version.get(version.id, ()):
            issue = ctx.state.issues.get(issue_id)
            if issue is None:
                continue
            category = cat.STATUS_BY_NAME[issue.status.lower()].category
            counts[{"new": "toDo", "indeterminate": "inProgress", "done": "done"}[category]] += 1
        data["issuesStatusForFixVersion"] = counts
    if "operations" in expand:
        data["operations"] = []
    return data


async def project_versions(ctx: Ctx) -> Response:
    expand = set(ctx.params("expand"))
    with ctx.state.lock:
        project = find_project(ctx)
        data = [render_version(ctx, v, expand) for v in ctx.state.project_versions(project.id)]
    return json_response(data)


async def project_versions_page(ctx: Ctx) -> Response:
    start = max(0, ctx.int_param("startAt", 0))
    limit = max(1, min(ctx.int_param("maxResults", 50), 1000))
    order = ctx.param("orderBy") or ""
    query = (ctx.param("query") or "").lower()
    statuses = {s.lower() for s in ctx.params("status")}
    expand = set(ctx.params("expand"))
    descending = order.startswith("-")
    order_key = order.lstrip("+-")
    if order_key and order_key not in ORDER_KEYS:
        raise JiraError(400, f"Invalid orderBy value '{order}'. Valid values are: {', '.join(ORDER_KEYS)}.")
    with ctx.state.lock:
        project = find_project(ctx)
        versions = ctx.state.project_versions(project.id)
        if query:
            versions = [
                v for v in versions if query in v.name.lower() or query in (v.description or "").lower()
            ]
        if statuses:
            versions = [v for v in versions if _status_of(v) in statuses]
        if order_key:
            versions.sort(key=lambda v: _order_value(v, order_key), reverse=descending)
        page = versions[start : start + limit]
        rest = ctx.view.rest
        data: dict[str, Any] = {
            "self": f"{rest}/project/{project.key}/version?maxResults={limit}&startAt={start}",
            "maxResults": limit,
            "startAt": start,
            "total": len(versions),
            "isLast": start + limit >= len(versions),
            "values": [render_version(ctx, v, expand) for v in page],
        }
        if start + limit < len(versions):
            data["nextPage"] = (
                f"{rest}/project/{project.key}/version?maxResults={limit}&startAt={start + limit}"
            )
    return json_response(data)


def _status_of(version: Version) -> str:
    if version.archived:
        return "archived"
    return "released" if version.released else "unreleased"


def _order_value(version: Version, key: str) -> tuple[bool, Any]:
    value: Any = {
        "description": version.description,
        "name": version.name.lower(),
        "releaseDate": version.release_date,
        "sequence": version.sequence,
        "startDate": version.start_date,
    }[key]
    return (value is None, value if value is not None else "")


async def get_version(ctx: Ctx) -> Response:
    with ctx.state.lock:
        data = render_version(ctx, find_version(ctx), set(ctx.params("expand")))
    return json_response(data)


def _check_date(errors: dict[str, str], name: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        errors[name] = f'Invalid date format. Please enter the date in the format "yyyy-MM-dd": {value}'
        return None


def _check_name(ctx: Ctx, errors: dict[str, str], project_id: int, name: Any, own_id: int | None) -> None:
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "You must specify a valid version name"
        return
    if len(name) > 255:
        errors["name"] = "The version name must not exceed 255 characters."
        return
    for other in ctx.state.project_versions(project_id):
        if other.name.lower() == name.lower() and other.id != own_id:
            errors["name"] = "A version with this name already exists in this project."


async def create_version(ctx: Ctx) -> Response:
    body = ctx.json_body()
    state = ctx.state
    with state.lock:
        ctx.require_write(
            "You must have global or project administrator permissions in order to create versions."
        )
        project = None
        if body.get("projectId") is not None:
            project = (
                state.projects.get(int(body["projectId"])) if str(body["projectId"]).isdecimal() else None
            )
        elif body.get("project"):
            project = state.project(str(body["project"]))
        if project is None:
            raise JiraError(400, errors={"project": "Project must be specified to create a version."})
        errors: dict[str, str] = {}
        _check_name(ctx, errors, project.id, body.get("name"), None)
        release_date = _check_date(errors, "releaseDate", body.get("releaseDate"))
        start_date = _check_date(errors, "startDate", body.get("startDate"))
        if errors:
            raise JiraError(400, errors=errors)
        sequence = max((v.sequence for v in state.project_versions(project.id)), default=0) + 1
        version = Version(
            id=state.counters.next("version"),
            project_id=project.id,
            name=str(body["name"]),
            description=body.get("description") or None,
            archived=bool(body.get("archived", False)),
            released=bool(body.get("released", False)),
            start_date=start_date,
            release_date=release_date,
            sequence=sequence,
        )
        state.versions[version.id] = version
        state.dirty = True
        ctx.sim.dispatcher.emit("jira:version_created", ctx.base_url, version=version)
        data = render_version(ctx, version, set())
    return json_response(data, 201)


async def update_version(ctx: Ctx) -> Response:
    body = ctx.json_body()
    state = ctx.state
    with state.lock:
        version = find_version(ctx)
        ctx.require_write(
            "You must have global or project administrator permissions in order to edit versions."
        )
        errors: dict[str, str] = {}
        if "name" in body:
            _check_name(ctx, errors, version.project_id, body["name"], version.id)
        release_date = _check_date(errors, "releaseDate", body.get("releaseDate"))
        start_date = _check_date(errors, "startDate", body.get("startDate"))
        move_to: Version | None = None
        if body.get("moveUnfixedIssuesTo"):
            target = str(body["moveUnfixedIssuesTo"]).rstrip("/").rsplit("/", 1)[-1]
            move_to = state.versions.get(int(target)) if target.isdecimal() else None
            if move_to is None or move_to.project_id != version.project_id:
                errors["moveUnfixedIssuesTo"] = "The version to move unfixed issues to does not exist."
        if errors:
            raise JiraError(400, errors=errors)
        before = (
            version.name,
            version.description,
            version.archived,
            version.released,
            version.start_date,
            version.release_date,
        )
        was_released = version.released
        if "name" in body:
            version.name = str(body["name"])
        if "description" in body:
            version.description = body["description"] or None
        if "archived" in body:
            version.archived = bool(body["archived"])
        if "released" in body:
            version.released = bool(body["released"])
        if "releaseDate" in body:
            version.release_date = release_date
        if "startDate" in body:
            version.start_date = start_date
        if version.released and not was_released and not version.release_date:
            version.release_date = local_date(state.clock.now_ms(), ctx.view.time_zone).isoformat()
        if move_to is not None and version.released and not was_released:
            _move_unfixed(ctx, version, move_to)
        after = (
            version.name,
            version.description,
            version.archived,
            version.released,
            version.start_date,
            version.release_date,
        )
        if after != before:
            state.dirty = True
            if version.released and not was_released:
                event = "jira:version_released"
            elif was_released and not version.released:
                event = "jira:version_unreleased"
            else:
                event = "jira:version_updated"
            ctx.sim.dispatcher.emit(event, ctx.base_url, version=version)
        data = render_version(ctx, version, set(ctx.params("expand")))
    return json_response(data)


def _move_unfixed(ctx: Ctx, version: Version, target: Version) -> None:
    """Releasing with ``moveUnfixedIssuesTo``: unresolved issues move on to the next version."""
    state = ctx.state
    for issue_id in sorted(state.by_fix_version.get(version.id, set())):
        issue = state.issues[issue_id]
        if cat.STATUS_BY_NAME[issue.status.lower()].category == "done":
            continue
        new = [target.id if v == version.id else v for v in issue.fix_versions]
        _replace_versions(ctx, issue, list(dict.fromkeys(new)))


def _replace_versions(ctx: Ctx, issue: Issue, new: list[int]) -> None:
    state = ctx.state
    old = list(issue.fix_versions)
    state.remember_for_search(issue.id, issue)
    state.set_fix_versions(issue, new)
    items = [
        item(
            "Fix Version",
            "fixVersions",
            str(v),
            state.versions[v].name if v in state.versions else None,
            None,
            None,
        )
        for v in old
        if v not in new
    ]
    items += [
        item("Fix Version", "fixVersions", None, None, str(v), state.versions[v].name)
        for v in new
        if v not in old
    ]
    if not items:
        return
    now = state.clock.now_ms()
    history = History(state.counters.next("history"), ctx.actor.account_id, now, items)
    issue.histories.append(history)
    state.set_updated(issue, max(now, issue.updated))
    publish(ctx, issue, EditResult(history=history))


async def delete_version(ctx: Ctx) -> Response:
    state = ctx.state
    with state.lock:
        version = find_version(ctx)
        ctx.require_write(
            "You must have global or project administrator permissions in order to delete versions."
        )
        move_to = None
        target = ctx.param("moveFixIssuesTo")
        if target:
            move_to = find_version(ctx, target.rstrip("/").rsplit("/", 1)[-1])
        for issue_id in sorted(state.by_fix_version.get(version.id, set())):
            issue = state.issues[issue_id]
            new = [v for v in issue.fix_versions if v != version.id]
            if move_to is not None and move_to.id not in new:
                new.append(move_to.id)
            _replace_versions(ctx, issue, new)
        for issue in state.issues.values():
            if version.id in issue.affects_versions:
                issue.affects_versions = [v for v in issue.affects_versions if v != version.id]
        ctx.sim.dispatcher.emit("jira:version_deleted", ctx.base_url, version=version)
        del state.versions[version.id]
        state.by_fix_version.pop(version.id, None)
        state.dirty = True
    return no_content()


async def related_counts(ctx: Ctx) -> Response:
    with ctx.state.lock:
        version = find_version(ctx)
        fixed = len(ctx.state.by_fix_version.get(version.id, ()))
        affected = sum(1 for i in ctx.state.issues.values() if version.id in i.affects_versions)
        data = {
            "self": f"{ctx.view.rest}/version/{version.id}",
            "issuesFixedCount": fixed,
            "issuesAffectedCount": affected,
            "issueCountWithCustomFieldsShowingVersion": 0,
            "customFieldUsage": [],
        }
    return json_response(data)


async def unresolved_count(ctx: Ctx) -> Response:
    with ctx.state.lock:
        version = find_version(ctx)
        ids = ctx.state.by_fix_version.get(version.id, set())
        issues = [ctx.state.issues[i] for i in ids if i in ctx.state.issues]
        data = {
            "self": f"{ctx.view.rest}/version/{version.id}",
            "issuesUnresolvedCount": sum(1 for i in issues if i.resolution is None),
            "issuesCount": len(issues),
        }
    return json_response(data)


def routes(sim: JiraSimulator) -> list[Route]:
    api = "/rest/api/{v}"
    return [
        api_route(api + "/project/{project}/versions", project_versions, ["GET"], sim),
        api_route(api + "/project/{project}/version", project_versions_page, ["GET"], sim),
        api_route(api + "/version", create_version, ["POST"], sim),
        api_route(api + "/version/{id}", get_version, ["GET"], sim),
        api_route(api + "/version/{id}", update_version, ["PUT"], sim),
        api_route(api + "/version/{id}", delete_version, ["DELETE"], sim),
        api_route(api + "/version/{id}/relatedIssueCounts", related_counts, ["GET"], sim),
        api_route(api + "/version/{id}/unresolvedIssueCount", unresolved_count, ["GET"], sim),
    ]

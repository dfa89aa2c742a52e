"""What hangs off an issue: comments, remote links and issue properties.

Comments bump the issue's ``updated`` (no changelog entry, as in Jira); remote links record a
``RemoteIssueLink`` history; properties change neither, and announce no issue event.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from bridgeline.sim.jira._edit import EditResult, item
from bridgeline.sim.jira._errors import JiraError, not_found_project
from bridgeline.sim.jira._http import Ctx, api_route, json_response, no_content
from bridgeline.sim.jira._model import Comment, History, Issue, RemoteLink
from bridgeline.sim.jira._routes_issues import editor, find_issue, publish

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator

PROPERTY_MAX_BYTES = 32768


# -- comments --------------------------------------------------------------------------------------


def _find_comment(ctx: Ctx, issue: Issue) -> Comment:
    comment_id = ctx.path("comment_id")
    for comment in issue.comments:
        if str(comment.id) == comment_id:
            return comment
    raise JiraError(404, f"Can not find a comment for the id: {comment_id}.")


def _comment_body(ctx: Ctx) -> dict[str, Any]:
    change = editor(ctx)
    body = change.rich_text("body", ctx.json_body().get("body"))
    if change.errors:
        raise JiraError(400, errors=change.errors)
    if body is None or not body.get("content"):
        raise JiraError(400, errors={"comment": "Comment body can not be empty!"})
    return body


async def list_comments(ctx: Ctx) -> Response:
    start = max(0, ctx.int_param("startAt", 0))
    limit = max(0, min(ctx.int_param("maxResults", 5000), 5000))
    with ctx.state.lock:
        issue = find_issue(ctx)
        ordered = list(issue.comments)
        if (ctx.param("orderBy") or "").lstrip("+") in ("-created",):
            ordered.reverse()
        page = ordered[start : start + limit]
        data = {
            "startAt": start,
            "maxResults": limit,
            "total": len(ordered),
            "comments": [ctx.view.comment(issue, c) for c in page],
        }
    return json_response(data)


async def add_comment(ctx: Ctx) -> Response:
    body = _comment_body(ctx)
    with ctx.state.lock:
        issue = find_issue(ctx)
        ctx.require_write("You do not have permission to comment on this issue.")
        change = editor(ctx)
        ctx.state.remember_for_search(issue.id, issue)
        comment = change.add_comment(issue, body)
        ctx.state.set_updated(issue, max(comment.created, issue.updated))
        publish(ctx, issue, EditResult(comments_added=[comment]))
        data = ctx.view.comment(issue, comment)
    return json_response(data, 201)


async def get_comment(ctx: Ctx) -> Response:
    with ctx.state.lock:
        issue = find_issue(ctx)
        data = ctx.view.comment(issue, _find_comment(ctx, issue))
    return json_response(data)


async def update_comment(ctx: Ctx) -> Response:
    body = _comment_body(ctx)
    with ctx.state.lock:
        issue = find_issue(ctx)
        comment = _find_comment(ctx, issue)
        ctx.require_write("You do not have permission to edit this comment.")
        ctx.state.remember_for_search(issue.id, issue)
        editor(ctx).edit_comment(comment, body)
        ctx.state.set_updated(issue, max(comment.updated, issue.updated))
        publish(ctx, issue, EditResult(comments_updated=[comment]))
        data = ctx.view.comment(issue, comment)
    return json_response(data)


async def delete_comment(ctx: Ctx) -> Response:
    with ctx.state.lock:
        issue = find_issue(ctx)
        comment = _find_comment(ctx, issue)
        ctx.require_write("You do not have permission to delete this comment.")
        ctx.state.remember_for_search(issue.id, issue)
        issue.comments.remove(comment)
        ctx.state.set_updated(issue, max(ctx.state.clock.now_ms(), issue.updated))
        publish(ctx, issue, EditResult(comments_deleted=[comment]))
    return no_content()


# -- remote links ----------------------------------------------------------------------------------


def _link_history(ctx: Ctx, issue: Issue, link: RemoteLink, *, removed: bool) -> EditResult:
    """Jira writes ``This issue links to "<title>"`` into the changelog when a link comes or goes."""
    text = f'This issue links to "{link.object.get("title", "")}"'
    now = ctx.state.clock.now_ms()
    entry = (
        item("RemoteIssueLink", None, str(link.id), text, None, None)
        if removed
        else item("RemoteIssueLink", None, None, None, str(link.id), text)
    )
    history = History(ctx.state.counters.next("history"), ctx.actor.account_id, now, [entry])
    ctx.state.remember_for_search(issue.id, issue)
    issue.histories.append(history)
    ctx.state.set_updated(issue, max(now, issue.updated))
    return EditResult(history=history)


def _validate_link(body: dict[str, Any]) -> dict[str, Any]:
    obj = body.get("object")
    errors: dict[str, str] = {}
    if not isinstance(obj, dict):
        raise JiraError(400, errors={"object": "'object' is required."})
    if not obj.get("url"):
        errors["url"] = "'url' is required."
    if not obj.get("title"):
        errors["title"] = "'title' is required."
    if errors:
        raise JiraError(400, errors=errors)
    return obj


async def list_links(ctx: Ctx) -> Response:
    global_id = ctx.param("globalId")
    with ctx.state.lock:
        issue = find_issue(ctx)
        if global_id is not None:
            link = next((lk for lk in issue.remote_links if lk.global_id == global_id), None)
            if link is None:
                raise JiraError(404, "No remote link with the given globalId was found.")
            return json_response(ctx.view.remote_link(issue, link))
        data = [ctx.view.remote_link(issue, lk) for lk in issue.remote_links]
    return json_response(data)


async def upsert_link(ctx: Ctx) -> Response:
    """Create a remote link, or update the one with the same ``globalId`` (idempotent)."""
    body = ctx.json_body()
    obj = _validate_link(body)
    global_id = body.get("globalId")
    with ctx.state.lock:
        issue = find_issue(ctx)
        ctx.require_write("You do not have permission to link issues in this project.")
        existing = None
        if global_id:
            existing = next((lk for lk in issue.remote_links if lk.global_id == global_id), None)
        if existing is not None:
            before = (existing.object, existing.application, existing.relationship)
            existing.object = dict(obj)
            existing.application = dict(body.get("application") or {})
            existing.relationship = body.get("relationship")
            if before != (existing.object, existing.application, existing.relationship):
                ctx.state.remember_for_search(issue.id, issue)
                ctx.state.set_updated(issue, max(ctx.state.clock.now_ms(), issue.updated))
                ctx.state.dirty = True
            link, status = existing, 200
        else:
            link = RemoteLink(
                id=ctx.state.counters.next("remote_link"),
                object=dict(obj),
                global_id=global_id,
                application=dict(body.get("application") or {}),
                relationship=body.get("relationship"),
            )
            issue.remote_links.append(link)
            publish(ctx, issue, _link_history(ctx, issue, link, removed=False))
            status = 201
        data = {"id": link.id, "self": f"{ctx.view.rest}/issue/{issue.key}/remotelink/{link.id}"}
    return json_response(data, status)


def _find_link(ctx: Ctx, issue: Issue) -> RemoteLink:
    link_id = ctx.path("link_id")
    link = next((lk for lk in issue.remote_links if str(lk.id) == link_id), None)
    if link is None:
        raise JiraError(404, f"No remote link with id '{link_id}' exists on this issue.")
    return link


async def get_link(ctx: Ctx) -> Response:
    with ctx.state.lock:
        issue = find_issue(ctx)
        data = ctx.view.remote_link(issue, _find_link(ctx, issue))
    return json_response(data)


async def put_link(ctx: Ctx) -> Response:
    body = ctx.json_body()
    obj = _validate_link(body)
    with ctx.state.lock:
        issue = find_issue(ctx)
        link = _find_link(ctx, issue)
        ctx.require_write("You do not have permission to link issues in this project.")
        link.object = dict(obj)
        link.global_id = body.get("globalId", link.global_id)
        link.application = dict(body.get("application") or link.application)
        link.relationship = body.get("relationship", link.relationship)
        ctx.state.remember_for_search(issue.id, issue)
        ctx.state.set_updated(issue, max(ctx.state.clock.now_ms(), issue.updated))
    return no_content()


async def delete_link(ctx: Ctx) -> Response:
    with ctx.state.lock:
        issue = find_issue(ctx)
        ctx.require_write("You do not have permission to link issues in this project.")
        if "link_id" in ctx.request.path_params:
            doomed = [_find_link(ctx, issue)]
        else:
            global_id = ctx.param("globalId")
            if not global_id:
                raise JiraError(400, "The globalId parameter is required.")
            doomed = [lk for lk in issue.remote_links if lk.global_id == global_id]
            if not doomed:
                raise JiraError(404, "No remote link with the given globalId was found.")
        for link in doomed:
            issue.remote_links.remove(link)
            publish(ctx, issue, _link_history(ctx, issue, link, removed=True))
    return no_content()


# -- entity properties of issues and projects ------------------------------------------------------


def _owner(ctx: Ctx) -> tuple[dict[str, Any], str]:
    """The properties of the issue or project in the path, and the base of their ``self`` URLs."""
    if "project" in ctx.request.path_params:
        ref = ctx.path("project")
        project = ctx.state.project(ref)
        if project is None:
            raise not_found_project(ref)
        return project.properties, f"{ctx.view.rest}/project/{project.id}"
    issue = find_issue(ctx)
    return issue.properties, f"{ctx.view.rest}/issue/{issue.id}"


async def list_properties(ctx: Ctx) -> Response:
    with ctx.state.lock:
        properties, base = _owner(ctx)
        keys = [{"self": f"{base}/properties/{key}", "key": key} for key in properties]
    return json_response({"keys": keys})


async def get_property(ctx: Ctx) -> Response:
    key = ctx.path("prop")
    with ctx.state.lock:
        properties, _ = _owner(ctx)
        if key not in properties:
            raise JiraError(404, f"The property with key '{key}' does not exist.")
        data = {"key": key, "value": properties[key]}
    return json_response(data)


async def put_property(ctx: Ctx) -> Response:
    key = ctx.path("prop")
    raw = await ctx.request.body()
    if len(key) > 255:
        raise JiraError(400, "The property key can not be longer than 255 characters.")
    if len(raw) > PROPERTY_MAX_BYTES:
        raise JiraError(400, f"The property value exceeds the maximum size of {PROPERTY_MAX_BYTES} bytes.")
    try:
        value = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise JiraError(400, "The property value must be valid JSON.") from None
    with ctx.state.lock:
        properties, _ = _owner(ctx)
        ctx.require_write()
        created = key not in properties
        properties[key] = value
        ctx.state.dirty = True
    return Response(status_code=201 if created else 200)


async def delete_property(ctx: Ctx) -> Response:
    key = ctx.path("prop")
    with ctx.state.lock:
        properties, _ = _owner(ctx)
        ctx.require_write()
        if key not in properties:
            raise JiraError(404, f"The property with key '{key}' does not exist.")
        del properties[key]
        ctx.state.dirty = True
    return no_content()


def routes(sim: JiraSimulator) -> list[Route]:
    base = "/rest/api/{v}/issue/{key}"
    return [
        api_route(base + "/comment", list_comments, ["GET"], sim),
        api_route(base + "/comment", add_comment, ["POST"], sim),
        api_route(base + "/comment/{comment_id}", get_comment, ["GET"], sim),
        api_route(base + "/comment/{comment_id}", update_comment, ["PUT"], sim),
        api_route(base + "/comment/{comment_id}", delete_comment, ["DELETE"], sim),
        api_route(base + "/remotelink", list_links, ["GET"], sim),
        api_route(base + "/remotelink", upsert_link, ["POST"], sim),
        api_route(base + "/remotelink", delete_link, ["DELETE"], sim),
        api_route(base + "/remotelink/{link_id}", get_link, ["GET"], sim),
        api_route(base + "/remotelink/{link_id}", put_link, ["PUT"], sim),
        api_route(base + "/remotelink/{link_id}", delete_link, ["DELETE"], sim),
        api_route(base + "/properties", list_properties, ["GET"], sim),
        api_route(base + "/properties/{prop}", get_property, ["GET"], sim),
        api_route(base + "/properties/{prop}", put_property, ["PUT"], sim),
        api_route(base + "/properties/{prop}", delete_property, ["DELETE"], sim),
        api_route("/rest/api/{v}/project/{project}/properties", list_properties, ["GET"], sim),
        api_route("/rest/api/{v}/project/{project}/properties/{prop}", get_property, ["GET"], sim),
        api_route("/rest/api/{v}/project/{project}/properties/{prop}", put_property, ["PUT"], sim),
        api_route("/rest/api/{v}/project/{project}/properties/{prop}", delete_property, ["DELETE"], sim),
    ]

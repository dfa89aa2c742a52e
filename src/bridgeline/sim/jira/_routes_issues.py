"""Issues: read, edit, create, delete, transitions and the changelog.

Every change runs through :class:`IssueEditor` (validate all, then apply, bump ``updated``, record a
history with the actor) and is announced to webhooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._edit import EditResult, IssueEditor, transition_issue
from bridgeline.sim.jira._errors import JiraError, not_found_issue
from bridgeline.sim.jira._http import Ctx, api_route, json_response, no_content
from bridgeline.sim.jira._model import Issue
from bridgeline.sim.jira._routes_search import select_fields

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator


def find_issue(ctx: Ctx, name: str = "key") -> Issue:
    issue = ctx.state.issue(ctx.path(name))
    if issue is None:
        raise not_found_issue()
    return issue


def editor(ctx: Ctx) -> IssueEditor:
    return IssueEditor(ctx.state, ctx.actor, ctx.api, ctx.cloud)


def publish(ctx: Ctx, issue: Issue, result: EditResult, event_type: str = "issue_updated") -> None:
    """Tell webhooks about an edit: the field changes, then each comment change."""
    emit = ctx.sim.dispatcher.emit
    base = ctx.base_url
    actor = ctx.actor
    if result.history is not None:
        first_comment = result.comments_added[0] if result.comments_added else None
        emit(
            "jira:issue_updated",
            base,
            issue=issue,
            actor=actor,
            history=result.history,
            comment=first_comment,
            issue_event_type=event_type,
        )
    elif result.comments_added:
        emit(
            "jira:issue_updated",
            base,
            issue=issue,
            actor=actor,
            comment=result.comments_added[0],
            issue_event_type="issue_commented",
        )
    for comment in result.comments_added:
        emit("comment_created", base, issue=issue, actor=actor, comment=comment)
    for comment in result.comments_updated:
        emit(
            "jira:issue_updated",
            base,
            issue=issue,
            actor=actor,
            comment=comment,
            issue_event_type="issue_comment_edited",
        )
        emit("comment_updated", base, issue=issue, actor=actor, comment=comment)
    for comment in result.comments_deleted:
        emit(
            "jira:issue_updated",
            base,
            issue=issue,
            actor=actor,
            comment=comment,
            issue_event_type="issue_comment_deleted",
        )
        emit("comment_deleted", base, issue=issue, actor=actor, comment=comment)


def _expand(ctx: Ctx) -> set[str]:
    return {p for p in ctx.params("expand")}


async def get_issue(ctx: Ctx) -> Response:
    with ctx.state.lock:
        issue = find_issue(ctx, "key")
        field_ids = select_fields(ctx.params("fields"), ["*all"]) or []
        data = ctx.view.issue(issue, field_ids, _expand(ctx), ctx.params("properties"))
    return json_response(data)


async def edit_issue(ctx: Ctx) -> Response:
    body = ctx.json_body()
    with ctx.state.lock:
        issue = find_issue(ctx)
        ctx.require_write()
        change = editor(ctx)
        change.plan(issue, body.get("fields"), body.get("update"))
        result = change.apply(issue)
        publish(ctx, issue, result)
        if ctx.bool_param("returnIssue", False):
            field_ids = select_fields([], ["*all"]) or []
            return json_response(ctx.view.issue(issue, field_ids, _expand(ctx)))
    return no_content()


async def create_issue(ctx: Ctx) -> Response:
    body = ctx.json_body()
    fields = dict(body.get("fields") or {})
    state = ctx.state
    with state.lock:
        ctx.require_write("You do not have permission to create issues in this project.")
        errors: dict[str, str] = {}
        project_ref = fields.pop("project", None) or {}
        project = None
        if isinstance(project_ref, dict):
            project = state.project(str(project_ref.get("key") or project_ref.get("id") or ""))
        if project is None:
            errors["project"] = "Specify a valid project ID or key"
        type_ref = fields.pop("issuetype", None) or {}
        issuetype = None
        if isinstance(type_ref, dict):
            issuetype = cat.ISSUE_TYPE_BY_ID.get(str(type_ref.get("id"))) or cat.ISSUE_TYPE_BY_NAME.get(
                str(type_ref.get("name", "")).lower()
            )
        if issuetype is None:
            errors["issuetype"] = "Specify an issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        if issuetype is not None and issuetype.subtask and not fields.get("parent"):
            errors["parent"] = "Issue type is a sub-task but parent issue key or id not specified."
        if errors or project is None or issuetype is None:
            raise JiraError(400, errors=errors)
        now = state.clock.now_ms()
        actor = ctx.actor
        issue = Issue(
            id=state.counters.issue + 1,
            key=f"{project.key}-{project.next_issue_number}",
            project_id=project.id,
            summary=str(summary),
            issuetype=issuetype.name,
            status="To Do",
            priority="Medium",
            reporter=actor.account_id,
            creator=actor.account_id,
            created=now,
            updated=now,
            status_changed=now,
        )
        change = editor(ctx)
        change.plan(issue, fields, body.get("update"))
        change.check()
        state.counters.next("issue")
        project.next_issue_number += 1
        state.add_issue(issue)
        change.apply(issue, record=False)
        ctx.sim.dispatcher.emit(
            "jira:issue_created", ctx.base_url, issue=issue, actor=actor, issue_event_type="issue_created"
        )
        for comment in change.result.comments_added:
            ctx.sim.dispatcher.emit(
                "comment_created", ctx.base_url, issue=issue, actor=actor, comment=comment
            )
        data = {"id": str(issue.id), "key": issue.key, "self": f"{ctx.view.rest}/issue/{issue.id}"}
    return json_response(data, 201)


async def delete_issue(ctx: Ctx) -> Response:
    state = ctx.state
    with state.lock:
        issue = find_issue(ctx)
        ctx.require_write("You do not have permission to delete issues in this project.")
        children = [state.issues[c] for c in sorted(state.children.get(issue.id, ())) if c in state.issues]
        subtasks = [c for c in children if c.issuetype == "Sub-task"]
        if subtasks and not ctx.bool_param("deleteSubtasks", False):
            raise JiraError(
                400,
                f"The issue '{issue.key}' has subtasks.  You must specify the 'deleteSubtasks' parameter "
                "to delete this issue and all its subtasks.",
            )
        for doomed in [*subtasks, issue]:
            ctx.sim.dispatcher.emit(
                "jira:issue_deleted",
                ctx.base_url,
                issue=doomed,
                actor=ctx.actor,
                issue_event_type="issue_deleted",
            )
            state.delete_issue(doomed)
        for child in children:
            if child.issuetype != "Sub-task":
                state.set_parent(child, None)
    return no_content()


# -- transitions -----------------------------------------------------------------------------------


async def get_transitions(ctx: Ctx) -> Response:
    with ctx.state.lock:
        issue = find_issue(ctx)
        available = cat.transitions_from(issue.status)
        wanted = ctx.param("transitionId")
        if wanted:
            available = [t for t in available if t.id == wanted]
        data = {"expand": "transitions", "transitions": [ctx.view.transition(t) for t in available]}
    return json_response(data)


async def do_transition(ctx: Ctx) -> Response:
    body = ctx.json_body()
    ref = body.get("transition")
    if not isinstance(ref, dict) or ("id" not in ref and "name" not in ref):
        raise JiraError(400, "Missing 'transition' identifier")
    with ctx.state.lock:
        issue = find_issue(ctx)
        ctx.require_write("You do not have permission to transition this issue.")
        available = cat.transitions_from(issue.status)
        if "id" in ref:
            chosen = next((t for t in available if t.id == str(ref["id"])), None)
            if chosen is None:
                raise JiraError(400, f"Transition id '{ref['id']}' is not valid for this issue.")
        else:
            name = str(ref["name"]).lower()
            chosen = next((t for t in available if t.name.lower() == name), None)
            if chosen is None:
                raise JiraError(400, f"Transition name '{ref['name']}' is not valid for this issue.")
        fields = dict(body.get("fields") or {})
        resolution_ref = fields.pop("resolution", None)
        resolution = None
        if isinstance(resolution_ref, dict):
            resolution = resolution_ref.get("name") or next(
                (n for n, i in cat.RESOLUTIONS.items() if i == str(resolution_ref.get("id"))), None
            )
            if resolution not in cat.RESOLUTIONS:
                raise JiraError(400, errors={"resolution": "Resolution is invalid."})
        change = editor(ctx)
        change.plan(issue, fields, body.get("update"))
        transition_issue(change, issue, chosen.to, resolution)
        result = change.apply(issue)
        publish(ctx, issue, result, "issue_generic")
    return no_content()


# -- changelog -------------------------------------------------------------------------------------


async def get_changelog(ctx: Ctx) -> Response:
    start = max(0, ctx.int_param("startAt", 0))
    limit = max(1, min(ctx.int_param("maxResults", 100), 100))
    with ctx.state.lock:
        issue = find_issue(ctx)
        page = ctx.view.changelog_page(issue, start, limit, newest_first=False)
        total = page["total"]
        data: dict[str, Any] = {
            "self": f"{ctx.view.rest}/issue/{issue.key}/changelog?maxResults={limit}&startAt={start}",
            "maxResults": limit,
            "startAt": start,
            "total": total,
            "isLast": start + limit >= total,
            "values": page["histories"],
        }
        if start + limit < total:
            data["nextPage"] = (
                f"{ctx.view.rest}/issue/{issue.key}/changelog?maxResults={limit}&startAt={start + limit}"
            )
    return json_response(data)


def routes(sim: JiraSimulator) -> list[Route]:
    base = "/rest/api/{v}/issue"
    return [
        api_route(base, create_issue, ["POST"], sim),
        api_route(base + "/{key}", get_issue, ["GET"], sim),
        api_route(base + "/{key}", edit_issue, ["PUT"], sim),
        api_route(base + "/{key}", delete_issue, ["DELETE"], sim),
        api_route(base + "/{key}/transitions", get_transitions, ["GET"], sim),
        api_route(base + "/{key}/transitions", do_transition, ["POST"], sim),
        api_route(base + "/{key}/changelog", get_changelog, ["GET"], sim),
    ]

"""What a webhook delivery says: the payload Jira builds for a change, and which webhooks get it.

Issue payloads are the **v2 representation** (wiki markup) on Cloud too; comment events carry an
abbreviated issue; version events carry the version alone (``projectId``, no project key, no user).
Quirks seen in the wild can be switched on: see :data:`QUIRKS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bridgeline.sim.jira._catalog import NAVIGABLE_FIELD_IDS
from bridgeline.sim.jira._jql_eval import matches
from bridgeline.sim.jira._jql_fields import SearchContext
from bridgeline.sim.jira._jql_parse import parse
from bridgeline.sim.jira._model import Comment, History, Issue, User, Version, Webhook
from bridgeline.sim.jira._render import View
from bridgeline.sim.jira._state import JiraState

ISSUE_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"})
COMMENT_EVENTS = frozenset({"comment_created", "comment_updated", "comment_deleted"})
VERSION_EVENTS = frozenset(
    {
        "jira:version_created",
        "jira:version_updated",
        "jira:version_released",
        "jira:version_unreleased",
        "jira:version_deleted",
        "jira:version_moved",
        "jira:version_merged",
    }
)
KNOWN_EVENTS = ISSUE_EVENTS | COMMENT_EVENTS | VERSION_EVENTS
QUIRKS = frozenset({"comment_without_issue", "string_timestamp", "server_users", "extra_keys"})


@dataclass(frozen=True)
class Change:
    """One thing that happened, as the routes report it."""

    event: str
    base_url: str
    issue: Issue | None = None
    actor: User | None = None
    history: History | None = None
    comment: Comment | None = None
    version: Version | None = None
    issue_event_type: str | None = None


def targets(state: JiraState, change: Change) -> list[Webhook]:
    """Enabled webhooks listening for the event whose JQL filter (if any) matches the issue."""
    found = [w for w in state.webhooks.values() if w.enabled and change.event in w.events]
    if change.issue is None:
        return found
    return [w for w in found if not w.jql or _filter_matches(state, w.jql, change.issue)]


def _filter_matches(state: JiraState, jql: str, issue: Issue) -> bool:
    try:
        return matches(SearchContext(state, None, validate="none"), parse(jql), issue)
    except Exception:  # a filter that no longer parses matches nothing, as in Jira
        return False


def payload(state: JiraState, mode: str, quirks: list[str], change: Change) -> dict[str, Any]:
    """The body Jira posts for ``change`` (before per-webhook additions)."""
    view = View(
        state,
        change.base_url,
        api=2,
        cloud=mode == "cloud",
        time_zone=state.settings.server_time_zone,
        server_users="server_users" in quirks,
    )
    issue, event = change.issue, change.event
    data: dict[str, Any] = {"timestamp": state.clock.now_ms(), "webhookEvent": event}
    if change.issue_event_type:
        data["issue_event_type_name"] = change.issue_event_type
    if change.actor is not None and event not in VERSION_EVENTS:
        data["user"] = view.user_record(change.actor)
    if issue is not None and event in COMMENT_EVENTS:
        if "comment_without_issue" not in quirks:
            data["issue"] = view.issue_link(issue)
    elif issue is not None:
        data["issue"] = view.issue(issue, list(NAVIGABLE_FIELD_IDS))
    if change.history is not None:
        data["changelog"] = {"id": str(change.history.id), "items": [dict(i) for i in change.history.items]}
    if change.comment is not None and issue is not None:
        data["comment"] = view.comment(issue, change.comment)
    if change.version is not None:
        data["version"] = view.version(change.version)
    if "string_timestamp" in quirks:
        data["timestamp"] = str(data["timestamp"])
    return data


def body_for(webhook: Webhook, data: dict[str, Any], quirks: list[str]) -> bytes:
    if webhook.exclude_body:
        return b""
    if "extra_keys" in quirks:
        data = {**data, "matchedWebhookIds": [webhook.id], "atlassianFutureField": {"note": "ignore me"}}
    return json.dumps(data).encode()


def url_for(url: str, issue: Issue | None, version: Version | None, state: JiraState) -> str:
    """Jira's URL variables: ``${issue.key}``, ``${issue.id}``, ``${project.key}``, ``${version.id}``..."""
    if "${" not in url:
        return url
    values: dict[str, str] = {}
    project = None
    if issue is not None:
        values["issue.id"] = str(issue.id)
        values["issue.key"] = issue.key
        project = state.projects.get(issue.project_id)
    if version is not None:
        values["version.id"] = str(version.id)
        project = project or state.projects.get(version.project_id)
    if project is not None:
        values["project.id"] = str(project.id)
        values["project.key"] = project.key
    for name, value in values.items():
        url = url.replace("${" + name + "}", value)
    return url


def webhook_json(webhook: Webhook, base_url: str, state: JiraState) -> dict[str, Any]:
    """A registration as ``GET /rest/webhooks/1.0/webhook`` lists it."""
    user = state.users.get(webhook.last_updated_user)
    data: dict[str, Any] = {
        "name": webhook.name,
        "url": webhook.url,
        "excludeBody": webhook.exclude_body,
        "filters": {"issue-related-events-section": webhook.jql or ""},
        "events": list(webhook.events),
        "enabled": webhook.enabled,
        "self": f"{base_url}/rest/webhooks/1.0/webhook/{webhook.id}",
        "lastUpdatedUser": user.account_id if user else webhook.last_updated_user,
        "lastUpdatedDisplayName": user.display_name if user else "",
        "lastUpdated": webhook.last_updated,
    }
    if webhook.description:
        data["description"] = webhook.description
    return data

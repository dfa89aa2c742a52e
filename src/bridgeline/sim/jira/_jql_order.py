"""ORDER BY: which fields sort and how (priority by rank, status by workflow order, key by number)."""

from __future__ import annotations

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._errors import JiraError
from bridgeline.sim.jira._jql_fields import FIELD_KINDS, key_number, no_such_field
from bridgeline.sim.jira._jql_parse import SortKey
from bridgeline.sim.jira._model import Issue
from bridgeline.sim.jira._state import JiraState

SORTABLE = {
    "key": "key",
    "issuekey": "key",
    "issue": "key",
    "id": "key",
    "created": "created",
    "createddate": "created",
    "updated": "updated",
    "updateddate": "updated",
    "priority": "priority",
    "status": "status",
    "summary": "summary",
    "issuetype": "issuetype",
    "type": "issuetype",
    "project": "project",
    "resolved": "resolved",
    "resolutiondate": "resolved",
    "due": "due",
    "duedate": "due",
    "fixversion": "fixVersion",
    "assignee": "assignee",
    "reporter": "reporter",
    "cf[10016]": "storyPoints",
    "rank": "key",
}


def _project_key(state: JiraState, issue: Issue) -> str:
    project = state.projects.get(issue.project_id)
    return project.key if project else ""


def _sort_value(state: JiraState, name: str, issue: Issue) -> object:
    if name == "key":
        project = state.projects.get(issue.project_id)
        return (project.key if project else "", key_number(issue.key))
    if name == "created":
        return issue.created
    if name == "updated":
        return issue.updated
    if name == "priority":
        return cat.PRIORITY_RANK.get(issue.priority, 0)
    if name == "status":
        return cat.STATUS_ORDER.get(issue.status, 99)
    if name == "summary":
        return issue.summary.lower()
    if name == "issuetype":
        return issue.issuetype
    if name == "project":
        project = state.projects.get(issue.project_id)
        return project.name if project else ""
    if name == "resolved":
        return issue.resolution_date
    if name == "due":
        return issue.duedate
    if name == "fixVersion":
        seqs = [state.versions[v].sequence for v in issue.fix_versions if v in state.versions]
        return min(seqs) if seqs else None
    if name in ("assignee", "reporter"):
        user = state.users.get(getattr(issue, name) or "")
        return user.display_name.lower() if user else None
    if name == "storyPoints":
        return issue.custom.get(cat.STORY_POINTS)
    return None


def order(state: JiraState, issues: list[Issue], keys: list[SortKey]) -> list[Issue]:
    """ORDER BY; without one, newest key first. Empty values sort last either way."""
    for key in keys:
        if key.field.lower() not in SORTABLE:
            if key.field.lower() in FIELD_KINDS:
                raise JiraError(400, f"Not able to sort using field '{key.field}'.")
            raise no_such_field(key.field)
    result = sorted(issues, key=lambda i: (_project_key(state, i), key_number(i.key)), reverse=True)
    for key in reversed(keys):
        name = SORTABLE[key.field.lower()]

        def sort_key(issue: Issue, name: str = name, desc: bool = key.descending) -> tuple[bool, object]:
            value = _sort_value(state, name, issue)
            return ((value is None) != desc, value if value is not None else 0)

        result.sort(key=sort_key, reverse=key.descending)
    return result

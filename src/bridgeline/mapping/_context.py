"""Template contexts built from raw Jira REST JSON (v2 or v3), the only input mappings see.

``version_context(version, project, issues, now)`` for release mappings and
``issue_context(issue, project, now)`` for issue mappings. Every key is listed in docs/mappings.md
and in :data:`VERSION_KEYS`, :data:`PROJECT_KEYS`, :data:`ISSUE_KEYS` (the loader uses them to refuse
typos like ``version.nmae`` before anything runs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

VERSION_KEYS = (
    "id", "name", "description", "released", "archived", "overdue", "release_date", "start_date",
    "user_release_date", "user_start_date", "project_id", "self", "url", "issue_count", "raw",
)  # fmt: skip
PROJECT_KEYS = ("id", "key", "name", "url", "self", "lead", "category", "type", "raw")
ISSUE_KEYS = (
    "id", "key", "url", "self", "summary", "type", "subtask", "status", "status_category", "priority",
    "components", "labels", "assignee", "assignee_id", "assignee_email", "reporter", "reporter_id",
    "reporter_email", "description", "environment", "created", "updated", "resolution",
    "resolution_date", "due_date", "fix_versions", "parent", "project", "fields",
)  # fmt: skip
TARGET_KEYS = (
    "system", "record", "number", "url", "state", "raw_state", "approval", "approver",
    "approval_comment", "planned_start", "planned_end", "close_code", "close_notes", "fields",
)  # fmt: skip
LINK_KEYS = ("system", "record", "number", "url", "id", "correlation_id")

# Which Jira field each normalized issue key is read from (for MappingSet.jira_fields).
ISSUE_FIELD_SOURCES: dict[str, tuple[str, ...]] = {
    "summary": ("summary",),
    "type": ("issuetype",),
    "subtask": ("issuetype",),
    "status": ("status",),
    "status_category": ("status",),
    "priority": ("priority",),
    "components": ("components",),
    "labels": ("labels",),
    "assignee": ("assignee",),
    "assignee_id": ("assignee",),
    "assignee_email": ("assignee",),
    "reporter": ("reporter",),
    "reporter_id": ("reporter",),
    "reporter_email": ("reporter",),
    "description": ("description",),
    "environment": ("environment",),
    "created": ("created",),
    "updated": ("updated",),
    "resolution": ("resolution",),
    "resolution_date": ("resolutiondate",),
    "due_date": ("duedate",),
    "fix_versions": ("fixVersions",),
    "parent": ("parent",),
    "project": ("project",),
}
BASE_ISSUE_FIELDS = frozenset(
    {"summary", "issuetype", "status", "project", "fixVersions", "labels", "updated"}
)


def version_context(
    version: dict[str, Any], project: dict[str, Any] | None, issues: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """The context of a release mapping: ``version``, ``project``, ``issues`` (normalized) and ``now``.

    ``version`` is Jira's version JSON, ``project`` the project JSON (or ``None`` when unknown),
    ``issues`` the raw issues of the release (``fixVersion = <id>``), from REST v2 or v3.
    """
    base = _base_url(version.get("self")) or _first_issue_base(issues)
    proj = _project(project or {}, base)
    norm_issues = [_issue(raw, base) for raw in issues or ()]
    ver = _version(version, proj, base, len(norm_issues))
    return {"version": ver, "project": proj, "issues": norm_issues, "now": _aware(now)}


def issue_context(issue: dict[str, Any], project: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The context of an issue mapping: ``issue`` (normalized), ``project`` and ``now``."""
    base = _base_url(issue.get("self"))
    fields = _dict(issue.get("fields"))
    proj = _project(project or _dict(fields.get("project")), base)
    return {"issue": _issue(issue, base), "project": proj, "now": _aware(now)}


def normalize_issue(issue: dict[str, Any]) -> dict[str, Any]:
    """One raw Jira issue as mappings see it under ``issue``."""
    return _issue(issue, _base_url(issue.get("self")))


def _aware(now: datetime) -> datetime:
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, not {type(now).__name__}")
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _base_url(self_url: Any) -> str | None:
    if isinstance(self_url, str) and "/rest/" in self_url:
        return self_url.split("/rest/", 1)[0]
    return None


def _first_issue_base(issues: list[dict[str, Any]] | None) -> str | None:
    for raw in issues or ():
        base = _base_url(raw.get("self")) if isinstance(raw, dict) else None
        if base:
            return base
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text_id(value: Any) -> str | None:
    return None if value is None else str(value)


def release_page(base: str, key: Any, version_id: Any, *, cloud: bool) -> str | None:
    """Where a person opens a release in Jira: Cloud's release report, Data Center's version page
    (bridgeline reads Cloud through REST v3 and Data Center through v2)."""
    if not (key and version_id):
        return None
    page = f"{base}/projects/{key}/versions/{version_id}"
    return f"{page}/tab/release-report-all-issues" if cloud else page


def _version(raw: dict[str, Any], project: dict[str, Any], base: str | None, count: int) -> dict[str, Any]:
    vid = _text_id(raw.get("id"))
    key = project.get("key")
    url = release_page(base, key, vid, cloud="/rest/api/3/" in str(raw.get("self") or "")) if base else None
    return {
        "id": vid,
        "name": raw.get("name"),
        "description": raw.get("description"),
        "released": bool(raw.get("released", False)),
        "archived": bool(raw.get("archived", False)),
        "overdue": raw.get("overdue"),
        "release_date": raw.get("releaseDate"),
        "start_date": raw.get("startDate"),
        "user_release_date": raw.get("userReleaseDate"),
        "user_start_date": raw.get("userStartDate"),
        "project_id": _text_id(raw.get("projectId", project.get("id"))),
        "self": raw.get("self"),
        "url": url,
        "issue_count": count,
        "raw": raw,
    }


def _project(raw: dict[str, Any], base: str | None) -> dict[str, Any]:
    base = _base_url(raw.get("self")) or base
    key = raw.get("key")
    return {
        "id": _text_id(raw.get("id")),
        "key": key,
        "name": raw.get("name"),
        "url": f"{base}/browse/{key}" if base and key else None,
        "self": raw.get("self"),
        "lead": _person(raw.get("lead"))[0],
        "category": _dict(raw.get("projectCategory")).get("name"),
        "type": raw.get("projectTypeKey"),
        "raw": raw,
    }


def _person(raw: Any) -> tuple[str | None, str | None, str | None]:
    """(display name, account id or DC user name, email) of a Cloud or Data Center user."""
    if not isinstance(raw, dict):
        return None, None, None
    ident = raw.get("accountId") or raw.get("name") or raw.get("key")
    return raw.get("displayName"), ident, raw.get("emailAddress")


def _issue(raw: dict[str, Any], base: str | None) -> dict[str, Any]:
    fields = _dict(raw.get("fields"))
    issue_type = _dict(fields.get("issuetype"))
    status = _dict(fields.get("status"))
    assignee, assignee_id, assignee_email = _person(fields.get("assignee"))
    reporter, reporter_id, reporter_email = _person(fields.get("reporter"))
    key = raw.get("key")
    base = _base_url(raw.get("self")) or base
    return {
        "id": _text_id(raw.get("id")),
        "key": key,
        "url": f"{base}/browse/{key}" if base and key else None,
        "self": raw.get("self"),
        "summary": fields.get("summary"),
        "type": issue_type.get("name"),
        "subtask": bool(issue_type.get("subtask", False)),
        "status": status.get("name"),
        "status_category": _dict(status.get("statusCategory")).get("key"),
        "priority": _dict(fields.get("priority")).get("name"),
        "components": [c.get("name") for c in fields.get("components") or () if isinstance(c, dict)],
        "labels": list(fields.get("labels") or ()),
        "assignee": assignee,
        "assignee_id": assignee_id,
        "assignee_email": assignee_email,
        "reporter": reporter,
        "reporter_id": reporter_id,
        "reporter_email": reporter_email,
        "description": fields.get("description"),
        "environment": fields.get("environment"),
        "created": fields.get("created"),
        "updated": fields.get("updated"),
        "resolution": _dict(fields.get("resolution")).get("name"),
        "resolution_date": fields.get("resolutiondate"),
        "due_date": fields.get("duedate"),
        "fix_versions": [v.get("name") for v in fields.get("fixVersions") or () if isinstance(v, dict)],
        "parent": _dict(fields.get("parent")).get("key"),
        "project": _dict(fields.get("project")).get("key"),
        "fields": fields,
    }

"""Contexts built from raw Jira JSON: REST v3 (ADF, Cloud users) and v2 / Data Center (wiki, user names)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bridgeline.mapping import issue_context, normalize_issue, version_context

NOW = datetime(2024, 4, 29, 8, 0, tzinfo=UTC)

V3_ISSUE = {
    "id": "10101",
    "key": "PAY-101",
    "self": "https://acme.atlassian.net/rest/api/3/issue/10101",
    "fields": {
        "summary": "Tokenise stored cards",
        "issuetype": {"id": "10001", "name": "Story", "subtask": False},
        "status": {"name": "In Review", "statusCategory": {"key": "indeterminate"}},
        "priority": {"id": "1", "name": "Highest"},
        "components": [{"id": "1", "name": "Payments"}, {"id": "2", "name": "Vault"}],
        "labels": ["pci"],
        "assignee": {"accountId": "5b10ac8d", "displayName": "Jane Doe", "emailAddress": "jane@example.com"},
        "reporter": {"accountId": "5b10a284", "displayName": "Priya Raman"},
        "description": {"type": "doc", "version": 1, "content": []},
        "created": "2024-04-02T09:12:44.120+0200",
        "updated": "2024-04-29T16:03:10.004+0200",
        "resolution": {"name": "Done"},
        "resolutiondate": "2024-04-29T16:03:10.004+0200",
        "duedate": "2024-05-02",
        "fixVersions": [{"id": "10042", "name": "1.4.0"}],
        "parent": {"id": "10100", "key": "PAY-100"},
        "project": {"id": "10000", "key": "PAY", "name": "Payments"},
        "customfield_10020": 8,
    },
}

V2_ISSUE = {
    "id": "30411",
    "key": "INFRA-411",
    "self": "https://jira.calbro.example/rest/api/2/issue/30411",
    "fields": {
        "summary": "Replace the DC2 core switches",
        "issuetype": {"name": "Sub-task", "subtask": True},
        "status": {"name": "To Do", "statusCategory": {"key": "new"}},
        "assignee": {"name": "ian", "key": "JIRAUSER10300", "displayName": "Ian Plyment"},
        "reporter": {"key": "JIRAUSER10301", "displayName": "Mary Mann"},
        "description": "Swap *both* cores.",
        "project": {"id": "10300", "key": "INFRA", "name": "Infrastructure"},
    },
}


def test_a_v3_issue_is_normalized() -> None:
    issue = normalize_issue(V3_ISSUE)
    assert {k: v for k, v in issue.items() if k != "fields"} == {
        "id": "10101",
        "key": "PAY-101",
        "url": "https://acme.atlassian.net/browse/PAY-101",
        "self": "https://acme.atlassian.net/rest/api/3/issue/10101",
        "summary": "Tokenise stored cards",
        "type": "Story",
        "subtask": False,
        "status": "In Review",
        "status_category": "indeterminate",
        "priority": "Highest",
        "components": ["Payments", "Vault"],
        "labels": ["pci"],
        "assignee": "Jane Doe",
        "assignee_id": "5b10ac8d",
        "assignee_email": "jane@example.com",
        "reporter": "Priya Raman",
        "reporter_id": "5b10a284",
        "reporter_email": None,
        "description": {"type": "doc", "version": 1, "content": []},
        "environment": None,
        "created": "2024-04-02T09:12:44.120+0200",
        "updated": "2024-04-29T16:03:10.004+0200",
        "resolution": "Done",
        "resolution_date": "2024-04-29T16:03:10.004+0200",
        "due_date": "2024-05-02",
        "fix_versions": ["1.4.0"],
        "parent": "PAY-100",
        "project": "PAY",
    }
    assert issue["fields"]["customfield_10020"] == 8


def test_a_v2_data_center_issue_is_normalized_the_same_way() -> None:
    ctx = issue_context(V2_ISSUE, None, NOW)
    issue = ctx["issue"]
    assert issue["description"] == "Swap *both* cores."
    assert (issue["assignee"], issue["assignee_id"]) == ("Ian Plyment", "ian")
    assert issue["reporter_id"] == "JIRAUSER10301"
    assert (issue["type"], issue["subtask"], issue["priority"]) == ("Sub-task", True, None)
    assert issue["components"] == [] and issue["labels"] == [] and issue["fix_versions"] == []
    # the project comes from the issue when none is given
    assert ctx["project"]["key"] == "INFRA"
    assert ctx["project"]["url"] == "https://jira.calbro.example/browse/INFRA"


def test_a_search_result_with_only_some_fields_does_not_break() -> None:
    issue = normalize_issue({"id": "1", "key": "PAY-1", "fields": {"summary": "only this"}})
    assert issue["summary"] == "only this"
    assert issue["status"] is None and issue["url"] is None and issue["components"] == []


def test_the_release_context() -> None:
    version = {
        "self": "https://acme.atlassian.net/rest/api/3/version/10042",
        "id": "10042",
        "name": "1.4.0",
        "description": "Card tokenisation",
        "archived": False,
        "released": False,
        "overdue": True,
        "startDate": "2024-04-15",
        "releaseDate": "2024-05-03",
        "userReleaseDate": "03/May/24",
        "projectId": 10000,
    }
    project = {
        "self": "https://acme.atlassian.net/rest/api/3/project/10000",
        "id": "10000",
        "key": "PAY",
        "name": "Payments",
        "projectTypeKey": "software",
        "projectCategory": {"name": "Money"},
        "lead": {"accountId": "x", "displayName": "Priya Raman"},
    }
    ctx = version_context(version, project, [V3_ISSUE, V2_ISSUE], NOW)
    assert set(ctx) == {"version", "project", "issues", "now"}
    v = {k: val for k, val in ctx["version"].items() if k != "raw"}
    assert v == {
        "id": "10042",
        "name": "1.4.0",
        "description": "Card tokenisation",
        "released": False,
        "archived": False,
        "overdue": True,
        "release_date": "2024-05-03",
        "start_date": "2024-04-15",
        "user_release_date": "03/May/24",
        "user_start_date": None,
        "project_id": "10000",
        "self": "https://acme.atlassian.net/rest/api/3/version/10042",
        "url": "https://acme.atlassian.net/projects/PAY/versions/10042/tab/release-report-all-issues",
        "issue_count": 2,
    }
    assert ctx["version"]["raw"] is version
    p = ctx["project"]
    assert (p["key"], p["lead"], p["category"], p["type"]) == ("PAY", "Priya Raman", "Money", "software")
    assert [i["key"] for i in ctx["issues"]] == ["PAY-101", "INFRA-411"]
    assert ctx["now"] == NOW


def test_a_data_center_release_links_to_its_version_page() -> None:
    version = {"id": "10042", "name": "1.4.0", "self": "https://jira.calbro.example/rest/api/2/version/10042"}
    ctx = version_context(version, {"key": "INFRA"}, [], NOW)
    assert ctx["version"]["url"] == "https://jira.calbro.example/projects/INFRA/versions/10042"


def test_a_webhook_version_without_project_or_dates() -> None:
    ctx = version_context({"id": 10042, "name": "1.4.0", "projectId": 10000}, None, [], NOW)
    assert ctx["version"]["id"] == "10042"
    assert ctx["version"]["project_id"] == "10000"
    assert ctx["version"]["release_date"] is None and ctx["version"]["url"] is None
    assert ctx["project"]["key"] is None


def test_now_is_always_aware() -> None:
    naive = datetime(2024, 4, 29, 8, 0)
    assert version_context({"id": "1"}, None, [], naive)["now"] == NOW
    berlin = datetime(2024, 4, 29, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert issue_context(V3_ISSUE, None, berlin)["now"] == NOW
    with pytest.raises(TypeError):
        version_context({"id": "1"}, None, [], "2024-04-29")  # type: ignore[arg-type]

"""Cloud answers have the shapes Atlassian's published OpenAPI description documents.

Schemas are taken from ``jira-cloud-platform-openapi-v3.json`` with ``$ref`` resolved. Read-only
properties may be null: the description itself says so for several of them (a user's
``emailAddress`` and ``timeZone`` "may be returned as null"), and real Jira sends ``"from": null``
in changelog items.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from .conftest import Served

SPEC = Path("/work/shared/reference/jira-cloud-platform-openapi-v3.json")
if not SPEC.exists():  # the reference lives beside the repository in the development checkout
    SPEC = Path(__file__).resolve().parents[4] / "shared" / "reference" / SPEC.name

pytestmark = pytest.mark.skipif(not SPEC.exists(), reason="Jira OpenAPI description not available")


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if (out.get("nullable") or out.get("readOnly")) and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@functools.cache
def _registry() -> Registry:
    spec = _nullable(json.loads(SPEC.read_text()))
    return Registry().with_resource("spec.json", Resource(contents=spec, specification=DRAFT7))


def check(instance: Any, schema_name: str, *, array: bool = False) -> None:
    ref = {"$ref": f"spec.json#/components/schemas/{schema_name}"}
    schema = {"type": "array", "items": ref} if array else ref
    jsonschema.Draft7Validator(schema, registry=_registry()).validate(instance)


FIELD_SCHEMAS = {
    "status": "StatusDetails",
    "priority": "Priority",
    "issuetype": "IssueTypeDetails",
    "project": "ProjectDetails",
    "assignee": "UserDetails",
    "reporter": "UserDetails",
    "creator": "UserDetails",
    "resolution": "Resolution",
}


def check_issue(issue: dict[str, Any]) -> None:
    check(issue, "IssueBean")
    fields = issue["fields"]
    for name, schema in FIELD_SCHEMAS.items():
        if fields.get(name) is not None:
            check(fields[name], schema)
    for version in fields.get("fixVersions", []):
        check(version, "Version")
    for component in fields.get("components", []):
        check(component, "ProjectComponent")
    if "comment" in fields:
        check(fields["comment"], "PageOfComments")


@pytest.fixture
def v3(cloud: Served) -> httpx.Client:
    return cloud.client(path="/rest/api/3")


def test_server_info_and_fields(v3: httpx.Client) -> None:
    check(v3.get("/serverInfo").json(), "ServerInformation")
    fields = v3.get("/field").json()
    check(fields, "FieldDetails", array=True)
    assert {"fixVersions", "status", "updated"} <= {f["id"] for f in fields}


def test_search_jql_page_and_issues(v3: httpx.Client) -> None:
    page = v3.get(
        "/search/jql",
        params={"jql": "project = PAY ORDER BY updated DESC", "fields": "*all", "expand": "changelog,names"},
    ).json()
    check(page, "SearchAndReconcileResults")
    assert "total" not in page
    for issue in page["issues"]:
        check_issue(issue)


def test_issue_with_every_expansion(v3: httpx.Client) -> None:
    done = v3.get("/search/jql", params={"jql": "project = PAY AND status = Done", "maxResults": 1}).json()
    key = done["issues"][0]["id"]
    issue = v3.get(
        f"/issue/{key}", params={"expand": "changelog,renderedFields,names,transitions,schema"}
    ).json()
    check_issue(issue)
    assert [i["toString"] for h in issue["changelog"]["histories"] for i in h["items"]][:2] == [
        "Done",
        "Done",
    ]
    check(v3.get(f"/issue/{key}/changelog").json(), "PageBeanChangelog")


def test_versions(v3: httpx.Client) -> None:
    check(v3.get("/project/OPS/versions").json(), "Version", array=True)
    page = v3.get("/project/OPS/version", params={"maxResults": 2, "expand": "issuesstatus"}).json()
    check(page, "PageBeanVersion")
    version_id = page["values"][0]["id"]
    check(v3.get(f"/version/{version_id}").json(), "Version")
    check(v3.get(f"/version/{version_id}/relatedIssueCounts").json(), "VersionIssueCounts")
    check(v3.get(f"/version/{version_id}/unresolvedIssueCount").json(), "VersionUnresolvedIssuesCount")
    created = v3.post("/version", json={"name": "2099.1", "projectId": int(page["values"][0]["projectId"])})
    assert created.status_code == 201
    check(created.json(), "Version")
    released = v3.put(
        f"/version/{created.json()['id']}", json={"released": True, "releaseDate": "2099-01-31"}
    )
    check(released.json(), "Version")


def test_transitions_comments_links_properties(v3: httpx.Client) -> None:
    check(v3.get("/issue/WEB-2/transitions").json(), "Transitions")
    body = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "ok"}]}],
    }
    comment = v3.post("/issue/WEB-2/comment", json={"body": body})
    assert comment.status_code == 201
    check(comment.json(), "Comment")
    check(v3.get("/issue/WEB-2/comment").json(), "PageOfComments")
    link = v3.post("/issue/WEB-2/remotelink", json={"object": {"url": "https://x.example.com", "title": "X"}})
    check(link.json(), "RemoteIssueLinkIdentifies")
    for item in v3.get("/issue/WEB-2/remotelink").json():
        check(item, "RemoteIssueLink")
    assert v3.put("/issue/WEB-2/properties/bridgeline", json={"cab": "approved"}).status_code == 201
    check(v3.get("/issue/WEB-2/properties").json(), "PropertyKeys")
    check(v3.get("/issue/WEB-2/properties/bridgeline").json(), "EntityProperty")


def test_projects_users_created_issue_and_errors(v3: httpx.Client) -> None:
    check(v3.get("/project/PAY").json(), "Project")
    check(v3.get("/project").json(), "Project", array=True)
    check(v3.get("/project/search").json(), "PageBeanProject")
    check(v3.get("/myself").json(), "User")
    created = v3.post(
        "/issue", json={"fields": {"project": {"key": "PAY"}, "summary": "New", "issuetype": {"name": "Bug"}}}
    )
    check(created.json(), "CreatedIssue")
    missing = v3.get("/issue/PAY-99999")
    assert missing.status_code == 404
    check(missing.json(), "ErrorCollection")
    check(v3.get("/search/jql", params={"jql": "order by key"}).json(), "ErrorCollection")

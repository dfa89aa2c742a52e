"""Fix versions (releases): listing, paging and filtering, the documented fields, releasing."""

from __future__ import annotations

import re

import httpx

from .conftest import Served


def test_version_fields_as_documented(api: httpx.Client) -> None:
    versions = api.get("/rest/api/3/project/WEB/versions").json()
    assert isinstance(versions, list) and len(versions) == 4
    for version in versions:
        assert isinstance(version["id"], str) and isinstance(version["projectId"], int)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", version["releaseDate"])
        assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{2}", version["userReleaseDate"])
        assert version["self"].endswith(f"/rest/api/3/version/{version['id']}")
        assert ("overdue" in version) == (not version["released"])
    assert [v["overdue"] for v in versions if not v["released"]] == [True, False], (
        "WEB's next release is late"
    )
    assert api.get("/rest/api/3/project/NOPE/versions").status_code == 404


def test_paginated_versions_with_order_status_and_query(api: httpx.Client) -> None:
    page = api.get(
        "/rest/api/3/project/PAY/version", params={"maxResults": 3, "orderBy": "-releaseDate"}
    ).json()
    assert (page["total"], page["startAt"], page["maxResults"], page["isLast"]) == (4, 0, 3, False)
    assert [v["name"] for v in page["values"]] == ["3.4.0", "3.3.0", "3.2.0"]
    assert "startAt=3" in page["nextPage"]
    last = api.get(
        "/rest/api/3/project/PAY/version", params={"maxResults": 3, "startAt": 3, "orderBy": "-releaseDate"}
    )
    assert [v["name"] for v in last.json()["values"]] == ["3.1.0"] and last.json()["isLast"] is True
    unreleased = api.get("/rest/api/3/project/PAY/version", params={"status": "unreleased"}).json()["values"]
    assert [v["name"] for v in unreleased] == ["3.3.0", "3.4.0"]
    archived_or_released = api.get("/rest/api/3/project/PAY/version", params={"status": "released,archived"})
    assert [v["name"] for v in archived_or_released.json()["values"]] == ["3.1.0", "3.2.0"]
    assert [
        v["name"]
        for v in api.get("/rest/api/3/project/PAY/version", params={"query": "3.4"}).json()["values"]
    ] == ["3.4.0"]
    counts = api.get("/rest/api/3/project/PAY/version", params={"expand": "issuesstatus"}).json()["values"][0]
    assert set(counts["issuesStatusForFixVersion"]) == {"unmapped", "toDo", "inProgress", "done"}


def test_create_release_and_unrelease(cloud: Served, api: httpx.Client) -> None:
    pay = cloud.sim.state.project("PAY")
    assert pay is not None
    created = api.post(
        "/rest/api/3/version",
        json={
            "name": "3.5.0",
            "projectId": pay.id,
            "description": "Refund rework",
            "releaseDate": "2031-03-01",
        },
    )
    assert created.status_code == 201
    version = created.json()
    assert (version["released"], version["archived"], version["userReleaseDate"]) == (
        False,
        False,
        "01/Mar/31",
    )
    duplicate = api.post("/rest/api/3/version", json={"name": "3.5.0", "project": "PAY"})
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"] == {"name": "A version with this name already exists in this project."}
    bad_date = api.put(f"/rest/api/3/version/{version['id']}", json={"releaseDate": "01/03/2031"})
    assert bad_date.status_code == 400 and "releaseDate" in bad_date.json()["errors"]
    released = api.put(
        f"/rest/api/3/version/{version['id']}", json={"released": True, "releaseDate": "2031-03-02"}
    )
    assert released.status_code == 200
    assert (released.json()["released"], released.json()["releaseDate"]) == (True, "2031-03-02")
    assert "overdue" not in released.json()
    again = api.get(f"/rest/api/2/version/{version['id']}").json()
    assert again["released"] is True and again["self"].endswith(f"/rest/api/2/version/{version['id']}")
    assert (
        api.put(f"/rest/api/3/version/{version['id']}", json={"released": False}).json()["released"] is False
    )


def test_release_moves_unfixed_issues_on(cloud: Served, api: httpx.Client) -> None:
    with cloud.sim.state.lock:
        current = next(
            v for v in cloud.sim.state.versions.values() if v.name == "2026.3" or v.name.endswith(".3")
        )
        following = next(
            v
            for v in cloud.sim.state.versions.values()
            if v.project_id == current.project_id and v.sequence == current.sequence + 1
        )
        ids = cloud.sim.state.by_fix_version[current.id]
        open_keys = {
            cloud.sim.state.issues[i].key for i in ids if cloud.sim.state.issues[i].resolution is None
        }
        done_keys = {
            cloud.sim.state.issues[i].key for i in ids if cloud.sim.state.issues[i].resolution is not None
        }
    assert open_keys and done_keys
    counts = api.get(f"/rest/api/3/version/{current.id}/unresolvedIssueCount").json()
    assert (counts["issuesUnresolvedCount"], counts["issuesCount"]) == (
        len(open_keys),
        len(open_keys) + len(done_keys),
    )
    response = api.put(
        f"/rest/api/3/version/{current.id}",
        json={"released": True, "moveUnfixedIssuesTo": f"{cloud.url}/rest/api/3/version/{following.id}"},
    )
    assert response.status_code == 200
    remaining = api.get(
        "/rest/api/3/search/jql",
        params={"jql": f"fixVersion = {current.id}", "fields": "key", "maxResults": 500},
    )
    assert {i["key"] for i in remaining.json()["issues"]} == done_keys
    related = api.get(f"/rest/api/3/version/{following.id}/relatedIssueCounts").json()
    assert related["issuesFixedCount"] >= len(open_keys)


def test_delete_version_removes_it_from_issues(cloud: Served, api: httpx.Client) -> None:
    with cloud.sim.state.lock:
        version = next(
            v for v in cloud.sim.state.versions.values() if cloud.sim.state.by_fix_version.get(v.id)
        )
        affected = sorted(cloud.sim.state.issues[i].key for i in cloud.sim.state.by_fix_version[version.id])
    assert api.delete(f"/rest/api/3/version/{version.id}").status_code == 204
    assert api.get(f"/rest/api/3/version/{version.id}").status_code == 404
    fields = api.get(f"/rest/api/3/issue/{affected[0]}", params={"fields": "fixVersions"}).json()["fields"]
    assert str(version.id) not in [v["id"] for v in fields["fixVersions"]]
    unknown = api.get("/rest/api/3/search/jql", params={"jql": f"fixVersion = {version.id}"})
    assert unknown.status_code == 400

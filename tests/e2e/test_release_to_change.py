"""A Jira release becomes a ServiceNow change request with a task per issue, and stays in step."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bridgeline.store.tables import links
from bridgeline.sync.service import Service

from .conftest import PROJECTS, Sims


def open_versions(sims: Sims) -> list[tuple[str, dict[str, Any]]]:
    with sims.jira_api() as api:
        out = []
        for key in PROJECTS:
            for v in api.get(f"/project/{key}/versions").json():
                if not v["archived"] and not v["released"]:
                    out.append((key, v))
        return out


def issues_of(sims: Sims, version_id: str) -> list[dict[str, Any]]:
    with sims.jira_api() as api:
        body = api.get(
            "/search/jql",
            params={"jql": f"fixVersion = {version_id}", "fields": "summary", "maxResults": 500},
        ).json()
        return body["issues"]


def snow_records(sims: Sims, table: str, query: str) -> list[dict[str, Any]]:
    with sims.snow_api() as api:
        return api.get(
            f"/{table}", params={"sysparm_query": query, "sysparm_exclude_reference_link": "true"}
        ).json()["result"]


async def test_first_sync_creates_one_change_request_per_open_release(service: Service, sims: Sims) -> None:
    report = await service.converge()
    assert report.dead == 0 and report.pending == 0
    versions = open_versions(sims)
    assert versions, "the seed data has open releases"
    changes = snow_records(sims, "change_request", "correlation_idSTARTSWITHjira:")
    assert len(changes) == len(versions)
    by_corr = {c["correlation_id"]: c for c in changes}
    for key, version in versions:
        change = by_corr[f"jira:{key}:version:{version['id']}"]
        assert change["short_description"] == f"Release {key} {version['name']}"
        assert change["type"] == "normal"
        assert change["number"].startswith("CHG")
        issues = issues_of(sims, version["id"])
        for issue in issues:
            assert f"{issue['key']} {issue['fields']['summary']}" in change["description"]
        tasks = snow_records(sims, "change_task", f"change_request={change['sys_id']}")
        assert sorted(t["short_description"] for t in tasks) == sorted(
            f"{i['key']}: {i['fields']['summary']}" for i in issues
        )
    # one write per created record, nothing else
    created = sum(1 + len(issues_of(sims, v["id"])) for _, v in versions)
    assert len(sims.snow_calls.writes()) == created


async def test_second_sync_writes_nothing(service: Service, sims: Sims) -> None:
    await service.converge()
    sims.snow_calls.clear()
    audit_before = await service.store.last_audit_id()
    report = await service.converge()
    assert report.writes == 0
    assert sims.snow_calls.writes() == []
    assert await service.store.last_audit_id() == audit_before


async def test_editing_an_issue_sends_exactly_the_changed_fields(service: Service, sims: Sims) -> None:
    await service.converge()
    _key, version = open_versions(sims)[0]
    issue = issues_of(sims, version["id"])[0]
    with sims.jira_api() as api:
        assert (
            api.put(
                f"/issue/{issue['key']}", json={"fields": {"summary": "Retry card payments twice"}}
            ).status_code
            == 204
        )
    sims.snow_calls.clear()
    report = await service.converge()
    writes = sims.snow_calls.writes()
    assert report.writes == 2 and len(writes) == 2
    assert all(w["method"] == "PATCH" for w in writes)
    bodies = sorted(sorted(w["body"]) for w in writes)
    assert bodies == [["description"], ["short_description"]]
    [task_patch] = [w for w in writes if "short_description" in w["body"]]
    assert task_patch["body"]["short_description"] == f"{issue['key']}: Retry card payments twice"
    [cr_patch] = [w for w in writes if "description" in w["body"]]
    assert f"{issue['key']} Retry card payments twice" in cr_patch["body"]["description"]


async def test_issues_joining_and_leaving_a_release_add_and_cancel_tasks(
    service: Service, sims: Sims
) -> None:
    await service.converge()
    key, version = open_versions(sims)[0]
    leaving = issues_of(sims, version["id"])[0]
    with sims.jira_api() as api:
        created = api.post(
            "/issue",
            json={
                "fields": {
                    "project": {"key": key},
                    "issuetype": {"name": "Task"},
                    "summary": "Rotate the signing keys",
                    "fixVersions": [{"id": version["id"]}],
                }
            },
        )
        assert created.status_code == 201, created.text
        new_key = created.json()["key"]
        r = api.put(
            f"/issue/{leaving['key']}", json={"update": {"fixVersions": [{"remove": {"id": version["id"]}}]}}
        )
        assert r.status_code == 204, r.text
    await service.converge()
    [change] = snow_records(sims, "change_request", f"correlation_id=jira:{key}:version:{version['id']}")
    tasks = {
        t["short_description"].split(":")[0]: t
        for t in snow_records(sims, "change_task", f"change_request={change['sys_id']}")
    }
    assert tasks[new_key]["state"] == "1"
    assert tasks[leaving["key"]]["state"] == "4"
    assert "Removed from release" in tasks[leaving["key"]]["close_notes"]


async def test_a_lost_link_is_recovered_by_correlation_id_not_duplicated(
    service: Service, sims: Sims
) -> None:
    await service.converge()
    before = len(snow_records(sims, "change_request", "correlation_idSTARTSWITHjira:"))
    # as if the process died after creating records but before recording them
    async with service.store.engine.begin() as conn:
        await conn.execute(sa.delete(links))
    await service.store.enqueue([])  # nothing; the next poll sees no change, so force the releases
    from bridgeline.model import EntityRef, Event

    await service.store.enqueue(
        [Event(EntityRef("jira", "version", v["id"])) for _, v in open_versions(sims)]
    )
    sims.snow_calls.clear()
    report = await service.converge()
    assert report.dead == 0
    assert len(snow_records(sims, "change_request", "correlation_idSTARTSWITHjira:")) == before
    assert [w for w in sims.snow_calls.writes() if w["method"] == "POST"] == []
    assert await service.store.count_links(top_level=True) == before

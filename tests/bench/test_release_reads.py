"""Releases read at the same moment share their Jira calls, and read exactly what separate reads would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bridgeline.connectors.http import HttpClient
from bridgeline.connectors.jira import JiraClient
from bridgeline.connectors.jira.releases import ReleaseReader
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraScale, JiraSimulator

FIELDS = ["summary", "status", "issuetype", "priority", "project", "fixVersions", "updated"]


@pytest.fixture(scope="module")
def jira_url() -> Iterator[str]:
    sim = JiraSimulator(scale=JiraScale(projects=2, versions=12, issues=120))
    with ServedApp(sim.app) as served:
        yield served.url


@pytest.fixture
async def jira(jira_url: str) -> AsyncIterator[JiraClient]:
    http = HttpClient("jira", jira_url, auth=httpx.BasicAuth(*INTEGRATION_CLOUD))
    client = JiraClient(http, deployment="cloud")
    try:
        yield client
    finally:
        await client.aclose()


async def _versions(jira: JiraClient, project: str) -> list[str]:
    return [str(v["id"]) for v in await jira.project_versions(project)]


async def _alone(jira: JiraClient, version_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    version = await jira.version(version_id)
    issues = await jira.search_all(f"fixVersion = {version_id} ORDER BY key ASC", fields=FIELDS)
    return version, issues


async def test_releases_read_together_are_what_separate_reads_return_for_less(jira: JiraClient) -> None:
    ids = await _versions(jira, "PAY") + (await _versions(jira, "WEB"))[:2]
    expected = {vid: await _alone(jira, vid) for vid in ids}
    assert sum(len(issues) for _, issues in expected.values()) > 20  # the releases have issues to split

    reader = ReleaseReader(jira, projects=["PAY", "WEB"])
    before = jira.http.calls
    read = await asyncio.gather(*(reader.read(vid, fields=FIELDS) for vid in ids))
    together = jira.http.calls - before

    assert dict(zip(ids, read, strict=True)) == expected
    # two project listings and one search (a page holds them all), against two calls per release
    assert together == 3 < 2 * len(ids)

    before = jira.http.calls
    again = await asyncio.gather(*(reader.read(vid, fields=FIELDS) for vid in ids[:3]))
    assert again == [expected[vid] for vid in ids[:3]]
    assert jira.http.calls - before == 2  # where the versions live is known now: one listing, one search


async def test_a_release_read_alone_costs_what_it_always_did(jira: JiraClient) -> None:
    vid = (await _versions(jira, "WEB"))[0]
    reader = ReleaseReader(jira, projects=["PAY", "WEB"])
    before = jira.http.calls
    assert await reader.read(vid, fields=FIELDS) == await _alone(jira, vid)
    assert jira.http.calls - before == 4  # the version and its search, twice (ours and the reference)


async def test_a_deleted_release_reads_as_none_and_the_others_are_still_answered(
    jira: JiraClient, jira_url: str
) -> None:
    with httpx.Client(base_url=jira_url + "/rest/api/3", auth=("admin@example.com", "admin-token")) as admin:
        project = admin.get("/project/PAY").json()
        made = admin.post("/version", json={"projectId": int(project["id"]), "name": "short-lived"}).json()
        admin.delete(f"/version/{made['id']}").raise_for_status()
    kept = (await _versions(jira, "PAY"))[0]
    reader = ReleaseReader(jira, projects=["PAY"])
    gone, present = await asyncio.gather(
        reader.read(str(made["id"]), fields=FIELDS), reader.read(kept, fields=FIELDS)
    )
    assert gone is None
    assert present == await _alone(jira, kept)


async def test_a_project_of_many_versions_is_listed_only_for_enough_of_them(jira: JiraClient) -> None:
    ids = await _versions(jira, "PAY")
    assert len(ids) == 6
    expected = {vid: await _alone(jira, vid) for vid in ids[:3]}
    reader = ReleaseReader(jira, projects=["PAY"], per_listing=2)  # a listing of 6 is worth 3 reads
    await asyncio.gather(*(reader.read(vid, fields=FIELDS) for vid in ids[:3]))  # learns the project

    before = jira.http.calls
    read = await asyncio.gather(*(reader.read(vid, fields=FIELDS) for vid in ids[:2]))
    assert read == [expected[vid] for vid in ids[:2]]
    assert jira.http.calls - before == 3  # 2 * 2 < 6 listed: each version read, one search

    before = jira.http.calls
    read = await asyncio.gather(*(reader.read(vid, fields=FIELDS) for vid in ids[:3]))
    assert read == [expected[vid] for vid in ids[:3]]
    assert jira.http.calls - before == 2  # 3 * 2 >= 6: one listing, one search

"""The whole loop with the shipped mappings: a Jira release becomes a change, the CAB approves, Jira's
issues move on and hear about it, the change closes, the version is released - for ServiceNow through
the Table API and the Change Management API, and for Remedy. Repeated cycles write nothing new."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.config import settings_from_values
from bridgeline.model import Link
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraSimulator
from bridgeline.sim.remedy import INTEGRATION as REMEDY_INTEGRATION
from bridgeline.sim.remedy import RemedySimulator
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.sync.service import Service

from .conftest import E2E_SCALE

SHIPPED = Path(__file__).parents[2] / "mappings"
JIRA_ADMIN = ("admin@example.com", "admin-token")


class World:
    def __init__(self) -> None:
        self.jira = JiraSimulator(scale=E2E_SCALE)
        self.snow = ServiceNowSimulator()
        self.remedy = RemedySimulator(approval_statuses=("Scheduled For Approval",))

    def jira_api(self) -> httpx.Client:
        return httpx.Client(base_url=self.jira_url + "/rest/api/3", auth=JIRA_ADMIN, timeout=10)

    def snow_api(self) -> httpx.Client:
        return httpx.Client(base_url=self.snow_url + "/api/now/table", auth=("admin", "admin"), timeout=10)


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    with ServedApp(w.jira.app) as j, ServedApp(w.snow.app) as s, ServedApp(w.remedy.app) as r:
        w.jira_url, w.snow_url, w.remedy_url = j.url, s.url, r.url
        yield w


async def start(world: World, database_url: str, api: str) -> Service:
    settings = settings_from_values(
        {
            "database_url": database_url,
            "mappings": [SHIPPED],
            "jira": {
                "url": world.jira_url,
                "email": "bridgeline@example.com",
                "api_token": INTEGRATION_CLOUD[1],
                "projects": ["PAY", "WEB", "OPS"],
                "poll_overlap": 5,
            },
            "servicenow": {
                "url": world.snow_url,
                "username": "bridgeline.integration",
                "password": SERVICENOW_INTEGRATION[1],
                "api": api,
            },
            "remedy": {"url": world.remedy_url, "username": "bridgeline", "password": REMEDY_INTEGRATION[1]},
            "worker": {"concurrency": 4, "backoff_initial": 0.05, "backoff_max": 0.2, "max_attempts": 3},
        }
    )
    return await Service.start(settings)


@pytest.fixture(params=["table", "change"])
async def service(request: pytest.FixtureRequest, world: World, database_url: str) -> AsyncIterator[Service]:
    svc = await start(world, database_url, request.param)
    yield svc
    await svc.aclose()


async def release_links(service: Service, system: str) -> list[Link]:
    links = await service.store.list_links(limit=100, top_level=True)
    return sorted(
        (k for k in links if k.target.system == system and "release" in k.mapping),
        key=lambda k: str(k.extra.get("label")),
    )


def issues(world: World, version_id: str) -> dict[str, dict[str, Any]]:
    with world.jira_api() as api:
        body = api.get(
            "/search/jql",
            params={
                "jql": f"fixVersion = {version_id}",
                "maxResults": 200,
                "fields": "status,labels,issuetype",
            },
        ).json()
    return {i["key"]: i["fields"] for i in body["issues"]}


def comments(world: World, key: str) -> list[str]:
    with world.jira_api() as api:
        found = api.get(f"/issue/{key}/comment").json()["comments"]
    return [
        " ".join(t.get("text", "") for p in c["body"]["content"] for t in p.get("content", [])) for c in found
    ]


def remote_titles(world: World, key: str) -> list[str]:
    with world.jira_api() as api:
        return [k["object"]["title"] for k in api.get(f"/issue/{key}/remotelink").json()]


def version(world: World, version_id: str) -> dict[str, Any]:
    with world.jira_api() as api:
        return api.get(f"/version/{version_id}").json()


async def settled(service: Service) -> None:
    report = await service.converge()
    assert report.dead == 0, await service.store.inbox_rows(state="dead")
    again = await service.converge()
    assert again.writes == 0, "a repeated cycle wrote again"


async def test_servicenow_round_trip_from_release_to_released(service: Service, world: World) -> None:
    await settled(service)
    links = await release_links(service, "servicenow")

    def reviewed(version_id: str) -> set[str]:
        return {
            k
            for k, f in issues(world, version_id).items()
            if f["status"]["name"] == "In Review" and f["issuetype"]["name"] in ("Story", "Bug", "Task")
        }

    link = next(k for k in links if reviewed(k.source.id))  # a release with reviewed work in it
    rejected = next(k for k in links if k is not link)
    number = link.target.number or ""
    version_id = link.source.id
    before = issues(world, version_id)
    in_review = reviewed(version_id)
    with world.snow_api() as api:  # the change manager asks the CAB
        for sys_id in (link.target.id, rejected.target.id):
            api.patch(f"/change_request/{sys_id}", json={"state": "-4"}).raise_for_status()
    world.snow.approve(number, approver="alex.mercer", comment="Go")
    world.snow.reject(rejected.target.number or "", reason="No rollback plan")
    await settled(service)

    after = issues(world, version_id)
    for key in in_review:
        assert after[key]["status"]["name"] == "Ready for Release"
        assert sum(f"CAB approved {number}" in c for c in comments(world, key)) == 1
    for key, fields in after.items():
        if fields["issuetype"]["name"] in ("Story", "Bug", "Task"):
            assert any(t.startswith(number) for t in remote_titles(world, key)), key
    for key, fields in issues(world, rejected.source.id).items():
        if fields["issuetype"]["name"] not in ("Story", "Bug", "Task"):
            continue
        assert "cab-rejected" in fields["labels"]
        assert fields["status"]["name"] != "Ready for Release" or before.get(key, {}).get("status") is None
        assert any("No rollback plan" in c for c in comments(world, key))

    # ops implement, review and close the change; the release goes out in Jira
    assert not version(world, version_id)["released"]
    with world.snow_api() as api:
        for state in ("-1", "0"):
            api.patch(f"/change_request/{link.target.id}", json={"state": state}).raise_for_status()
        api.patch(
            f"/change_request/{link.target.id}",
            json={"state": "3", "close_code": "successful", "close_notes": "Deployed"},
        ).raise_for_status()
        closed = api.get(f"/change_request/{link.target.id}").json()["result"]
    await settled(service)
    assert version(world, version_id)["released"]
    # releasing the version changed what the mapping renders; the closed change takes none of it
    with world.snow_api() as api:
        now = api.get(f"/change_request/{link.target.id}").json()["result"]
    assert now["sys_mod_count"] == closed["sys_mod_count"] and now["state"] == "3"
    held = [e for e in await service.store.recent_audit(limit=500) if e.action == "held"]
    assert [e.target_number for e in held] == [number], held
    key = next(iter(in_review))
    assert any(t.startswith(f"{number} (closed)") for t in remote_titles(world, key))


async def test_remedy_round_trip_from_release_to_released(world: World, database_url: str) -> None:
    service = await start(world, database_url, "table")
    try:
        await settled(service)
        links = await release_links(service, "remedy")

        def reviewed(version_id: str) -> set[str]:
            return {k for k, f in issues(world, version_id).items() if f["status"]["name"] == "In Review"}

        link = next(k for k in links if reviewed(k.source.id))
        number = link.target.number or ""
        version_id = link.source.id
        in_review = reviewed(version_id)
        world.remedy.advance(number, "Scheduled For Approval")
        world.remedy.approve(number, comment="Infrastructure CAB: go")
        await settled(service)
        after = issues(world, version_id)
        for key in in_review:
            assert after[key]["status"]["name"] == "Ready for Release"
            assert sum(f"Remedy change {number} approved" in c for c in comments(world, key)) == 1
        world.remedy.advance(number, "Completed", status_reason="Successful")
        await settled(service)
        assert version(world, version_id)["released"]
        # and the change is recorded with the version (versions have no properties: on the project)
        with world.jira_api() as api:
            prop = api.get(f"/project/OPS/properties/bridgeline.remedy.{version_id}").json()
        assert prop["value"]["change"] == number and prop["value"]["status"] == "Completed"
    finally:
        await service.aclose()

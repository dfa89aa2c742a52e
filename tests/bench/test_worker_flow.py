"""The running service starts work the moment events are stored (a webhook's, a replayed dead
letter's), not at the workers' next look at the inbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.config import settings_from_values
from bridgeline.model import EntityRef, Event
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraScale, JiraSimulator
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.sync.service import Service

JIRA_ADMIN = ("admin@example.com", "admin-token")
MAPPING = """\
apiVersion: bridgeline/v1
kind: Mapping
metadata: {name: flow-release}
source: {system: jira, entity: version, projects: [PAY]}
target: {system: servicenow, record: change_request}
identity: "jira:{{ project.key }}:version:{{ version.id }}"
fields: {short_description: "Release {{ project.key }} {{ version.name }}"}
children:
  tasks:
    for_each: issues
    identity: "jira:{{ project.key }}:version:{{ version.id }}:issue:{{ issue.id }}"
    target: {system: servicenow, record: change_task}
    fields: {short_description: "{{ issue.key }}: {{ issue.summary }}"}
"""
AN_HOUR = 3600.0


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[str, str]]:
    jira = JiraSimulator(scale=JiraScale(projects=1, versions=2, issues=10))
    snow = ServiceNowSimulator()
    with ServedApp(jira.app) as j, ServedApp(snow.app) as s:
        yield j.url, s.url


@pytest.fixture
async def service(sims: tuple[str, str], tmp_path: Path) -> AsyncIterator[Service]:
    """The service with every timer an hour long: only stored events can set it to work."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "release.yaml").write_text(MAPPING, encoding="utf-8")
    jira_url, snow_url = sims
    settings = settings_from_values(
        {
            "database_url": f"sqlite:///{tmp_path / 'bridgeline.db'}",
            "mappings": [str(tmp_path / "mappings")],
            "jira": {
                "url": jira_url,
                "email": "bridgeline@example.com",
                "api_token": INTEGRATION_CLOUD[1],
                "projects": ["PAY"],
                "poll_interval": AN_HOUR,
            },
            "servicenow": {
                "url": snow_url,
                "username": "admin",
                "password": "admin",
                "poll_interval": AN_HOUR,
            },
            "worker": {"concurrency": 2, "poll_idle": AN_HOUR},
            "log_level": "warning",
        }
    )
    service = await Service.start(settings)
    try:
        yield service
    finally:
        await service.aclose()


def _new_release(jira_url: str, name: str) -> str:
    with httpx.Client(base_url=jira_url + "/rest/api/3", auth=JIRA_ADMIN, timeout=10) as api:
        project = api.get("/project/PAY").json()
        version = api.post("/version", json={"projectId": int(project["id"]), "name": name}).json()
    return str(version["id"])


async def _until(predicate: Any, what: str, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen")


async def _done(service: Service, version_id: str) -> bool:
    row = await service.store.inbox_row(str(EntityRef("jira", "version", version_id)))
    return row is not None and row.state == "done"


async def test_events_stored_while_the_workers_idle_are_taken_at_once(
    service: Service, sims: tuple[str, str]
) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    try:
        await _until(lambda: _idle(service), "the first poll's work")  # the workers wait an hour now
        version_id = _new_release(sims[0], "announced")
        await service.store.enqueue([Event(EntityRef("jira", "version", version_id), source="webhook")])
        await _until(lambda: _done(service, version_id), "the announced release's change request")
    finally:
        stop.set()
        await running


async def _idle(service: Service) -> bool:
    depth = await service.store.queue_depth()
    return depth.get("done", 0) >= 2 and not depth.get("pending")

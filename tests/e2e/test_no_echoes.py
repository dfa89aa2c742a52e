"""No echoes, no loops: with pollers and webhooks from both sides active, bridgeline's own writes never
come back as new work. Twenty cycles with activity early on; the number of writes settles to zero."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from bridgeline.server import create_app
from bridgeline.sim.jira import INTEGRATION_CLOUD
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.sync.service import Service

from .conftest import Sims, make_settings

SHIPPED = Path(__file__).parents[2] / "mappings"
JIRA_SECRET = "jira-webhook-secret-1"
SNOW_SECRET = "snow-notification-secret-1"


@pytest.fixture
async def running(sims: Sims, database_url: str) -> AsyncIterator[tuple[Service, str]]:
    settings = make_settings(
        sims,
        database_url,
        SHIPPED,
        jira={
            "url": sims.jira_url,
            "email": "bridgeline@example.com",
            "api_token": INTEGRATION_CLOUD[1],
            "projects": ["PAY", "WEB"],
            "poll_overlap": 5,
            "webhook_secret": JIRA_SECRET,
        },
        servicenow={
            "url": sims.snow_url,
            "username": "bridgeline.integration",
            "password": SERVICENOW_INTEGRATION[1],
            "webhook_secret": SNOW_SECRET,
        },
    )
    service = await Service.start(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), lifespan="off", log_config=None, access_log=False)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    # both sides call bridgeline: Jira's webhook, and ServiceNow's Business Rule
    with httpx.Client(base_url=sims.jira_url, auth=("admin@example.com", "admin-token")) as api:
        api.post(
            "/rest/webhooks/1.0/webhook",
            json={
                "name": "bridgeline",
                "url": url + "/webhooks/jira",
                "secret": JIRA_SECRET,
                "events": [
                    "jira:issue_created",
                    "jira:issue_updated",
                    "comment_created",
                    "jira:version_updated",
                    "jira:version_released",
                ],
                "filters": {"issue-related-events-section": "project in (PAY, WEB)"},
            },
        ).raise_for_status()
    sims.snow.register_outbound(url + "/webhooks/servicenow", secret=SNOW_SECRET)
    yield service, url
    server.should_exit = True
    await serving
    await service.aclose()


async def _quiet(sims: Sims) -> None:
    """Let the simulators' deliveries reach bridgeline before the next cycle."""
    await asyncio.to_thread(sims.jira.wait_for_webhooks, 10)
    await asyncio.to_thread(sims.snow.wait_for_outbox, 10)


async def test_twenty_cycles_with_pollers_and_webhooks_settle_to_zero_writes(
    running: tuple[Service, str], sims: Sims
) -> None:
    service, _url = running
    writes: list[int] = []
    webhook_events = 0
    for cycle in range(20):
        if cycle == 2:  # the CAB approves one change and rejects another
            links = sorted(await service.store.list_links(limit=50, top_level=True), key=lambda k: k.key)
            releases = [k for k in links if k.mapping == "servicenow-release"]
            with sims.snow_api() as api:
                for link in releases[:2]:
                    api.patch(f"/change_request/{link.target.id}", json={"state": "-4"}).raise_for_status()
            sims.snow.approve(releases[0].target.number or "")
            sims.snow.reject(releases[1].target.number or "", reason="Not this week")
        if cycle == 4:  # a developer renames an issue of a release
            tasks = await service.store.children_of(releases[0].id or 0)
            issue = sims.jira.state.issue(tasks[0].source.id)
            assert issue is not None
            key = issue.key
            with sims.jira_api() as api:
                api.put(
                    f"/issue/{key}", json={"fields": {"summary": "Renamed during the loop"}}
                ).raise_for_status()
        await _quiet(sims)
        before = {r.entity for r in await service.store.inbox_rows(limit=10000) if r.source == "webhook"}
        report = await service.sync_once()
        assert report.dead == 0, await service.store.inbox_rows(state="dead")
        webhook_events += len(before)
        writes.append(report.writes)
    assert all(writes[c] > 0 for c in (0, 2, 4)), f"the activity caused writes: {writes}"
    assert webhook_events > 0, "the webhooks carried events"
    assert writes[-10:] == [0] * 10, f"writes per cycle: {writes}"

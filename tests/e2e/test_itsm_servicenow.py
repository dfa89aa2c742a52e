"""A Jira release becomes a ServiceNow change with tasks, through the Table API and through the Change
Management API; refused states, OAuth expiry and the CAB's answer coming back, end to end over sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bridgeline.config import settings_from_values
from bridgeline.model import EntityRef, Event
from bridgeline.sim.jira import INTEGRATION_CLOUD
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.sync.service import Service

from .conftest import Sims

MAPPINGS = Path(__file__).parent / "mappings_itsm"
VERSION = "10003"  # PAY 3.3.0 in the Jira simulator's seed
CORR = f"jira:PAY:version:{VERSION}"

StartService = Callable[..., Awaitable[Service]]


@pytest.fixture
async def start(sims: Sims, database_url: str) -> AsyncIterator[StartService]:
    started: list[Service] = []

    async def go(mappings: str, **servicenow: Any) -> Service:
        settings = settings_from_values(
            {
                "database_url": database_url,
                "mappings": [MAPPINGS / mappings],
                "jira": {
                    "url": sims.jira_url,
                    "email": "bridgeline@example.com",
                    "api_token": INTEGRATION_CLOUD[1],
                    "projects": ["PAY"],
                    "poll_overlap": 5,
                },
                "servicenow": {
                    "url": sims.snow_url,
                    "username": "bridgeline.integration",
                    "password": SERVICENOW_INTEGRATION[1],
                    **servicenow,
                },
                "worker": {"concurrency": 4, "backoff_initial": 0.05, "backoff_max": 0.2, "max_attempts": 3},
            }
        )
        service = await Service.start(settings)
        started.append(service)
        return service

    yield go
    for service in started:
        await service.aclose()


def changes(sims: Sims) -> list[dict[str, Any]]:
    with sims.snow_api() as api:
        return api.get(
            "/change_request",
            params={"sysparm_query": f"correlation_id={CORR}", "sysparm_exclude_reference_link": "true"},
        ).json()["result"]


def tasks_of(sims: Sims, sys_id: str) -> list[dict[str, Any]]:
    with sims.snow_api() as api:
        return api.get(
            "/change_task",
            params={"sysparm_query": f"change_request={sys_id}", "sysparm_exclude_reference_link": "true"},
        ).json()["result"]


def issue_count(sims: Sims) -> int:
    with sims.jira_api() as api:
        found = api.get("/search/jql", params={"jql": f"fixVersion = {VERSION}", "maxResults": 500}).json()
    return len(found["issues"])


def calls(sims: Sims, method: str, path: str) -> int:
    return sum(1 for c in sims.snow_calls.calls if c["method"] == method and c["path"] == path)


def group_id(sims: Sims, name: str) -> str:
    return sims.snow.state.find("sys_user_group", name=name)[0]["sys_id"]


async def test_table_api_release_becomes_a_change_in_assess_with_a_task_per_issue(
    start: StartService, sims: Sims
) -> None:
    service = await start("table")
    report = await service.sync_once()
    assert report.dead == 0 and report.pending == 0
    [change] = changes(sims)
    assert change["short_description"] == "Release PAY 3.3.0" and change["type"] == "normal"
    assert change["state"] == "-4" and change["approval"] == "requested"  # walked New -> Assess; CAB asked
    assert change["assignment_group"] == group_id(sims, "Payments Platform")
    tasks = tasks_of(sims, change["sys_id"])
    assert len(tasks) == issue_count(sims) > 1
    assert {t["assignment_group"] for t in tasks} == {group_id(sims, "Change Management")}
    # each name was looked up once, however many records carry it
    assert calls(sims, "GET", "/api/now/table/sys_user_group") == 2
    notes = sims.snow.state.journal(change["sys_id"], element="work_notes")
    assert len(notes) == 1 and notes[0]["value"].startswith("Issues: PAY-")
    # the next cycle writes nothing: no duplicate work note, no state move, no task
    sims.snow_calls.clear()
    again = await service.sync_once()
    assert again.writes == 0 and sims.snow_calls.writes() == []


async def test_change_api_release_becomes_a_normal_change_with_tasks_under_it(
    start: StartService, sims: Sims
) -> None:
    service = await start("change_api")
    report = await service.sync_once()
    assert report.dead == 0 and report.pending == 0
    [change] = changes(sims)
    assert change["type"] == "normal" and change["state"] == "-5"
    assert calls(sims, "POST", "/api/sn_chg_rest/change/normal") == 1
    # the tasks in one Batch API call, each under the change as the Change API makes them
    assert calls(sims, "POST", "/api/now/v1/batch") == 1
    carried = [c for c in sims.snow_calls.requests() if c.get("batched")]
    assert [c["path"] for c in carried] == [f"/api/sn_chg_rest/change/{change['sys_id']}/task"] * issue_count(
        sims
    )
    assert calls(sims, "GET", "/api/sn_chg_rest/change") == 0  # nothing was begun before: no lookup
    assert len(tasks_of(sims, change["sys_id"])) == issue_count(sims)
    assert calls(sims, "POST", "/api/now/table/change_request") == 0


async def test_a_refused_state_is_a_dead_letter_with_a_clear_audit_entry_not_a_loop(
    start: StartService, sims: Sims
) -> None:
    service = await start("refused")
    report = await service.sync_once()
    assert report.dead == 1 and report.pending == 0
    [change] = changes(sims)
    assert change["state"] == "-3"  # as far as the model goes without the CAB
    [dead] = await service.store.inbox_rows(state="dead")
    assert dead.entity == f"jira:version:{VERSION}"
    assert "refused to move normal change" in (dead.last_error or "")
    audit = [a for a in await service.store.recent_audit(limit=50) if a.action == "dead_letter"]
    assert len(audit) == 1 and audit[0].outcome == "error"
    assert f"{change['number']} from Authorize to Scheduled on the way to Implement" in (
        audit[0].detail or ""
    )
    assert "Approval is Approved" in (audit[0].detail or "")
    # nothing retries it by itself: the next cycles leave the instance alone
    sims.snow_calls.clear()
    await service.sync_once()
    await service.sync_once()
    assert sims.snow_calls.writes() == []
    assert len(changes(sims)) == 1


async def test_an_oauth_token_expiring_mid_run_is_invisible(start: StartService, sims: Sims) -> None:
    oauth = {"grant": "password", "client_id": "bridgeline-client", "client_secret": "bridgeline-secret"}
    service = await start("change_api", oauth=oauth)
    first = await service.sync_once()
    assert first.dead == 0 and first.pending == 0
    sims.snow.clock.advance(3600)  # the instance's clock: the token expired there, not in our books
    with sims.jira_api() as api:
        key = api.get("/search/jql", params={"jql": f"fixVersion = {VERSION}", "fields": "summary"}).json()[
            "issues"
        ][0]["key"]
        api.put(f"/issue/{key}", json={"fields": {"summary": "Rotate keys"}}).raise_for_status()
    sims.snow_calls.clear()
    sims.snow.state.clear_calls()
    second = await service.sync_once()
    assert second.dead == 0 and second.pending == 0 and second.writes == 1
    assert [c["status"] for c in sims.snow.state.calls].count(401) == 1  # the old token, refused once
    tokens = [c for c in sims.snow_calls.calls if c["path"] == "/oauth_token.do"]
    assert len(tokens) == 1  # one new token after the 401, then the write went through
    patches = [c for c in sims.snow_calls.writes() if c["method"] == "PATCH"]
    assert len(patches) == 1 and patches[0]["body"] == {"short_description": f"{key}: Rotate keys"}
    users = {
        c.get("user")
        for c in sims.snow.state.calls
        if c["method"] == "PATCH" or c["path"] == "/api/now/v1/batch"
    }
    assert users == {"bridgeline.integration"}


async def test_the_cabs_answer_comes_back_as_an_event_for_the_change(start: StartService, sims: Sims) -> None:
    service = await start("table")
    await service.sync_once()
    [change] = changes(sims)
    sims.snow.approve(change["number"], approver="alex.mercer", comment="CAB 2026-11-20")
    report = await service.sync_once()
    assert report.dead == 0
    row = await service.store.inbox_row(f"servicenow:change_request:{change['sys_id']}")
    assert row is not None and row.state == "done" and row.source == "poll"
    link = await service.store.link_by_target("servicenow", change["sys_id"])
    assert link is not None
    read = await service.targets["servicenow"].read(link.target)
    assert read["state"] == "scheduled" and read["approval"] == "approved"
    assert read["approver"] == "Alex Mercer" and read["approval_comment"] == "CAB 2026-11-20"
    # a notification of the same change is one more event for the same entity, not a second row
    await service.store.enqueue(
        [Event(EntityRef("servicenow", "change_request", change["sys_id"]), source="webhook")]
    )
    entity = f"servicenow:change_request:{change['sys_id']}"
    assert len([r for r in await service.store.inbox_rows() if r.entity == entity]) == 1

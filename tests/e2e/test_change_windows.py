"""Planned windows that stay put: the emergency change's "from now for four hours" is written once, and
a release's window follows the release date only until the CAB approves it - end to end over sockets."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridgeline.model import EntityRef, Event, utcnow
from bridgeline.sync.service import Service

from .conftest import Sims, make_settings
from .test_release_to_change import open_versions

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"

Start = Callable[[str], Awaitable[Service]]


@pytest.fixture
async def start(sims: Sims, database_url: str, tmp_path: Path) -> AsyncIterator[Start]:
    """``await start("servicenow-hotfix")``: the service with only that shipped mapping."""
    started: list[Service] = []

    async def go(name: str) -> Service:
        folder = tmp_path / "mappings"
        folder.mkdir()
        shutil.copy(SHIPPED / f"{name}.yaml", folder)
        service = await Service.start(make_settings(sims, database_url, folder))
        started.append(service)
        return service

    yield go
    for service in started:
        await service.aclose()


def changes(sims: Sims, query: str) -> list[dict[str, Any]]:
    with sims.snow_api() as api:
        params = {"sysparm_query": query, "sysparm_exclude_reference_link": "true"}
        result: list[dict[str, Any]] = api.get("/change_request", params=params).json()["result"]
        return result


def window(change: dict[str, Any]) -> tuple[str, str]:
    return change["start_date"], change["end_date"]


def next_second(after: str) -> None:
    """Wait until the clock shows a later second than ``after`` (a ServiceNow date-time)."""
    while utcnow().strftime("%Y-%m-%d %H:%M:%S") <= after:
        time.sleep(0.05)


async def test_editing_a_hotfix_after_its_emergency_change_was_made_does_not_move_the_window(
    start: Start, sims: Sims
) -> None:
    service = await start("servicenow-hotfix")
    with sims.jira_api() as api:
        created = api.post(
            "/issue",
            json={
                "fields": {
                    "project": {"key": "PAY"},
                    "issuetype": {"name": "Bug"},
                    "summary": "Card payments time out",
                    "priority": {"name": "Highest"},
                    "labels": ["hotfix"],
                    "customfield_10050": "Every card payment fails since the last deploy.",
                }
            },
        )
        assert created.status_code == 201, created.text
        issue = created.json()
    await service.converge()
    query = f"correlation_id=jira:PAY:issue:{issue['id']}:emergency"
    (change,) = changes(sims, query)
    planned = window(change)
    assert planned[0] < planned[1]

    next_second(planned[0])  # "now" has moved on: a window planned again would differ
    sims.snow_calls.clear()
    with sims.jira_api() as api:
        edited = api.put(
            f"/issue/{issue['key']}",
            json={
                "fields": {"summary": "Card payments time out for Visa"},
                "update": {"labels": [{"add": "payments"}]},
            },
        )
        assert edited.status_code == 204, edited.text
    report = await service.converge()
    assert report.dead == 0

    (after,) = changes(sims, query)
    assert after["short_description"] == f"HOTFIX {issue['key']}: Card payments time out for Visa"
    assert window(after) == planned  # the window the ECAB saw stays
    sent = [c["body"] for c in sims.snow_calls.writes() if c["method"] in ("PATCH", "PUT")]
    assert sent, "the edit was written"
    assert all("start_date" not in body and "end_date" not in body for body in sent)


async def test_a_release_window_follows_the_release_date_until_the_cab_approves_it(
    start: Start, sims: Sims
) -> None:
    service = await start("servicenow-release")
    await service.converge()
    _key, version = next((k, v) for k, v in open_versions(sims) if k == "PAY" and v.get("releaseDate"))
    query = f"correlation_id=jira:PAY:version:{version['id']}"
    (change,) = changes(sims, query)
    first = window(change)

    def move_release(days: int) -> None:
        moved = date.fromisoformat(version["releaseDate"]) + timedelta(days=days)
        with sims.jira_api() as api:
            answer = api.put(f"/version/{version['id']}", json={"releaseDate": moved.isoformat()})
            assert answer.status_code == 200, answer.text

    move_release(7)  # not approved yet: the window moves with the release
    await service.converge()
    (change,) = changes(sims, query)
    proposed = window(change)
    assert proposed != first and proposed[0] < proposed[1]

    with sims.snow_api() as api:
        assert api.patch(f"/change_request/{change['sys_id']}", json={"state": "-4"}).status_code == 200
    sims.snow.approve(change["number"])
    await service.store.enqueue([Event(EntityRef("servicenow", "change_request", change["sys_id"]))])
    await service.converge()

    move_release(14)  # approved: the window the CAB approved stays
    sims.snow_calls.clear()
    report = await service.converge()
    assert report.dead == 0
    (change,) = changes(sims, query)
    assert window(change) == proposed
    patches = [c["body"] for c in sims.snow_calls.writes() if c["method"] in ("PATCH", "PUT")]
    assert all("start_date" not in body and "end_date" not in body for body in patches)
    assert "Jira release" in change["description"] and version["name"] in change["description"]


async def test_an_emergency_change_found_again_after_its_link_was_lost_keeps_its_window(
    start: Start, sims: Sims, tmp_path: Path
) -> None:
    first = await start("servicenow-hotfix")
    with sims.jira_api() as api:
        created = api.post(
            "/issue",
            json={
                "fields": {
                    "project": {"key": "WEB"},
                    "issuetype": {"name": "Bug"},
                    "summary": "Checkout blank on Safari",
                    "priority": {"name": "Highest"},
                    "labels": ["hotfix"],
                    "customfield_10050": "Nobody on Safari can pay.",
                }
            },
        )
        assert created.status_code == 201, created.text
        issue = created.json()
    await first.converge()
    query = f"correlation_id=jira:WEB:issue:{issue['id']}:emergency"
    (change,) = changes(sims, query)
    planned = window(change)
    next_second(planned[0])

    # a second bridgeline on an empty database, told the instance has records of an earlier one: it
    # finds the change by correlation id and adopts it
    settings = make_settings(sims, f"sqlite:///{tmp_path / 'again.db'}", tmp_path / "mappings")
    assert settings.servicenow is not None
    settings.servicenow = settings.servicenow.model_copy(update={"look_before_create": "always"})
    again = await Service.start(settings)
    try:
        await again.converge()
    finally:
        await again.aclose()
    (adopted,) = changes(sims, query)
    assert adopted["sys_id"] == change["sys_id"]
    assert window(adopted) == planned

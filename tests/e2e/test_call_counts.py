"""What a new release costs in calls, counted by the simulators: one ServiceNow call per new change
request, the change's tasks in one Batch API call (one call each where the instance has no Batch API,
and only the writes a batch left out sent again), and at most two Jira reads, none by the way back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bridgeline.model import EntityRef, Event
from bridgeline.sync.service import Service

from .conftest import Sims, make_settings

VERSION = "10003"  # PAY 3.3.0 in the Jira simulator's seed

HEAD = """\
apiVersion: bridgeline/v1
kind: Mapping
metadata: {name: counted}
source: {system: jira, entity: version, projects: [PAY], when: 'version.name == "3.3.0"'}
target: {system: servicenow, record: change_request}
identity: "jira:{{ project.key }}:version:{{ version.id }}"
fields:
  short_description: "Release {{ project.key }} {{ version.name }}"
"""
TASKS = """\
children:
  tasks:
    for_each: issues
    identity: "jira:{{ project.key }}:version:{{ version.id }}:issue:{{ issue.id }}"
    target: {system: servicenow, record: change_task}
    fields:
      short_description: "{{ issue.key }}: {{ issue.summary }}"
    on_remove: cancel
"""
REVERSE = """\
reverse:
  - name: approved
    when: target.approval == "approved"
    actions:
      - comment: "CAB approved {{ link.number }}."
"""

Start = Callable[..., Awaitable[Service]]


@pytest.fixture
async def start(sims: Sims, database_url: str, tmp_path: Path) -> AsyncIterator[Start]:
    started: list[Service] = []

    async def go(
        mapping: str, database: str | None = None, worker: dict[str, Any] | None = None, **servicenow: Any
    ) -> Service:
        folder = tmp_path / f"mappings{len(started)}"
        folder.mkdir()
        (folder / "counted.yaml").write_text(mapping)
        settings = make_settings(sims, database or database_url, folder)
        if worker:
            settings.worker = settings.worker.model_copy(update=worker)
        if servicenow:
            assert settings.servicenow is not None
            settings.servicenow = settings.servicenow.model_copy(update=servicenow)
        service = await Service.start(settings)
        started.append(service)
        return service

    yield go
    for service in started:
        await service.aclose()


async def _announce(service: Service, sims: Sims) -> None:
    """The release announced by a webhook (no poll), worked until nothing is due."""
    sims.snow_calls.clear()
    sims.jira_calls.clear()
    await service.store.enqueue([Event(EntityRef("jira", "version", VERSION), source="webhook")])
    await service.drain()
    assert await service.store.queue_depth() == {"done": 2}


def _issues(sims: Sims) -> int:
    with sims.jira_api() as api:
        found = api.get("/search/jql", params={"jql": f"fixVersion = {VERSION}", "maxResults": 500}).json()
    return len(found["issues"])


def _api_calls(sims: Sims) -> list[tuple[str, str]]:
    return [(c["method"], c["path"]) for c in sims.snow_calls.calls if c["path"].startswith("/api/")]


@pytest.mark.parametrize("reverse", [False, True], ids=["no-reverse-rules", "reverse-rules"])
async def test_a_new_change_request_costs_one_servicenow_call_and_two_jira_reads(
    start: Start, sims: Sims, reverse: bool
) -> None:
    service = await start(HEAD + (REVERSE if reverse else ""))
    await _announce(service, sims)
    # no lookup by correlation id (nothing was ever begun for it), no read-back for the way back
    assert _api_calls(sims) == [("POST", "/api/now/table/change_request")]
    jira = [(c["method"], c["path"].split("/rest/api/3")[-1]) for c in sims.jira_calls.calls]
    assert ("GET", f"/version/{VERSION}") in jira and ("GET", "/search/jql") in jira
    assert len([c for c in jira if c[1] != "/project/10001"]) == 2  # the project is cached for minutes
    [change] = sims.snow.state.find("change_request", correlation_id=f"jira:PAY:version:{VERSION}")
    link = await service.store.link_by_target("servicenow", change["sys_id"])
    assert link is not None and link.seen is not None  # the way back ran, on the create's own answer


async def test_a_release_with_tasks_costs_the_create_and_one_batch(start: Start, sims: Sims) -> None:
    service = await start(HEAD + TASKS)
    await _announce(service, sims)
    assert _api_calls(sims) == [("POST", "/api/now/table/change_request"), ("POST", "/api/now/v1/batch")]
    carried = [c for c in sims.snow_calls.requests() if c.get("batched")]
    assert len(carried) == _issues(sims) > 1
    assert {(c["method"], c["path"]) for c in carried} == {("POST", "/api/now/table/change_task")}
    [change] = sims.snow.state.find("change_request", correlation_id=f"jira:PAY:version:{VERSION}")
    assert len(sims.snow.state.find("change_task", change_request=change["sys_id"])) == _issues(sims)

    # an issue edited: its task's update travels in a batch too; the rest is not touched
    with sims.jira_api() as api:
        key = api.get("/search/jql", params={"jql": f"fixVersion = {VERSION}", "fields": "summary"}).json()[
            "issues"
        ][0]["key"]
        api.put(f"/issue/{key}", json={"fields": {"summary": "Rotate keys"}}).raise_for_status()
    sims.snow_calls.clear()
    await service.store.enqueue([Event(EntityRef("jira", "version", VERSION), source="webhook")])
    await service.drain()
    assert _api_calls(sims) == [("POST", "/api/now/v1/batch")]
    [patch] = [c for c in sims.snow_calls.requests() if c.get("batched")]
    assert patch["method"] == "PATCH" and patch["body"] == {"short_description": f"{key}: Rotate keys"}


async def test_an_instance_without_the_batch_api_gets_one_call_per_task(start: Start, sims: Sims) -> None:
    sims.snow.settings.batch_api = False
    service = await start(HEAD + TASKS)
    await _announce(service, sims)
    calls = _api_calls(sims)
    assert calls.count(("POST", "/api/now/v1/batch")) == 1  # asked once, then remembered
    assert calls.count(("POST", "/api/now/table/change_task")) == _issues(sims)
    [change] = sims.snow.state.find("change_request", correlation_id=f"jira:PAY:version:{VERSION}")
    assert len(sims.snow.state.find("change_task", change_request=change["sys_id"])) == _issues(sims)


async def test_batches_can_be_turned_off(start: Start, sims: Sims) -> None:
    service = await start(HEAD + TASKS, batch=False)
    await _announce(service, sims)
    calls = _api_calls(sims)
    assert ("POST", "/api/now/v1/batch") not in calls
    assert calls.count(("POST", "/api/now/table/change_task")) == _issues(sims)


async def test_what_a_batch_left_unserviced_is_sent_on_its_own_once(start: Start, sims: Sims) -> None:
    sims.snow.settings.batch_time_limit = 0.0  # the instance cuts the batch after its first item
    service = await start(HEAD + TASKS)
    await _announce(service, sims)
    calls = _api_calls(sims)
    assert calls.count(("POST", "/api/now/v1/batch")) == 1
    assert calls.count(("POST", "/api/now/table/change_task")) == _issues(sims) - 1
    [change] = sims.snow.state.find("change_request", correlation_id=f"jira:PAY:version:{VERSION}")
    tasks = sims.snow.state.find("change_task", change_request=change["sys_id"])
    assert len(tasks) == _issues(sims)
    assert len({t["correlation_id"] for t in tasks}) == len(tasks)  # no task twice


async def test_a_new_database_against_a_known_instance_looks_when_told_to(
    start: Start, sims: Sims, tmp_path: Path
) -> None:
    first = await start(HEAD)
    await _announce(first, sims)
    # a second bridgeline on an empty database pointed at the same instance, told to adopt
    again = await start(HEAD, f"sqlite:///{tmp_path / 'again.db'}", look_before_create="always")
    await _announce(again, sims)
    assert ("GET", "/api/now/table/change_request") in _api_calls(sims)
    assert len(sims.snow.state.find("change_request", correlation_id=f"jira:PAY:version:{VERSION}")) == 1


async def test_in_a_backlog_each_way_back_follows_its_release_and_reads_nothing_from_jira(
    start: Start, sims: Sims
) -> None:
    every_release = HEAD.replace(", when: 'version.name == \"3.3.0\"'", "") + REVERSE
    service = await start(every_release, worker={"concurrency": 1})
    service.engine.handoff.size = 2  # what the forward passes read is kept for two records at most
    with sims.jira_api() as api:
        versions = [v["id"] for v in api.get("/project/PAY/versions").json()]
    assert len(versions) > 3
    sims.jira_calls.clear()
    # a burst: every release announced before any is worked
    await service.store.enqueue([Event(EntityRef("jira", "version", v), source="webhook") for v in versions])
    await service.drain()
    depth = await service.store.queue_depth()
    assert depth.get("pending", 0) == 0 and depth.get("dead", 0) == 0
    # each new change's way back was due with its release, so it came next and found what the forward
    # pass read: no release read twice
    reads = [c["path"] for c in sims.jira_calls.calls if c["method"] == "GET"]
    assert sorted(p for p in reads if "/version/" in p) == sorted(
        f"/rest/api/3/version/{v}" for v in versions
    )
    assert _api_calls(sims).count(("GET", "/api/now/table/change_request")) == 0

"""Release trains end to end: versions of PAY, WEB and OPS with the same train key become one parent
change request with a child per project (or one change with tasks from all three); versions join and
leave; the CAB's answers at either level come back to the right issues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bridgeline.model import EntityRef, Event
from bridgeline.sync.service import Service

from .conftest import HERE, Sims, make_settings
from .test_release_to_change import snow_records

TRAIN = "train-26.12"


@pytest.fixture
def train_mappings() -> Path:
    return HERE / "mappings_trains" / "members"


@pytest.fixture
async def service(sims: Sims, database_url: str, train_mappings: Path) -> AsyncIterator[Service]:
    svc = await Service.start(make_settings(sims, database_url, train_mappings))
    yield svc
    await svc.aclose()


def project_id(sims: Sims, key: str) -> str:
    with sims.jira_api() as api:
        return str(api.get(f"/project/{key}").json()["id"])


def create_version(sims: Sims, key: str, name: str) -> dict[str, Any]:
    with sims.jira_api() as api:
        r = api.post(
            "/version",
            json={"name": name, "projectId": int(project_id(sims, key)), "releaseDate": "2099-12-08"},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())


def update_version(sims: Sims, version_id: str, **values: Any) -> None:
    with sims.jira_api() as api:
        r = api.put(f"/version/{version_id}", json=values)
        assert r.status_code == 200, r.text


def put_issue_in(sims: Sims, key: str, version_id: str) -> str:
    """An open issue of project ``key`` now also in the version; its key."""
    with sims.jira_api() as api:
        found = api.get(
            "/search/jql",
            params={
                "jql": f"project = {key} AND statusCategory != Done",
                "fields": "summary",
                "maxResults": 1,
            },
        ).json()["issues"]
        issue = found[0]["key"]
        r = api.put(f"/issue/{issue}", json={"update": {"fixVersions": [{"add": {"id": version_id}}]}})
        assert r.status_code == 204, r.text
        return str(issue)


def comments(sims: Sims, key: str) -> list[str]:
    with sims.jira_api() as api:
        body = api.get(f"/issue/{key}/comment").json()
    return [
        " ".join(n.get("text", "") for p in c["body"].get("content", []) for n in p.get("content", []))
        for c in body["comments"]
    ]


def train_records(sims: Sims) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    [parent] = snow_records(sims, "change_request", f"correlation_id=jira:train:{TRAIN}")
    children = snow_records(sims, "change_request", f"parent={parent['sys_id']}")
    return parent, sorted(children, key=lambda c: c["correlation_id"])


def ask_cab(sims: Sims, change: dict[str, Any]) -> None:
    """The change goes to Assess: its approval is requested."""
    with sims.snow_api() as api:
        r = api.patch(f"/change_request/{change['sys_id']}", json={"state": "-4"})
        assert r.status_code == 200, r.text


def writes_to(sims: Sims, sys_id: str) -> list[dict[str, Any]]:
    return [c for c in sims.snow_calls.writes() if c["path"].endswith(sys_id)]


async def start_train(service: Service, sims: Sims, projects: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """A version named TRAIN in each of ``projects``, with one issue each; converged."""
    members = {}
    for key in projects:
        version = create_version(sims, key, TRAIN)
        members[key] = {"id": str(version["id"]), "issue": put_issue_in(sims, key, str(version["id"]))}
    report = await service.converge()
    assert report.dead == 0
    return members


async def test_three_projects_versions_become_one_parent_with_three_children(
    service: Service, sims: Sims
) -> None:
    await start_train(service, sims, ("PAY", "WEB", "OPS"))
    parent, children = train_records(sims)
    assert parent["short_description"] == f"Release train {TRAIN} (PAY, WEB, OPS)"
    assert [c["correlation_id"] for c in children] == [
        f"jira:train:{TRAIN}:{k}" for k in ("OPS", "PAY", "WEB")
    ]
    assert all(c["parent"] == parent["sys_id"] for c in children)
    groups = {c["correlation_id"].rsplit(":", 1)[1]: c["assignment_group"] for c in children}
    assert len(set(groups.values())) == 3  # each child has its own assignment group
    # nothing changed: nothing is written
    sims.snow_calls.clear()
    await service.converge()
    assert sims.snow_calls.writes() == []


async def test_a_version_joining_later_adds_a_child_and_updates_the_parent_once(
    service: Service, sims: Sims
) -> None:
    await start_train(service, sims, ("PAY", "WEB"))
    parent, children = train_records(sims)
    assert len(children) == 2 and "OPS" not in parent["description"]
    late = create_version(sims, "OPS", "ops-late")
    put_issue_in(sims, "OPS", str(late["id"]))
    assert (await service.converge()).dead == 0
    sims.snow_calls.clear()
    update_version(sims, str(late["id"]), name=TRAIN)  # renamed onto the train: it joins
    assert (await service.converge()).dead == 0
    parent, children = train_records(sims)
    assert [c["correlation_id"][-3:] for c in children] == ["OPS", "PAY", "WEB"]
    assert parent["short_description"] == f"Release train {TRAIN} (PAY, WEB, OPS)"
    assert len(writes_to(sims, parent["sys_id"])) == 1  # the parent is updated exactly once
    creates = [c for c in sims.snow_calls.writes() if c["method"] == "POST"]
    assert len(creates) == 1  # one new child, nothing else
    # the same event again (a replay, a duplicate webhook): nothing more
    sims.snow_calls.clear()
    await service.store.enqueue([Event(EntityRef("jira", "version", str(late["id"])), source="replay")])
    await service.converge()
    assert sims.snow_calls.writes() == []


async def test_versions_leaving_or_archived_cancel_their_child(service: Service, sims: Sims) -> None:
    members = await start_train(service, sims, ("PAY", "WEB", "OPS"))
    update_version(sims, members["WEB"]["id"], name="web-on-its-own")
    update_version(sims, members["OPS"]["id"], archived=True)
    assert (await service.converge()).dead == 0
    parent, children = train_records(sims)
    states = {c["correlation_id"][-3:]: (c["state"], c["close_notes"]) for c in children}
    assert states["PAY"][0] != "4"
    assert states["WEB"] == ("4", f"Left release train {TRAIN}.")
    assert states["OPS"] == ("4", f"Left release train {TRAIN}.")
    assert parent["short_description"] == f"Release train {TRAIN} (PAY)"


async def test_a_version_created_later_with_the_trains_name_joins_it(service: Service, sims: Sims) -> None:
    await start_train(service, sims, ("PAY", "WEB"))
    parent, _ = train_records(sims)
    sims.snow_calls.clear()
    late = create_version(sims, "OPS", TRAIN)
    issue = put_issue_in(sims, "OPS", str(late["id"]))
    assert (await service.converge()).dead == 0
    parent, children = train_records(sims)
    assert [c["correlation_id"][-3:] for c in children] == ["OPS", "PAY", "WEB"]
    assert issue in parent["description"]
    assert len([c for c in sims.snow_calls.writes() if c["method"] == "POST"]) == 1


async def test_a_deleted_version_leaves_the_train(service: Service, sims: Sims) -> None:
    members = await start_train(service, sims, ("PAY", "WEB", "OPS"))
    with sims.jira_api() as api:
        assert api.delete(f"/version/{members['WEB']['id']}").status_code == 204
    # what Jira's webhook (or the poller) says: the version changed; it is gone when read
    await service.store.enqueue([Event(EntityRef("jira", "version", members["WEB"]["id"]), source="webhook")])
    assert (await service.converge()).dead == 0
    parent, children = train_records(sims)
    states = {c["correlation_id"][-3:]: c["state"] for c in children}
    assert states["WEB"] == "4" and states["PAY"] != "4" and states["OPS"] != "4"
    assert parent["short_description"] == f"Release train {TRAIN} (PAY, OPS)"


async def test_a_rejected_child_holds_the_train_in_every_member_project(service: Service, sims: Sims) -> None:
    members = await start_train(service, sims, ("PAY", "WEB", "OPS"))
    _parent, children = train_records(sims)
    ops = next(c for c in children if c["correlation_id"].endswith(":OPS"))
    ask_cab(sims, ops)
    sims.snow.reject(ops["number"], "Network freeze.")
    await service.store.enqueue([Event(EntityRef("servicenow", "change_request", ops["sys_id"]))])
    assert (await service.converge()).dead == 0
    held = f"Release train {TRAIN} is held: CAB rejected {ops['number']} (OPS): Network freeze."
    for member in members.values():
        assert comments(sims, member["issue"]).count(held) == 1
    # the other children and the parent said nothing
    assert not any("approved" in c for m in members.values() for c in comments(sims, m["issue"]))


async def test_parent_approval_reaches_every_member_and_its_closure_releases_them(
    service: Service, sims: Sims
) -> None:
    members = await start_train(service, sims, ("PAY", "WEB", "OPS"))
    parent, children = train_records(sims)
    pay = next(c for c in children if c["correlation_id"].endswith(":PAY"))
    ask_cab(sims, pay)
    sims.snow.approve(pay["number"])
    await service.store.enqueue([Event(EntityRef("servicenow", "change_request", pay["sys_id"]))])
    ask_cab(sims, parent)
    sims.snow.approve(parent["number"])
    await service.store.enqueue([Event(EntityRef("servicenow", "change_request", parent["sys_id"]))])
    assert (await service.converge()).dead == 0
    for key, member in members.items():
        said = comments(sims, member["issue"])
        assert said.count(f"CAB approved release train {TRAIN} ({parent['number']}).") == 1
        assert (said.count(f"CAB approved {pay['number']} for PAY.") == 1) == (key == "PAY")
    with sims.snow_api() as api:
        for state in ("-2", "-1", "0"):
            assert api.patch(f"/change_request/{parent['sys_id']}", json={"state": state}).status_code == 200
        r = api.patch(
            f"/change_request/{parent['sys_id']}",
            json={"state": "3", "close_code": "successful", "close_notes": "Shipped."},
        )
        assert r.status_code == 200, r.text
    await service.store.enqueue([Event(EntityRef("servicenow", "change_request", parent["sys_id"]))])
    assert (await service.converge()).dead == 0
    with sims.jira_api() as api:
        for member in members.values():
            assert api.get(f"/version/{member['id']}").json()["released"] is True


@pytest.mark.parametrize("train_mappings", [HERE / "mappings_trains" / "tasks"])
async def test_or_one_change_with_tasks_from_all_three_projects(service: Service, sims: Sims) -> None:
    members = await start_train(service, sims, ("PAY", "WEB", "OPS"))
    [parent] = snow_records(sims, "change_request", f"correlation_id=jira:train:{TRAIN}")
    tasks = snow_records(sims, "change_task", f"change_request={parent['sys_id']}")
    assert sorted(t["short_description"] for t in tasks) == sorted(
        f"{key}: {m['issue']}" for key, m in members.items()
    )
    assert snow_records(sims, "change_request", f"parent={parent['sys_id']}") == []

"""The deployment gate for release trains: the real daemon on a loopback port makes a parent change with
a child per member project from the versions of PAY and WEB, and answers for the whole train, reading
the parent and every child fresh from the ServiceNow simulator, whichever member or change is named."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bridgeline.sync.gate import Question
from bridgeline.sync.service import Service

from .conftest import HERE, Sims, make_settings
from .test_gate import PAY_TOKEN, WEB_TOKEN, Daemon, plan, running_daemon, wait_until
from .test_release_to_change import snow_records
from .test_trains import TRAIN, create_version, put_issue_in, update_version

MAPPINGS = HERE / "mappings_trains" / "members"
OPS_TOKEN = "ops-pipeline-token-5e6f7a8b"
PRODUCTION = {"environment": "production"}


@dataclass
class Train:
    versions: dict[str, dict[str, Any]]  # project -> its member version
    parent: dict[str, Any]
    children: dict[str, dict[str, Any]]  # project -> its child change request


@pytest.fixture
def train_mappings() -> Path:
    return MAPPINGS


@pytest.fixture
async def daemon(sims: Sims, database_url: str, train_mappings: Path) -> AsyncIterator[Daemon]:
    pipelines = {
        "payments": {"token": PAY_TOKEN, "projects": ["PAY"]},
        "web": {"token": WEB_TOKEN, "projects": ["WEB"]},
        "ops": {"token": OPS_TOKEN, "projects": ["OPS"]},
    }
    async with running_daemon(sims, database_url, train_mappings, pipelines) as running:
        yield running


async def start_train(daemon: Daemon) -> Train:
    """A version TRAIN in PAY and in WEB, each with an issue; waits until the daemon made the parent
    and both children and recorded them (a question by number before that is rightly ``invalid``)."""
    versions = {}
    for key in ("PAY", "WEB"):
        version = create_version(daemon.sims, key, TRAIN)
        put_issue_in(daemon.sims, key, str(version["id"]))
        versions[key] = version
    book = daemon.service.gate.book

    async def made() -> Train | None:
        parents = snow_records(daemon.sims, "change_request", f"correlation_id=jira:train:{TRAIN}")
        if not parents:
            return None
        children = snow_records(daemon.sims, "change_request", f"parent={parents[0]['sys_id']}")
        if len(children) != 2 or await book.link_by_number(parents[0]["number"]) is None:
            return None
        for child in children:
            if await book.child_by_number(child["number"]) is None:
                return None
        return Train(versions, parents[0], {c["correlation_id"][-3:]: c for c in children})

    train: Train = await wait_until(made, 30)
    return train


def cab_approves(sims: Sims, *changes: dict[str, Any]) -> None:
    """Each change is planned (its window open now) and asked of the CAB, which approves it."""
    for change in changes:
        plan(sims, change, opens=-timedelta(hours=1), closes=timedelta(hours=3))
        sims.snow.approve(change["number"], comment="Go ahead")


async def ask(daemon: Daemon, token: str = PAY_TOKEN, **question: str) -> dict[str, Any]:
    r = await daemon.ask(token, **question, **PRODUCTION)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def test_a_train_is_allowed_when_its_parent_and_every_child_are_approved_in_their_windows(
    daemon: Daemon,
) -> None:
    train = await start_train(daemon)
    cab_approves(daemon.sims, train.parent, *train.children.values())
    answer = await ask(daemon, project="PAY", version=TRAIN)
    assert answer["decision"] == "allowed", answer
    parent = train.parent["number"]
    assert answer["change"]["number"] == parent and train.parent["sys_id"] in answer["change"]["url"]
    assert answer["change"]["train"] == TRAIN
    assert {c["number"] for c in answer["change"]["children"]} == {
        c["number"] for c in train.children.values()
    }
    assert answer["release"]["project"] == "PAY" and answer["release"]["version"] == TRAIN
    assert any(r.startswith(f"parent {parent} (train {TRAIN}) is approved") for r in answer["reasons"])
    for key in ("PAY", "WEB"):
        number = train.children[key]["number"]
        assert any(r.startswith(f"child {number} ({key}) is approved") for r in answer["reasons"]), answer
    # WEB's pipeline asking about its own member hears the same
    web = await ask(daemon, WEB_TOKEN, project="WEB", version=TRAIN)
    assert web["decision"] == "allowed" and web["change"]["number"] == parent


async def test_one_child_not_approved_keeps_the_whole_train_awaiting_and_names_it(daemon: Daemon) -> None:
    train = await start_train(daemon)
    cab_approves(daemon.sims, train.parent, train.children["PAY"])
    web = train.children["WEB"]
    plan(daemon.sims, web, opens=-timedelta(hours=1), closes=timedelta(hours=3))  # asked, not decided
    answer = await ask(daemon, project="PAY", version=TRAIN)
    assert answer["decision"] == "awaiting", answer
    assert answer["reasons"] == [
        f"child {web['number']} (WEB) is not approved yet (approval: requested)",
        f"child {web['number']} (WEB) is in state assess; deployments go ahead in scheduled, implement",
    ]
    assert answer["change"]["number"] == train.parent["number"]
    # the CAB approves it: the train goes
    daemon.sims.snow.approve(web["number"])
    assert (await ask(daemon, project="PAY", version=TRAIN))["decision"] == "allowed"


async def test_a_rejected_child_prevents_the_train_with_the_rejecters_comment(daemon: Daemon) -> None:
    train = await start_train(daemon)
    cab_approves(daemon.sims, train.parent, train.children["PAY"])
    web = train.children["WEB"]
    plan(daemon.sims, web, opens=-timedelta(hours=1), closes=timedelta(hours=3))
    daemon.sims.snow.reject(web["number"], reason="Checkout freeze until the sale ends")
    answer = await ask(daemon, project="PAY", version=TRAIN)
    assert answer["decision"] == "prevented", answer
    [reason] = answer["reasons"]
    assert reason.startswith(f"child {web['number']} (WEB) was rejected by "), reason
    assert reason.endswith(": Checkout freeze until the sale ends")


async def test_a_parent_not_yet_approved_holds_the_train(daemon: Daemon) -> None:
    train = await start_train(daemon)
    cab_approves(daemon.sims, *train.children.values())
    answer = await ask(daemon, project="WEB", token=WEB_TOKEN, version=TRAIN)
    parent = train.parent["number"]
    assert answer["decision"] == "awaiting", answer
    held = f"parent {parent} (train {TRAIN}) is not approved yet (approval: not requested)"
    assert held in answer["reasons"], answer


async def test_a_child_or_the_parent_asked_by_number_answers_for_the_whole_train(daemon: Daemon) -> None:
    train = await start_train(daemon)
    cab_approves(daemon.sims, train.parent, train.children["PAY"])
    pay, web = train.children["PAY"], train.children["WEB"]
    by_version = await ask(daemon, project="PAY", version=TRAIN)
    by_child = await ask(daemon, change=pay["number"])
    assert by_child["decision"] == by_version["decision"] == "awaiting", by_child
    assert by_child["reasons"] == by_version["reasons"]
    assert any(f"child {web['number']} (WEB)" in r for r in by_child["reasons"])
    assert by_child["change"]["number"] == train.parent["number"]
    assert by_child["release"] == {
        "project": "PAY",
        "version": TRAIN,
        "version_id": str(train.versions["PAY"]["id"]),
    }
    by_parent = await ask(daemon, change=train.parent["number"])
    assert by_parent["decision"] == "awaiting" and by_parent["reasons"] == by_version["reasons"]
    # a pipeline asks on behalf of the member it names: WEB's child is WEB's, the train any member's
    refused = await daemon.ask(PAY_TOKEN, change=web["number"], **PRODUCTION)
    assert refused.status_code == 403 and "may not ask about project WEB" in refused.json()["error"]
    refused = await daemon.ask(OPS_TOKEN, change=train.parent["number"], **PRODUCTION)
    assert refused.status_code == 403 and f"release train {TRAIN}" in refused.json()["error"]
    refused = await daemon.ask(OPS_TOKEN, project="PAY", version=TRAIN, **PRODUCTION)
    assert refused.status_code == 403
    # a project that is not on the train cannot be asked about through the train's parent
    off = await ask(daemon, OPS_TOKEN, project="OPS", change=train.parent["number"])
    assert off["decision"] == "invalid" and off["reasons"] == [f"OPS is not on release train {TRAIN}"]
    cab_approves(daemon.sims, web)
    assert (await ask(daemon, WEB_TOKEN, change=web["number"]))["decision"] == "allowed"


@pytest.mark.parametrize("train_mappings", [HERE / "mappings_trains" / "tasks"])
async def test_a_train_made_as_one_change_with_tasks_is_judged_by_that_change(daemon: Daemon) -> None:
    for key in ("PAY", "WEB"):
        version = create_version(daemon.sims, key, TRAIN)
        put_issue_in(daemon.sims, key, str(version["id"]))

    async def made() -> dict[str, Any] | None:
        found = snow_records(daemon.sims, "change_request", f"correlation_id=jira:train:{TRAIN}")
        if not found or await daemon.service.gate.book.link_by_number(found[0]["number"]) is None:
            return None
        return found[0]

    parent: dict[str, Any] = await wait_until(made, 30)
    number = parent["number"]
    answer = await ask(daemon, WEB_TOKEN, project="WEB", version=TRAIN)
    assert answer["decision"] == "awaiting" and answer["change"]["children"] == [], answer
    assert (
        f"parent {number} (train {TRAIN}) is not approved yet (approval: not requested)" in answer["reasons"]
    )
    cab_approves(daemon.sims, parent)
    assert (await ask(daemon, WEB_TOKEN, project="WEB", version=TRAIN))["decision"] == "allowed"
    # the parent is any member project's to ask about, not a project with no version on the train
    by_parent = await ask(daemon, PAY_TOKEN, change=number)
    assert by_parent["decision"] == "allowed" and by_parent["change"]["train"] == TRAIN
    assert (await daemon.ask(OPS_TOKEN, change=number, **PRODUCTION)).status_code == 403


async def test_a_member_that_joined_waits_for_its_child_and_one_that_left_is_not_the_trains(
    sims: Sims, database_url: str
) -> None:
    # the service without its workers: the train is synced when the test says so
    service = await Service.start(make_settings(sims, database_url, MAPPINGS))
    try:
        versions = {}
        for key in ("PAY", "WEB"):
            versions[key] = create_version(sims, key, TRAIN)
            put_issue_in(sims, key, str(versions[key]["id"]))
        assert (await service.converge()).dead == 0
        [parent] = snow_records(sims, "change_request", f"correlation_id=jira:train:{TRAIN}")
        children = snow_records(sims, "change_request", f"parent={parent['sys_id']}")
        for change in (parent, *children):
            cab_approves(sims, change)
        create_version(sims, "OPS", TRAIN)  # joins; the train has not been synced since
        answer = await service.gate.ask(Question("production", "OPS", TRAIN), pipeline="ops")
        assert answer.decision == "awaiting", answer
        assert answer.reasons == [f"OPS {TRAIN} has no child change in release train {TRAIN} yet"]
        assert (await service.gate.ask(Question("production", "PAY", TRAIN), pipeline="p")).decision == (
            "allowed"
        )
        # WEB leaves the train: its old child change answers for nothing, WEB's release is judged alone
        web_child = next(c for c in children if c["correlation_id"].endswith(":WEB"))
        update_version(sims, str(versions["WEB"]["id"]), name="web-on-its-own")
        assert (await service.converge()).dead == 0
        left = await service.gate.ask(Question("production", change=web_child["number"]), pipeline="web")
        assert left.decision == "invalid" and "no longer on release train" in left.reasons[0], left
        alone = await service.gate.ask(Question("production", "WEB", "web-on-its-own"), pipeline="web")
        assert alone.decision == "invalid" and alone.reasons == [
            "no change for release WEB web-on-its-own (none made yet)"
        ]
    finally:
        await service.aclose()

"""Exactly-once effects at the edges the chaos runs found: each test sets up one such moment on
purpose - a CAB answer given or polled before bridgeline recorded its change, an issue in two
releases, a daemon killed right after a comment reached Jira."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from bridgeline.model import EntityRef, Event
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import JiraScale, JiraSimulator
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.store.tables import links
from bridgeline.sync.service import Service

from .conftest import SmallWorld, harness, set_integration_password

world_module = harness.load_sibling("world")


def _bridgeline_comments(jira: JiraSimulator, key: str) -> list[str]:
    with jira.state.lock:
        issue = jira.state.issue(key)
        account = jira.state.user("bridgeline")
        assert issue is not None and account is not None
        return [world_module._text(c.body) for c in issue.comments if c.author == account.account_id]


def _change_of(world: SmallWorld, version_id: str) -> dict[str, str]:
    [change] = [c for c in world.change_requests() if c["correlation_id"].endswith(f":version:{version_id}")]
    return change


async def _lose_the_links_then(world: SmallWorld, service: Service, answer: str) -> dict[str, str]:
    """Records made, then the process died before recording them; meanwhile the CAB answered."""
    await service.converge()
    change = _change_of(world, "10004")
    async with service.store.engine.begin() as conn:
        await conn.execute(sa.delete(links))
    if answer == "approved":
        world.snow.approve(change["number"])
    else:
        world.snow.reject(change["number"], reason="No rollback plan")
    return change


async def test_a_rejection_given_before_bridgeline_recorded_its_change_survives_the_adoption(
    small_world: SmallWorld, database_url: str, chaos_mappings: Path
) -> None:
    service = await Service.start(small_world.settings(database_url, chaos_mappings))
    try:
        change = await _lose_the_links_then(small_world, service, "rejected")
        await service.store.enqueue([Event(EntityRef("jira", "version", "10004"))])
        await service.converge()
        assert _change_of(small_world, "10004")["approval"] == "rejected"
        assert f"CAB rejected {change['number']}: No rollback plan" in _bridgeline_comments(
            small_world.jira, "PAY-19"
        )
    finally:
        await service.aclose()


async def test_an_approval_polled_before_bridgeline_recorded_its_change_still_reaches_jira(
    small_world: SmallWorld, database_url: str, chaos_mappings: Path
) -> None:
    settings = small_world.settings(database_url, chaos_mappings, servicenow={"poll_overlap": 0})
    service = await Service.start(settings)
    try:
        change = await _lose_the_links_then(small_world, service, "approved")
        await asyncio.sleep(1.1)  # sys_updated_on has whole seconds
        [snow_poller] = [p for p in service.pollers if p.name == "servicenow"]
        await snow_poller.poll()  # sees the approval on a record it does not know yet
        await asyncio.sleep(1.1)
        other = _change_of(small_world, "10005")
        with httpx.Client(base_url=small_world.snow_url, auth=("admin", "admin")) as api:
            api.patch(
                f"/api/now/table/change_request/{other['sys_id']}", json={"impact": "2"}
            ).raise_for_status()
        await snow_poller.poll()  # and moves on: its cursor is past the approval now
        await service.store.enqueue([Event(EntityRef("jira", "version", "10004"))])
        await service.converge()
        assert f"CAB approved {change['number']}." in _bridgeline_comments(small_world.jira, "PAY-19")
    finally:
        await service.aclose()


async def test_an_issue_in_two_approved_releases_hears_from_both_cabs(
    small_world: SmallWorld, database_url: str, chaos_mappings: Path
) -> None:
    service = await Service.start(small_world.settings(database_url, chaos_mappings))  # default triggers
    try:
        await service.converge()
        first, second = _change_of(small_world, "10003"), _change_of(small_world, "10004")
        for change in (first, second):  # one CAB meeting after the other
            small_world.snow.approve(change["number"])
            await service.store.enqueue([Event(EntityRef("servicenow", "change_request", change["sys_id"]))])
            await service.converge()
        comments = _bridgeline_comments(small_world.jira, "PAY-19")  # in releases 3.3.0 and 3.4.0
        assert comments.count(f"CAB approved {first['number']}.") == 1
        assert comments.count(f"CAB approved {second['number']}.") == 1
    finally:
        await service.aclose()


async def test_a_cab_answer_delivered_again_and_again_writes_to_jira_once(
    small_world: SmallWorld, database_url: str, chaos_mappings: Path
) -> None:
    service = await Service.start(small_world.settings(database_url, chaos_mappings))
    try:
        await service.converge()
        change = _change_of(small_world, "10004")
        small_world.snow.approve(change["number"])
        ref = EntityRef("servicenow", "change_request", change["sys_id"])
        for n in range(3):  # a poll, a webhook, the same webhook retried, an operator's replay
            await service.store.enqueue([Event(ref, source="webhook", delivery_id=f"d{n % 2}")])
            await service.converge()
        await service.store.enqueue([Event(ref, source="replay")])
        await service.converge()
        for key in ("PAY-19", "PAY-20"):
            assert _bridgeline_comments(small_world.jira, key).count(f"CAB approved {change['number']}.") == 1
    finally:
        await service.aclose()


# -- a kill between Jira's answer and the record -----------------------------------------------------


class HoldComments:
    """Lets bridgeline's first comment reach Jira, then holds the answer: the daemon dies with the
    comment written and not yet recorded."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.held = threading.Event()
        self.released = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        comment = scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/comment")
        if not comment or self.held.is_set():
            await self.app(scope, receive, send)
            return
        answer: list[Any] = []

        async def keep(message: Any) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        self.held.set()
        while not self.released.is_set():
            await asyncio.sleep(0.05)
        try:
            for message in answer:
                await send(message)
        except Exception:  # the daemon is gone
            return


@pytest.mark.slow
def test_a_daemon_killed_after_a_comment_reached_jira_does_not_comment_twice(tmp_path: Path) -> None:
    jira = JiraSimulator(scale=JiraScale(projects=1, versions=6, issues=40))
    snow = ServiceNowSimulator()
    hold = HoldComments(jira.app)
    with ServedApp(hold) as j, ServedApp(snow.app) as s:
        set_integration_password(s.url)
        small = SmallWorld(jira, snow, j.url, s.url, snow_gate=None)  # type: ignore[arg-type]
        database_url = f"sqlite:///{tmp_path / 'bridgeline.db'}"
        settings = small.values(
            database_url,
            Path(__file__).parent / "mappings",
            server={"port": harness.free_port()},
            worker={"lease_seconds": 1.0, "poll_idle": 0.1},
            log_format="json",
        )
        config = tmp_path / "bridgeline.yaml"
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        replica = harness.Replica("replica", config, tmp_path / "daemon.log")
        try:
            replica.start()
            assert world_module.wait(  # made, and brought to its CAB
                lambda: any(
                    c["correlation_id"].endswith(":version:10004") and c["approval"] == "requested"
                    for c in small.change_requests()
                ),
                30,
                every=0.1,
            ), replica.tail()
            change = _change_of(small, "10004")
            snow.approve(change["number"])
            assert world_module.wait(hold.held.is_set, 30, every=0.05), replica.tail()
            replica.kill()
            hold.released.set()
            replica.start()
            expected = f"CAB approved {change['number']}."
            assert world_module.wait(
                lambda: all(expected in _bridgeline_comments(jira, k) for k in ("PAY-19", "PAY-20")),
                30,
            ), replica.tail()
            time.sleep(1.0)
            assert replica.stop() == 0, replica.tail()
        finally:
            hold.released.set()
            replica.ensure_dead()
        for key in ("PAY-19", "PAY-20"):
            assert _bridgeline_comments(jira, key).count(expected) == 1, key

"""A replica killed while it applies a deployment report: the work note had reached ServiceNow, the
answer had not come back. The next replica neither loses the report nor writes anything twice."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bridgeline.sim import ServedApp
from bridgeline.sim.jira import JiraScale, JiraSimulator
from bridgeline.sim.servicenow import ServiceNowSimulator

from .conftest import SmallWorld, harness, set_integration_password
from .test_exactly_once import _bridgeline_comments, _change_of

world_module = harness.load_sibling("world")
PIPELINE_TOKEN = "chaos-pipeline-token-0b1c2d3e"
RUN_URL = "https://ci.example.com/runs/31"


class HoldDeploymentNote:
    """Lets the first write carrying the deployment's work note reach ServiceNow, then holds the
    answer: the replica dies with the note written and not yet recorded."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.held = threading.Event()
        self.released = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "PATCH" or self.held.is_set():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def body() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            return message

        answer: list[Any] = []

        async def keep(message: Any) -> None:
            answer.append(message)

        await self.app(scope, body, keep)
        if b"Deployment started" not in b"".join(chunks):
            for message in answer:
                await send(message)
            return
        self.held.set()
        while not self.released.is_set():
            await asyncio.sleep(0.05)
        try:
            for message in answer:
                await send(message)
        except Exception:  # the replica is gone
            return


def _notes(snow: ServiceNowSimulator, sys_id: str) -> list[str]:
    rows = snow.state.records("sys_journal_field", f"element_id={sys_id}^element=work_notes")
    return [r["value"] for r in rows]


@pytest.mark.slow
def test_a_replica_killed_while_applying_a_deployment_loses_nothing_and_duplicates_nothing(
    database_url: str, tmp_path: Path
) -> None:
    jira = JiraSimulator(scale=JiraScale(projects=1, versions=6, issues=40))
    snow = ServiceNowSimulator()
    hold = HoldDeploymentNote(snow.app)
    with ServedApp(jira.app) as j, ServedApp(hold) as s:
        set_integration_password(s.url)
        small = SmallWorld(jira, snow, j.url, s.url, snow_gate=None)  # type: ignore[arg-type]
        port = harness.free_port()
        settings = small.values(
            database_url,
            Path(__file__).parent / "mappings_deploy",
            server={"port": port},
            worker={"lease_seconds": 1.0, "poll_idle": 0.1},
            pipelines={"chaos": {"token": PIPELINE_TOKEN, "projects": ["PAY"]}},
            log_format="json",
        )
        config = tmp_path / "bridgeline.yaml"
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        replica = harness.Replica("replica", config, tmp_path / "daemon.log")
        try:
            replica.start()
            # made, and before the CAB: created as New, the change asks for approval when it
            # enters Assess, the step after its creation
            assert world_module.wait(
                lambda: any(
                    c["correlation_id"].endswith(":version:10004") and c.get("approval") == "requested"
                    for c in small.change_requests()
                ),
                30,
                every=0.1,
            ), replica.tail()
            change = _change_of(small, "10004")
            snow.approve(change["number"])
            [version] = [v for v in small.versions() if v["id"] == "10004"]
            report = {
                "release": {"project": "PAY", "version": version["name"]},
                "environment": "production",
                "state": "started",
                "run": {"id": "31", "url": RUN_URL},
            }
            headers = {"Authorization": f"Bearer {PIPELINE_TOKEN}"}
            posted = httpx.post(f"http://127.0.0.1:{port}/webhooks/deployments", json=report, headers=headers)
            assert posted.status_code == 202, posted.text
            assert world_module.wait(hold.held.is_set, 30, every=0.05), replica.tail()
            replica.kill()
            hold.released.set()
            replica.start()
            expected = f"Deployment started: {RUN_URL}"
            assert world_module.wait(
                lambda: all(expected in _bridgeline_comments(jira, k) for k in ("PAY-19", "PAY-20")), 30
            ), replica.tail()
            # the report delivered again after the restart is a duplicate
            again = httpx.post(f"http://127.0.0.1:{port}/webhooks/deployments", json=report, headers=headers)
            assert again.status_code == 200 and again.json()["duplicate"] is True
            assert world_module.wait(
                lambda: asyncio.run(harness.inbox_state(database_url))["pending"] == 0, 30
            )
            assert replica.stop() == 0, replica.tail()
        finally:
            hold.released.set()
            replica.ensure_dead()
        assert _notes(snow, change["sys_id"]).count(expected) == 1
        for key in ("PAY-19", "PAY-20"):
            assert _bridgeline_comments(jira, key).count(expected) == 1, key
        assert json.dumps(settings).count(PIPELINE_TOKEN) == 1  # the configuration holds it once
        assert PIPELINE_TOKEN not in (tmp_path / "daemon.log").read_text(encoding="utf-8")

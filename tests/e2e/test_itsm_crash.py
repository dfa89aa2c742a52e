"""The daemon killed between creating a change request and recording it, then started again: still
exactly one change request. A real ``bridgeline run`` process, a real SIGKILL, a real restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraSimulator
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.store import Store

MAPPINGS = Path(__file__).parent / "mappings_itsm" / "table"
CORR = "jira:PAY:version:10003"
CREATE_PATH = "/api/now/table/change_request"


class HoldCreates:
    """Lets change request creates happen, then holds their answers until released: a slow instance
    that finished the work but has not said so yet."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.released = threading.Event()
        self.held = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == CREATE_PATH):
            await self.app(scope, receive, send)
            return
        answer: list[Any] = []

        async def keep(message: Any) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        self.held.set()
        waited = 0.0
        while not self.released.is_set() and waited < 60:
            await asyncio.sleep(0.05)
            waited += 0.05
        try:
            for message in answer:
                await send(message)
        except Exception:  # the client is gone: nobody to tell
            return


@pytest.fixture
def sims() -> Iterator[tuple[ServedApp, ServedApp, ServiceNowSimulator, HoldCreates]]:
    jira, snow = JiraSimulator(), ServiceNowSimulator()
    hold = HoldCreates(snow.app)
    with ServedApp(jira.app) as j, ServedApp(hold) as s:
        yield j, s, snow, hold
    hold.released.set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("BRIDGELINE_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bridgeline.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_until(check: Any, what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} did not happen in {timeout}s; daemon log:\n{log.read_text()[-4000:]}"
            )
        time.sleep(0.05)


async def links(url: str) -> int:
    store = await Store.open(url, migrate=False)
    try:
        return await store.count_links(top_level=True)
    finally:
        await store.close()


async def audit_actions(url: str) -> list[str]:
    store = await Store.open(url, migrate=False)
    try:
        return [a.action for a in await store.recent_audit(limit=500) if a.entity == "jira:version:10003"]
    finally:
        await store.close()


def test_a_daemon_killed_after_the_create_and_restarted_makes_no_second_change(
    sims: tuple[ServedApp, ServedApp, ServiceNowSimulator, HoldCreates], tmp_path: Path
) -> None:
    jira, snow_served, snow, hold = sims
    database_url = f"sqlite:///{tmp_path / 'bridgeline.db'}"
    config = tmp_path / "bridgeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": database_url,
                "mappings": [str(MAPPINGS)],
                "jira": {
                    "url": jira.url,
                    "email": "bridgeline@example.com",
                    "api_token": INTEGRATION_CLOUD[1],
                    "projects": ["PAY"],
                    "poll_interval": 0.5,
                },
                "servicenow": {
                    "url": snow_served.url,
                    "username": "bridgeline.integration",
                    "password": SERVICENOW_INTEGRATION[1],
                    "poll_interval": 0.5,
                },
                # a short lease: the restarted daemon may take over the dead one's claim at once
                "worker": {"lease_seconds": 1.0, "poll_idle": 0.1, "backoff_initial": 0.1},
                "server": {"port": free_port()},
                "log_format": "json",
            }
        )
    )
    log = tmp_path / "daemon.log"

    def created() -> list[dict[str, Any]]:
        return snow.state.find("change_request", correlation_id=CORR)

    first = start_daemon(config, log)
    try:
        wait_until(hold.held.is_set, "the create reaching the instance", log)
        assert len(created()) == 1
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert asyncio.run(links(database_url)) == 0  # the create happened; its recording did not
    hold.released.set()

    second = start_daemon(config, log)
    try:
        wait_until(lambda: asyncio.run(links(database_url)) == 1, "the change being recorded", log)
        [change] = created()
        wait_until(
            lambda: len(snow.state.find("change_task", change_request=change["sys_id"])) >= 20,
            "the tasks being created",
            log,
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        if second.poll() is None:
            second.kill()
    assert len(created()) == 1
    assert snow.state.count_calls("POST", CREATE_PATH) == 1
    assert created()[0]["state"] == "-4"  # the restarted daemon finished the job: walked to Assess
    assert "adopt" in asyncio.run(audit_actions(database_url))

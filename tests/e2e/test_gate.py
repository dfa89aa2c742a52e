"""The deployment gate: the real daemon on a loopback port, asked by pipelines over HTTP, reading the
change fresh from the ServiceNow simulator; `bridgeline gate` waits while the CAB has not approved."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.daemon import listen, serve_service
from bridgeline.server.health import ConnectorHealth
from bridgeline.sync.service import Service

from .conftest import HERE, Sims, make_settings
from .test_release_to_change import open_versions, snow_records

MAPPINGS = HERE / "mappings_gate"
PAY_TOKEN = "pay-pipeline-token-3c9e51b7"
WEB_TOKEN = "web-pipeline-token-81d0a4f2"
ADMIN_TOKEN = "gate-tests-admin-token-77aa"
BLACKOUT = "Payments peak blackout"
GITHUB_SECRET = "github-webhook-secret-1f2e3d"
GITLAB_TOKEN = "gitlab-webhook-token-9a8b7c"
REPOSITORIES = {"acme/payments": "PAY"}


@dataclass
class Daemon:
    url: str
    service: Service
    sims: Sims

    def pipeline(self, token: str | None = PAY_TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)

    async def ask(self, token: str | None = PAY_TOKEN, **question: str) -> httpx.Response:
        async with self.pipeline(token) as http:
            return await http.post("/api/gate", json=question)


@asynccontextmanager
async def running_daemon(
    sims: Sims, database_url: str, mappings: Path, pipelines: dict[str, Any] | None = None
) -> AsyncIterator[Daemon]:
    """The daemon with ``mappings`` on a loopback port, the pipelines of these tests configured."""
    settings = make_settings(
        sims,
        database_url,
        mappings,
        pipelines=pipelines
        or {
            "payments": {"token": PAY_TOKEN, "projects": ["PAY"]},
            "web": {"token": WEB_TOKEN, "projects": ["WEB"]},
        },
        server={"admin_token": ADMIN_TOKEN},
        deployments={
            "github_secret": GITHUB_SECRET,
            "gitlab_token": GITLAB_TOKEN,
            "repositories": REPOSITORIES,
        },
    )
    assert settings.servicenow is not None and settings.jira is not None
    settings.servicenow.blackout_schedules = [BLACKOUT]
    settings.jira.poll_interval = 0.5
    settings.worker.poll_idle = 0.1
    service = await Service.start(settings)
    sock = listen("127.0.0.1", 0)
    stop, listening = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_service(
            service,
            "127.0.0.1",
            sock.getsockname()[1],
            stop=stop,
            sock=sock,
            health=ConnectorHealth(settings),
            on_listening=listening,
        )
    )
    await asyncio.wait_for(listening.wait(), 10)
    try:
        yield Daemon(f"http://127.0.0.1:{sock.getsockname()[1]}", service, sims)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await service.aclose()


@pytest.fixture
async def daemon(sims: Sims, database_url: str) -> AsyncIterator[Daemon]:
    async with running_daemon(sims, database_url, MAPPINGS) as running:
        yield running


async def wait_until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        await asyncio.sleep(0.1)


def pay_release(sims: Sims) -> dict[str, Any]:
    return next(v for key, v in open_versions(sims) if key == "PAY")


async def change_of(daemon: Daemon, version: dict[str, Any]) -> dict[str, Any]:
    """The change request the daemon made for ``version`` (waits until ServiceNow has it and the
    daemon has recorded its number: between the two, a question by number is rightly ``invalid``)."""

    async def made() -> dict[str, Any] | None:
        found = snow_records(daemon.sims, "change_request", f"correlation_idENDSWITH:version:{version['id']}")
        if not found or await daemon.service.gate.book.link_by_number(found[0]["number"]) is None:
            return None
        return found[0]

    change: dict[str, Any] = await wait_until(made, 30)
    return change


def snow_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def plan(
    sims: Sims, change: dict[str, Any], *, opens: timedelta, closes: timedelta, state: str = "-4"
) -> None:
    """What a change manager does: set the planned window (relative to now) and ask the CAB."""
    now = datetime.now(UTC)
    with sims.snow_api() as api:
        r = api.patch(
            f"/change_request/{change['sys_id']}",
            json={"state": state, "start_date": snow_time(now + opens), "end_date": snow_time(now + closes)},
        )
        assert r.status_code == 200, r.text


async def test_a_waiting_gate_is_released_within_one_interval_of_the_cab_approval(daemon: Daemon) -> None:
    version = pay_release(daemon.sims)
    change = await change_of(daemon, version)
    plan(daemon.sims, change, opens=-timedelta(hours=1), closes=timedelta(hours=3))
    first = (await daemon.ask(project="PAY", version=version["name"], environment="production")).json()
    assert first["decision"] == "awaiting", first
    assert any("not approved yet" in r for r in first["reasons"]), first
    assert first["change"]["number"] == change["number"] and change["sys_id"] in first["change"]["url"]

    interval = 1.0
    env = {**os.environ, "BRIDGELINE_URL": daemon.url, "BRIDGELINE_PIPELINE_TOKEN": PAY_TOKEN}
    step = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridgeline",
        "gate",
        "--project",
        "PAY",
        "--version",
        version["name"],
        "--environment",
        "production",
        "--wait",
        "60s",
        "--interval",
        str(interval),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert step.stdout is not None
    line = (await asyncio.wait_for(step.stdout.readline(), 30)).decode()
    assert "awaiting:" in line and change["number"] in line, line
    book = daemon.service.gate.book
    asked_before = len(await book.recent_answers(limit=100_000))
    daemon.sims.snow.approve(change["number"], comment="Go ahead")
    line = (await asyncio.wait_for(step.stdout.readline(), 30)).decode()
    assert "allowed:" in line, line
    assert await asyncio.wait_for(step.wait(), 10) == 0
    # Within one interval, counted in questions rather than seconds (a busy machine stretches
    # those): after the approval, the step asked at most once more before being allowed, and that
    # one question was the one already on its way when the CAB approved.
    answers = await book.recent_answers(limit=100_000)
    since = [a.decision for a in answers[: len(answers) - asked_before]]  # newest first
    assert since[0] == "allowed" and since[1:] in ([], ["awaiting"]), since

    # an answer that allowed a deploy is in the audit log, with the pipeline that asked
    async with httpx.AsyncClient(
        base_url=daemon.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as a:
        status = (await a.get("/api/status")).json()
    allowed = [e for e in status["audit"] if e["action"] == "gate_allowed"]
    assert allowed and "payments may deploy" in allowed[0]["detail"]
    answers = status["gate_answers"]
    assert [a["decision"] for a in answers[:2]] == ["allowed", "awaiting"]


async def test_a_rejected_change_is_prevented_with_who_rejected_it_and_why(daemon: Daemon) -> None:
    version = pay_release(daemon.sims)
    change = await change_of(daemon, version)
    plan(daemon.sims, change, opens=-timedelta(hours=1), closes=timedelta(hours=3))
    daemon.sims.snow.reject(change["number"], reason="No rollback plan for the schema migration")
    answer = (await daemon.ask(change=change["number"], environment="production")).json()
    assert answer["decision"] == "prevented", answer
    [reason] = answer["reasons"]
    assert reason.startswith(f"{change['number']} was rejected by ")
    assert reason.endswith(": No rollback plan for the schema migration")
    assert answer["release"] == {"project": "PAY", "version": version["name"], "version_id": version["id"]}


async def test_a_closed_window_prevents_and_one_not_yet_open_waits(daemon: Daemon) -> None:
    version = pay_release(daemon.sims)
    change = await change_of(daemon, version)
    plan(daemon.sims, change, opens=-timedelta(hours=5), closes=-timedelta(hours=1))
    daemon.sims.snow.approve(change["number"])
    answer = (await daemon.ask(version_id=version["id"], project="PAY", environment="production")).json()
    assert answer["decision"] == "prevented" and answer["reasons"][0].startswith("window closed at "), answer
    plan(daemon.sims, change, opens=timedelta(hours=2), closes=timedelta(hours=5), state="-2")
    answer = (await daemon.ask(version_id=version["id"], project="PAY", environment="prod-eu")).json()
    assert answer["decision"] == "awaiting" and answer["reasons"][0].startswith("window opens at "), answer
    # an environment the gate does not guard goes ahead
    answer = (await daemon.ask(version_id=version["id"], project="PAY", environment="staging")).json()
    assert answer["decision"] == "allowed" and answer["reasons"] == ["staging is not a gated environment"]


async def test_a_projects_override_gates_environments_of_its_own(daemon: Daemon) -> None:
    web = next(v for key, v in open_versions(daemon.sims) if key == "WEB")
    await change_of(daemon, web)
    answer = (await daemon.ask(WEB_TOKEN, version_id=web["id"], project="WEB", environment="staging")).json()
    assert answer["decision"] == "awaiting" and "is not approved yet" in answer["reasons"][0], answer
    pay = pay_release(daemon.sims)
    await change_of(daemon, pay)
    answer = (await daemon.ask(version_id=pay["id"], project="PAY", environment="staging")).json()
    assert answer["decision"] == "allowed" and answer["reasons"] == ["staging is not a gated environment"]


async def test_a_servicenow_blackout_schedule_prevents_with_its_end(daemon: Daemon) -> None:
    version = pay_release(daemon.sims)
    change = await change_of(daemon, version)
    plan(daemon.sims, change, opens=-timedelta(hours=1), closes=timedelta(hours=3))
    daemon.sims.snow.approve(change["number"])
    assert (await daemon.ask(change=change["number"], environment="production")).json()[
        "decision"
    ] == "allowed"
    now = datetime.now(UTC)
    ends = (now + timedelta(days=2)).replace(microsecond=0)
    with daemon.sims.snow_api() as api:
        schedule = api.post("/cmn_schedule", json={"name": BLACKOUT, "type": "blackout", "time_zone": "UTC"})
        assert schedule.status_code == 201, schedule.text
        span = api.post(
            "/cmn_schedule_span",
            json={
                "schedule": schedule.json()["result"]["sys_id"],
                "name": "Black Friday",
                "start_date_time": (now - timedelta(hours=1)).strftime("%Y%m%dT%H%M%S"),
                "end_date_time": ends.strftime("%Y%m%dT%H%M%S"),
            },
        )
        assert span.status_code == 201, span.text
        # a blackout schedule the configuration does not name changes nothing
        other = api.post("/cmn_schedule", json={"name": "Other team", "type": "blackout"})
        api.post(
            "/cmn_schedule_span",
            json={
                "schedule": other.json()["result"]["sys_id"],
                "start_date_time": "20200101T000000",
                "end_date_time": "20991231T000000",
            },
        )
    answer = (await daemon.ask(change=change["number"], environment="production")).json()
    assert answer["decision"] == "prevented", answer
    until = ends.strftime("%Y-%m-%d %H:%M")
    assert answer["reasons"] == [
        f"freeze until {until} UTC: ServiceNow blackout schedule {BLACKOUT} (Black Friday)"
    ]


async def test_who_may_ask_and_what_a_question_must_say(daemon: Daemon) -> None:
    version = pay_release(daemon.sims)
    change = await change_of(daemon, version)
    ok = {"project": "PAY", "version": version["name"], "environment": "production"}
    assert (await daemon.ask(None, **ok)).status_code == 401
    assert (await daemon.ask("not-a-pipeline-token-at-all", **ok)).status_code == 401
    assert (await daemon.ask(ADMIN_TOKEN, **ok)).status_code == 401  # the admin token is no pipeline's
    refused = await daemon.ask(WEB_TOKEN, **ok)
    assert refused.status_code == 403 and "may not ask about project PAY" in refused.json()["error"]
    by_change = await daemon.ask(WEB_TOKEN, change=change["number"], environment="production")
    assert by_change.status_code == 403  # the change's release is PAY's
    for question, words in [
        ({"project": "PAY", "version": version["name"]}, "environment is required"),
        ({"project": "PAY", "environment": "production"}, "needs version"),
        ({"environment": "production"}, "name the release"),
        ({**ok, "colour": "blue"}, "unknown field(s) colour"),
    ]:
        r = await daemon.ask(**question)
        assert r.status_code == 400 and words in r.json()["error"], r.text
    async with daemon.pipeline() as http:
        r = await http.post("/api/gate", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        r = await http.get("/api/gate", params=ok)
        assert r.status_code == 200 and r.json()["decision"] == "awaiting"
    unknown = (await daemon.ask(project="PAY", version="99.99.99", environment="production")).json()
    assert unknown["decision"] == "invalid" and unknown["reasons"] == [
        "Jira project PAY has no version 99.99.99"
    ]
    nothing = (await daemon.ask(change="CHG9999999", environment="production")).json()
    assert nothing["decision"] == "invalid"
    for odd in ({"version_id": "../../myself"}, {"version_id": "10001?x=1"}, {"project": "PAY/../X"}):
        r = await daemon.ask(**{"project": "PAY", "version": "1.0", "environment": "production", **odd})
        assert r.status_code == 400 and "is not a Jira" in r.json()["error"], r.text
    r = await daemon.ask(change="CHG1/../x", environment="production")
    assert r.status_code == 400 and "is not a change number" in r.json()["error"]
    r = await daemon.ask(project="PAY", version="%00/..", environment="production")
    assert r.status_code == 200 and r.json()["decision"] == "invalid"
    r = await daemon.ask(project="NOPE", version="1.0", environment="production")
    assert r.status_code == 403
    # the tokens never show in what the daemon serves
    async with httpx.AsyncClient(
        base_url=daemon.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as a:
        page = (
            (await a.get("/status")).text + (await a.get("/api/status")).text + (await a.get("/metrics")).text
        )
    assert PAY_TOKEN not in page and WEB_TOKEN not in page
    assert 'bridgeline_gate_answers_total{decision="invalid"}' in page


def test_the_gate_command_says_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGELINE_")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridgeline",
            "gate",
            "--project",
            "PAY",
            "--version",
            "1.0",
            "-e",
            "production",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "set BRIDGELINE_URL and BRIDGELINE_PIPELINE_TOKEN" in run.stderr
    env.update(BRIDGELINE_URL="http://127.0.0.1:9", BRIDGELINE_PIPELINE_TOKEN="x" * 20)
    run = subprocess.run(
        [sys.executable, "-m", "bridgeline", "gate", "-e", "production"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "--project with --version" in run.stderr
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridgeline",
            "gate",
            "--change",
            "CHG1",
            "-e",
            "production",
            "--wait",
            "1s",
            "--interval",
            "0.2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 4 and "cannot reach the gate" in run.stderr

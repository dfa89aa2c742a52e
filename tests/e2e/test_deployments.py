"""Deployments move the change: GitHub, GitLab and bridgeline's own reports, sent to the real daemon
over loopback, each delivered twice and out of order, write to ServiceNow and Jira exactly once."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx

from bridgeline.metrics import REGISTRY

from .conftest import Sims
from .test_gate import (
    ADMIN_TOKEN,
    GITHUB_SECRET,
    GITLAB_TOKEN,
    PAY_TOKEN,
    WEB_TOKEN,
    Daemon,
    change_of,
    daemon,
    pay_release,
    plan,
    wait_until,
)
from .test_release_to_change import issues_of, snow_records
from .test_reverse import _comments, _remote_links

__all__ = ["daemon"]  # the fixture, shared with the gate's tests


def github_delivery(
    version: dict[str, Any], state: str, *, deployment_id: int = 501
) -> tuple[bytes, dict[str, str]]:
    """A deployment_status delivery shaped as GitHub documents it (abridged), signed."""
    run = f"https://github.com/acme/payments/actions/runs/{deployment_id}0"
    body = json.dumps(
        {
            "action": "created",
            "deployment_status": {
                "id": deployment_id * 10 + len(state),
                "state": state,
                "description": f"Deployment {state}",
                "environment": "production",
                "target_url": run,
                "log_url": run,
                "created_at": "2026-12-03T09:30:00Z",
                "creator": {"login": "github-actions[bot]", "type": "Bot"},
            },
            "deployment": {
                "id": deployment_id,
                "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                "ref": f"v{version['name']}",
                "task": "deploy",
                "payload": {},
                "environment": "production",
                "description": None,
                "creator": {"login": "octocat"},
                "created_at": "2026-12-03T09:29:00Z",
            },
            "repository": {"id": 1296269, "name": "payments", "full_name": "acme/payments"},
            "sender": {"login": "octocat"},
        }
    ).encode()
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "X-GitHub-Event": "deployment_status",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }


def gitlab_delivery(version: dict[str, Any], status: str, *, deployment_id: int = 15) -> dict[str, Any]:
    """A deployment event shaped as GitLab documents it (abridged)."""
    return {
        "object_kind": "deployment",
        "status": status,
        "status_changed_at": "2026-12-03 09:30:00 +0000",
        "deployment_id": deployment_id,
        "deployable_id": 796,
        "deployable_url": f"https://gitlab.example.com/acme/payments/-/jobs/{deployment_id}96",
        "environment": "production",
        "environment_tier": "production",
        "environment_slug": "production",
        "environment_external_url": "https://pay.example.com",
        "project": {"id": 30, "name": "payments", "path_with_namespace": "acme/payments"},
        "short_sha": "279484c0",
        "user": {"username": "root"},
        "commit_url": "https://gitlab.example.com/acme/payments/-/commit/279484c09fbe69ededfced8c1bb6e6d24616b468",
        "commit_title": "Release",
        "ref": version["name"],
    }


async def idle(daemon: Daemon) -> None:
    """Wait until the inbox holds nothing pending and nothing is being worked on."""

    async def quiet() -> bool:
        depth = await daemon.service.store.queue_depth()
        return depth.get("pending", 0) == 0 and daemon.service.worker.in_flight == 0

    await wait_until(quiet, 30)


def journal(sims: Sims, sys_id: str, element: str = "work_notes") -> list[str]:
    rows = snow_records(sims, "sys_journal_field", f"element_id={sys_id}^element={element}")
    return [r["value"] for r in rows]


async def approved_change(daemon: Daemon, version: dict[str, Any]) -> dict[str, Any]:
    change = await change_of(daemon, version)
    plan(daemon.sims, change, opens=-timedelta(hours=1), closes=timedelta(hours=3))
    daemon.sims.snow.approve(change["number"])
    return change


def state_of(sims: Sims, change: dict[str, Any]) -> dict[str, Any]:
    [now] = snow_records(sims, "change_request", f"sys_id={change['sys_id']}")
    return now


async def test_github_deliveries_twice_and_out_of_order_close_the_change_and_write_to_jira_once(
    daemon: Daemon,
) -> None:
    version = pay_release(daemon.sims)
    change = await approved_change(daemon, version)
    await idle(daemon)
    keys = [i["key"] for i in issues_of(daemon.sims, version["id"])]
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
        for state in ("success", "in_progress", "success", "in_progress", "queued"):
            body, headers = github_delivery(version, state)
            r = await http.post("/webhooks/deployments/github", content=body, headers=headers)
            assert r.status_code in (200, 202), r.text
        await wait_until(lambda: _async(state_of(daemon.sims, change)["state"] == "3"), 30)
        await idle(daemon)
        closed = state_of(daemon.sims, change)
        assert closed["close_code"] == "successful" and "run 501" in closed["close_notes"]
        for key in keys:
            comments = _comments(daemon.sims, key)
            assert sum(c.startswith("Deployed to production") for c in comments) == 1, comments
            assert not any("started" in c for c in comments)  # the start came after the end
        with daemon.sims.jira_api() as api:
            assert api.get(f"/version/{version['id']}").json()["released"] is True
        # the same deliveries again: nothing more is written anywhere
        daemon.sims.jira_calls.clear()
        daemon.sims.snow_calls.clear()
        for state in ("in_progress", "success"):
            body, headers = github_delivery(version, state)
            r = await http.post("/webhooks/deployments/github", content=body, headers=headers)
            assert r.status_code == 200 and r.json()["duplicate"] is True
        await idle(daemon)
        assert daemon.sims.jira_calls.writes("/rest/") == [] and daemon.sims.snow_calls.writes() == []
        # a delivery without the right signature stores nothing
        body, headers = github_delivery(version, "success", deployment_id=502)
        r = await http.post(
            "/webhooks/deployments/github",
            content=body,
            headers={**headers, "X-Hub-Signature-256": "sha256=00"},
        )
        assert r.status_code == 401
    async with httpx.AsyncClient(
        base_url=daemon.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as a:
        status = (await a.get("/api/status")).json()
        metrics = (await a.get("/metrics")).text
    assert {(d["state"], d["verdict"]) for d in status["deployments"]} == {
        ("started", "authorized"),
        ("succeeded", "authorized"),
    }
    assert 'bridgeline_deployments_total{state="succeeded"}' in metrics


async def test_gitlab_deliveries_each_twice_start_then_close_the_change_once(daemon: Daemon) -> None:
    version = pay_release(daemon.sims)
    change = await approved_change(daemon, version)
    await idle(daemon)
    keys = [i["key"] for i in issues_of(daemon.sims, version["id"])]
    headers = {"X-Gitlab-Event": "Deployment Hook", "X-Gitlab-Token": GITLAB_TOKEN}
    async with httpx.AsyncClient(base_url=daemon.url, headers=headers, timeout=10) as http:
        for _ in range(2):
            r = await http.post("/webhooks/deployments/gitlab", json=gitlab_delivery(version, "running"))
            assert r.status_code in (200, 202), r.text
        await wait_until(lambda: _async(state_of(daemon.sims, change)["state"] == "-1"), 30)  # Implement
        await idle(daemon)
        notes = journal(daemon.sims, change["sys_id"])
        assert sum("started: https://gitlab.example.com/acme/payments/-/jobs/1596" in n for n in notes) == 1
        for _ in range(2):
            r = await http.post("/webhooks/deployments/gitlab", json=gitlab_delivery(version, "success"))
            assert r.status_code in (200, 202), r.text
        r = await http.post("/webhooks/deployments/gitlab", json=gitlab_delivery(version, "running"))
        assert r.status_code == 200  # late and repeated: a duplicate
        await wait_until(lambda: _async(state_of(daemon.sims, change)["state"] == "3"), 30)
        await idle(daemon)
        r = await http.post(
            "/webhooks/deployments/gitlab",
            json=gitlab_delivery(version, "success"),
            headers={"X-Gitlab-Token": "wrong"},
        )
        assert r.status_code == 401
    for key in keys:
        comments = _comments(daemon.sims, key)
        assert sum(c.startswith("Deployment to production started") for c in comments) == 1, comments
        assert sum(c.startswith("Deployed to production") for c in comments) == 1, comments
        runs = [
            link for link in _remote_links(daemon.sims, key) if "bridgeline:deployment:" in link["globalId"]
        ]
        assert len(runs) == 1 and runs[0]["object"]["url"].endswith("/-/jobs/1596")


async def test_an_unapproved_production_deployment_is_recorded_as_unauthorized(daemon: Daemon) -> None:
    version = pay_release(daemon.sims)
    change = await change_of(daemon, version)
    await idle(daemon)
    keys = [i["key"] for i in issues_of(daemon.sims, version["id"])]
    before = unauthorized_count()
    report = {
        "release": {"project": "PAY", "version": version["name"]},
        "environment": "production",
        "state": "started",
        "run": {"id": "8812", "url": "https://ci.example.com/runs/8812"},
        "commit": "9fceb02",
    }
    async with daemon.pipeline() as http:
        for _ in range(2):
            r = await http.post("/webhooks/deployments", json=report)
            assert r.status_code in (200, 202), r.text
    async with httpx.AsyncClient(
        base_url=daemon.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as a:

        async def recorded() -> dict[str, Any] | None:
            status: dict[str, Any] = (await a.get("/api/status")).json()
            # one snapshot's reads are not one transaction: wait until all of them show it
            audited = any(e["action"] == "unauthorized_deployment" for e in status["audit"])
            verdicts = [d["verdict"] for d in status["deployments"]]
            return (
                status
                if status["unauthorized_deployments"] == 1 and audited and verdicts == ["unauthorized"]
                else None
            )

        status = await wait_until(recorded, 30)
        await idle(daemon)
        page = (await a.get("/status")).text
        metrics = (await a.get("/metrics")).text
    assert [d["verdict"] for d in status["deployments"]] == ["unauthorized"]
    [row] = [e for e in status["audit"] if e["action"] == "unauthorized_deployment"]
    assert "run 8812" in row["detail"] and "not approved yet" in row["detail"]
    assert "unauthorized deployment</strong>" in page and ">8812</a>" in page
    assert "bridgeline_unauthorized_deployments_total" in metrics
    assert unauthorized_count() == before + 1  # counted once, though delivered twice
    notes = journal(daemon.sims, change["sys_id"])
    assert sum(n.startswith("Unauthorized deployment to production: run 8812") for n in notes) == 1
    assert state_of(daemon.sims, change)["state"] == change["state"]  # not moved to Implement
    for key in keys:
        comments = _comments(daemon.sims, key)
        assert sum(c.startswith("Unauthorized deployment to production") for c in comments) == 1


async def test_a_deployment_report_is_checked_before_it_is_stored(daemon: Daemon) -> None:
    version = pay_release(daemon.sims)
    good = {
        "release": {"project": "PAY", "version": version["name"]},
        "environment": "production",
        "state": "started",
        "run": {"id": "1", "url": "https://ci.example.com/runs/1"},
    }
    async with daemon.pipeline(None) as http:
        assert (await http.post("/webhooks/deployments", json=good)).status_code == 401
    async with daemon.pipeline(WEB_TOKEN) as http:
        r = await http.post("/webhooks/deployments", json=good)
        assert r.status_code == 403 and "may not report deployments of project PAY" in r.json()["error"]
    async with daemon.pipeline(PAY_TOKEN) as http:
        for bad, words in [
            ({**good, "state": "done"}, "state 'done' is not one of"),
            ({**good, "run": "1"}, "run is required"),
            ({**good, "run": {"id": "1", "url": "javascript:alert(1)"}}, "run.url must be an http(s) URL"),
            ({**good, "release": {"project": "PAY"}}, "release needs version"),
            ({**good, "extra": 1}, "unknown field(s) extra"),
            ({**good, "environment": None}, "environment is required"),
        ]:
            r = await http.post("/webhooks/deployments", json=bad)
            assert r.status_code == 400 and words in r.json()["error"], r.text
        r = await http.post(
            "/webhooks/deployments", content=b"[", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400
    assert await daemon.service.store.queue_depth() is not None
    rows = await daemon.service.store.inbox_rows(limit=1000)
    assert not [row for row in rows if row.entity.startswith("deployment:")]


def unauthorized_count() -> float:
    """The daemon runs in this process: its counter, read from the registry /metrics serves."""
    return REGISTRY.get_sample_value("bridgeline_unauthorized_deployments_total") or 0.0


async def _async(value: bool) -> bool:
    return value

"""Health, readiness, status and metrics of a running daemon, over a loopback socket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bridgeline import metrics
from bridgeline.sim import ServedApp

from .conftest import Daemon


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and want <= set(ls))


async def test_a_running_daemon_is_alive_ready_and_shows_what_it_synced(start_daemon: Any) -> None:
    daemon: Daemon = await start_daemon()
    status = await daemon.synced()
    async with daemon.client() as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert {"running", "database", "mappings", "jira", "servicenow"} <= set(checks)
        assert checks["jira"]["authenticated"] and checks["servicenow"]["authenticated"]
        assert checks["mappings"]["live"] == ["ops-release"]
        page = await http.get("/")
        assert page.status_code == 200 and "Recent sync actions" in page.text
    assert status["queue"]["dead"] == 0
    assert status["connectors"][0]["name"] == "jira" and status["connectors"][0]["state"] == "ok"
    numbers = {c["number"] for c in daemon.sims.change_requests()}
    links = status["links"]
    assert {link["number"] for link in links} == numbers
    for link in links:
        version_id = link["source"].rsplit(":", 1)[1]
        page = f"{daemon.sims.jira_url}/projects/PAY/versions/{version_id}/tab/release-report-all-issues"
        assert link["jira_url"] == page
        opened = httpx.get(page, timeout=10)  # every URL bridgeline writes opens something real
        assert opened.status_code == 200 and link["release"].split(" ", 1)[1] in opened.text
        assert link["target_url"].startswith(daemon.sims.snow_url + "/change_request.do?sys_id=")
        assert link["release"].startswith("PAY ")
    created = [a for a in status["audit"] if a["action"] == "create"]
    assert {a["number"] for a in created} >= numbers
    assert all(a["duration_ms"] is not None for a in created)


async def test_refused_credentials_make_the_replica_unready(start_daemon: Any) -> None:
    daemon: Daemon = await start_daemon(health_ttl=0)
    async with daemon.client() as http:
        assert (await http.get("/readyz")).status_code == 200
        daemon.sims.set_jira_token("a-token-jira-no-longer-accepts")
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    jira = ready.json()["checks"]["jira"]
    assert jira["ok"] is False and "credentials refused (401)" in jira["error"]


async def test_an_unreachable_target_is_reported_but_keeps_the_replica_ready(start_daemon: Any) -> None:
    with ServedApp(lambda scope, receive, send: None) as gone:
        closed_url = gone.url  # the port is free again once the server is gone
    # no project: nothing is written while ServiceNow is away, so stopping has nothing to wait for
    daemon: Daemon = await start_daemon(health_ttl=0, servicenow={"url": closed_url}, jira={"projects": []})
    async with daemon.client() as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    snow = ready.json()["checks"]["servicenow"]
    assert snow["ok"] is True and snow["authenticated"] is False and "unreachable" in snow["warning"]


async def test_metrics_are_updated_by_the_running_code(start_daemon: Any) -> None:
    before = samples(generate_latest(metrics.REGISTRY).decode())
    daemon: Daemon = await start_daemon()
    async with daemon.client() as http:
        await daemon.synced()
        # a burst of 429s on Jira while the daemon polls: its client waits Retry-After and retries
        async with daemon.client() as sim:
            faults = daemon.sims.jira_url + "/_sim/faults"
            await sim.put(faults, json={"rate_limit_rate": 0.3, "retry_after_seconds": 0.01, "seed": 7})
            for _ in range(100):
                if total(samples((await http.get("/metrics")).text), "bridgeline_api_retries_total") > total(
                    before, "bridgeline_api_retries_total"
                ):
                    break
                await asyncio.sleep(0.1)
            await sim.put(faults, json={"rate_limit_rate": 0.0})
        after_text = (await http.get("/metrics")).text
    after = samples(after_text)

    def grew(name: str, **labels: str) -> bool:
        return total(after, name, **labels) > total(before, name, **labels)

    assert grew("bridgeline_events_received_total", system="jira", kind="version", source="poll")
    assert grew("bridgeline_events_processed_total", system="jira", kind="version", outcome="done")
    assert grew("bridgeline_api_calls_total", system="jira", status="200")
    assert grew("bridgeline_api_calls_total", system="servicenow", method="POST", status="201")
    assert grew("bridgeline_api_call_seconds_count", system="servicenow")
    assert grew("bridgeline_api_rate_limited_total", system="jira")
    assert grew("bridgeline_api_retries_total", system="jira", reason="rate_limited")
    assert grew("bridgeline_writes_total", system="servicenow", action="create")
    assert grew("bridgeline_mapping_render_seconds_count", mapping="ops-release")
    assert total(after, "bridgeline_sync_lag_seconds", connector="jira") < 5
    assert total(after, "bridgeline_queue_depth", state="done") >= 4
    assert total(after, "bridgeline_dead_letters") == 0
    assert total(after, "bridgeline_mappings_loaded") == 1
    assert total(after, "bridgeline_oldest_pending_seconds") == 0
    assert total(after, "bridgeline_connector_up", system="jira") == 1
    assert total(after, "bridgeline_info") == 1
    assert 'endpoint="/rest/api/3/version/{id}"' in after_text  # endpoint templates, not raw URLs


async def test_stopping_drains_and_closes_the_server(start_daemon: Any) -> None:
    daemon: Daemon = await start_daemon()
    await daemon.synced()
    daemon.stop.set()
    await asyncio.wait_for(daemon.task, 10)
    assert daemon.service.worker.in_flight == 0
    async with daemon.client() as http:
        try:
            await http.get("/healthz")
        except Exception as exc:  # the port is closed
            assert "connect" in type(exc).__name__.lower() or "connect" in str(exc).lower()
        else:
            raise AssertionError("the server still answers after stopping")

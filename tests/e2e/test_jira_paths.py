"""Polling and webhooks converge: the records and links the webhook path makes are exactly the ones the
poll path wants, whether Jira delivers in order or duplicated, late and out of order."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bridgeline.config import Settings
from bridgeline.sync.service import Service

from .conftest import Sims, make_settings
from .test_jira_webhooks import Bridgeline, wait_for_deliveries, with_secret

IN_ORDER: dict[str, Any] = {}
CHAOS: dict[str, Any] = {
    "duplicate_rate": 1.0,
    "delay_ms": 50,
    "delay_jitter_ms": 150,
    "reorder_window_ms": 400,
    "seed": 11,
}


def open_versions(sims: Sims, project: str) -> list[dict[str, Any]]:
    with sims.jira_api() as api:
        return [
            v
            for v in api.get(f"/project/{project}/versions").json()
            if not v["released"] and not v["archived"]
        ]


def issues_in(sims: Sims, version_id: str) -> list[dict[str, Any]]:
    with sims.jira_api() as api:
        body = api.get(
            "/search/jql", params={"jql": f"fixVersion = {version_id} ORDER BY key", "fields": "summary"}
        ).json()
        return list(body["issues"])


def edit_jira(sims: Sims) -> set[str]:
    """What people do in Jira during a day; the releases it touches."""
    v1, v2 = open_versions(sims, "PAY")[:2]
    staying, moving = issues_in(sims, v1["id"])[:2]
    with sims.jira_api() as api:
        for summary in ("Retry card payments twice", "Retry card payments three times"):
            api.put(f"/issue/{staying['id']}", json={"fields": {"summary": summary}}).raise_for_status()
        created = api.post(
            "/issue",
            json={
                "fields": {
                    "project": {"key": "PAY"},
                    "issuetype": {"name": "Task"},
                    "summary": "Rotate the signing keys",
                    "fixVersions": [{"id": v2["id"]}],
                }
            },
        )
        assert created.status_code == 201, created.text
        api.put(
            f"/issue/{moving['id']}", json={"fields": {"fixVersions": [{"id": v2["id"]}]}}
        ).raise_for_status()
        api.put(f"/version/{v2['id']}", json={"name": v2["name"] + "-rc"}).raise_for_status()
        comment = {"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph"}]}}
        comment["body"]["content"][0]["content"] = [{"type": "text", "text": "CAB on Tuesday"}]
        api.post(f"/issue/{staying['id']}/comment", json=comment).raise_for_status()
    return {f"jira:version:{v['id']}" for v in (v1, v2)}


def payments_only(settings: Settings) -> Settings:
    """One project keeps the run short; the paths are the same for every project."""
    assert settings.jira is not None
    return settings.model_copy(update={"jira": settings.jira.model_copy(update={"projects": ["PAY"]})})


async def active_links(service: Service) -> dict[tuple[str, str], tuple[str, str]]:
    """(mapping, key) -> (target record, hash of what was pushed), for every live link."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for top in await service.store.list_links(limit=10_000):
        for link in [top, *await service.store.children_of(top.id or 0)]:
            if link.state == "active":
                out[(link.mapping, link.key)] = (link.target.id, link.pushed.hash)
    return out


@pytest.mark.parametrize("delivery", [IN_ORDER, CHAOS], ids=["in-order", "duplicated-late-reordered"])
def test_the_webhook_path_makes_the_records_the_poll_path_wants(
    sims: Sims, database_url: str, e2e_mappings: Path, tmp_path: Path, delivery: dict[str, Any]
) -> None:
    settings = payments_only(with_secret(make_settings(sims, database_url, e2e_mappings)))
    sims.jira.webhook_options.update(
        {"retry_base_seconds": 0.05, "retry_max_seconds": 0.2, "timeout_seconds": 5, **delivery}
    )
    with Bridgeline(settings) as bridgeline:
        first = bridgeline.call(bridgeline.service.sync_once())
        assert first.dead == 0 and first.writes > 0
        bridgeline.register_webhook()
        sims.snow_calls.clear()
        touched = edit_jira(sims)
        # the workers run while deliveries still arrive, late and out of order
        deadline = time.monotonic() + 20
        while sims.jira.dispatcher.status()["drained"] is False or bridgeline.pending():
            assert time.monotonic() < deadline, sims.jira.dispatcher.status()
            bridgeline.call(bridgeline.service.drain())
            time.sleep(0.05)
        wait_for_deliveries(sims)
        bridgeline.call(bridgeline.service.drain())
        assert bridgeline.call(bridgeline.service.store.queue_depth()).get("dead", 0) == 0
        webhook_writes = sims.snow_calls.writes()
        rows = bridgeline.call(bridgeline.service.store.inbox_rows(limit=1000))
        assert {r.entity for r in rows if r.source == "webhook"} >= touched
        by_webhook = bridgeline.call(active_links(bridgeline.service))
    deliveries = sims.jira.webhook_deliveries()
    assert all(d["state"] == "delivered" for d in deliveries)
    if delivery is CHAOS:
        assert any(d["duplicate"] for d in deliveries), "Jira delivered some twice"
    assert {w["method"] for w in webhook_writes} >= {"POST", "PATCH"}, "new task, changed fields"

    # the poll path, from scratch, against the same Jira and ServiceNow (so it is told to look for the
    # records an earlier bridgeline made): it wants nothing changed
    polled = payments_only(make_settings(sims, f"sqlite:///{tmp_path / 'poll.db'}", e2e_mappings))
    assert polled.servicenow is not None
    polled.servicenow = polled.servicenow.model_copy(update={"look_before_create": "always"})
    sims.snow_calls.clear()
    with Bridgeline(polled) as poller:
        report = poller.call(poller.service.sync_once())
        assert report.dead == 0
        assert sims.snow_calls.writes() == [], "every record already is what polling would make"
        by_poll = poller.call(active_links(poller.service))
    assert by_poll == by_webhook

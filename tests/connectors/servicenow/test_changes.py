"""ServiceNow changes coming back: the poller (cursor, owned records, de-duplication) and the
notification webhook (signature or token, de-duplication, refusals), over real sockets."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bridgeline.config import settings_from_values
from bridgeline.connectors.servicenow import ServiceNowChanges, ServiceNowTarget, signature
from bridgeline.daemon import listen, make_server
from bridgeline.model import EntityRef, Link, Snapshot, TargetRef
from bridgeline.server import create_app
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.store import Store
from bridgeline.sync.service import Service
from bridgeline.sync.targets import ServiceNowPoller

from .conftest import Snow

SECRET = "s3cret"
TOKEN = "t0ken"


async def own(store: Store, target: TargetRef, key: str) -> None:
    """Record a link, as reconciling does after a create."""
    await store.record(
        link=Link(
            mapping="m",
            key=key,
            source=EntityRef.parse(key),
            target=target,
            correlation_id=key,
            pushed=Snapshot.of({}),
        )
    )


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    s = await Store.open(sqlite_url)
    yield s
    await s.close()


def poller(store: Store, table: ServiceNowTarget, overlap: float = 120) -> ServiceNowPoller:
    changes = ServiceNowChanges(table.client, overlap_seconds=overlap, own_user="bridgeline.integration")
    return ServiceNowPoller(store, changes, interval=1)


async def pending(store: Store) -> list[str]:
    return sorted(r.entity for r in await store.inbox_rows(state="pending"))


async def test_poll_reports_changes_to_owned_records_once(
    store: Store, table: ServiceNowTarget, snow: Snow
) -> None:
    mine = await table.create(
        "change_request", {"short_description": "mine", "state": "assess"}, correlation_id="a"
    )
    task = await table.create(
        "change_task", {"short_description": "t"}, correlation_id="b", parent=mine.target
    )
    await table.create("change_request", {"short_description": "not linked"}, correlation_id="c")
    await own(store, mine.target, "jira:version:1")
    await own(store, task.target, "jira:issue:1")
    p = poller(store, table)
    assert await p.poll() == 2  # first sight of each owned record: its history is unknown
    assert p.lag() is not None
    await store.claim("w", limit=10, lease_seconds=60)  # (taken by a worker)
    assert await p.poll() == 0  # the overlap re-reads them, the marks drop them
    await table.update(mine.target, {"short_description": "mine, renamed"})
    assert await p.poll() == 0  # exactly one update since the last poll, and it was bridgeline's own
    snow.sim.approve(mine.target.number or "")  # the CAB: an update by someone else
    assert await p.poll() == 1
    assert f"servicenow:change_request:{mine.target.id}" in await pending(store)
    assert await p.poll() == 0  # the overlap re-reads it, the mark drops it
    with httpx.Client(base_url=snow.url, auth=("admin", "admin")) as api:
        api.patch(f"/api/now/table/change_task/{task.target.id}", json={"state": "2"}).raise_for_status()
    assert await p.poll() == 1
    assert f"servicenow:change_task:{task.target.id}" in await pending(store)
    # someone edits, then bridgeline writes, both before the next poll: the last updater is
    # bridgeline, but the answer must not be lost
    with httpx.Client(base_url=snow.url, auth=("admin", "admin")) as api:
        api.patch(f"/api/now/table/change_request/{mine.target.id}", json={"risk": "2"}).raise_for_status()
    await table.update(mine.target, {"short_description": "mine, again"})
    assert await p.poll() == 1
    cursors = await store.cursors()
    assert set(cursors) >= {"servicenow:change_request", "servicenow:change_task"}


async def test_poll_reads_from_the_cursor_minus_the_overlap(
    store: Store, table: ServiceNowTarget, snow: Snow
) -> None:
    snow.sim.clock.freeze(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    early = await table.create("change_request", {"short_description": "early"}, correlation_id="a")
    late = await table.create("change_request", {"short_description": "late"}, correlation_id="b")
    await own(store, early.target, "jira:version:1")
    await own(store, late.target, "jira:version:2")
    with httpx.Client(base_url=snow.url, auth=("admin", "admin")) as api:
        api.patch(
            f"/api/now/table/change_request/{early.target.id}", json={"description": "x"}
        ).raise_for_status()
        snow.sim.clock.freeze(datetime(2025, 3, 1, 10, 0, tzinfo=UTC))
        api.patch(
            f"/api/now/table/change_request/{late.target.id}", json={"description": "x"}
        ).raise_for_status()
    await store.set_cursor("servicenow:change_request", "2025-03-01 10:00:30")
    assert await poller(store, table, overlap=60).poll() == 1  # reads from 09:59:30 on
    assert await pending(store) == [f"servicenow:change_request:{late.target.id}"]
    assert (await store.get_cursor("servicenow:change_request")) == "2025-03-01 10:00:30"


# -- the webhook ------------------------------------------------------------------------------------


@dataclass
class Daemon:
    url: str
    service: Service
    db_dir: Path

    async def post(self, body: bytes, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            return await http.post(
                "/webhooks/servicenow", content=body, headers={"Content-Type": "application/json", **headers}
            )


@pytest.fixture
async def daemon(tmp_path: Path, snow: Snow) -> AsyncIterator[Daemon]:
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    (tmp_path / "mappings").mkdir()
    settings = settings_from_values(
        {
            "database_url": f"sqlite:///{db_dir / 'bridgeline.db'}",
            "mappings": [tmp_path / "mappings"],
            "servicenow": {
                "url": snow.url,
                "username": "bridgeline.integration",
                "password": SERVICENOW_INTEGRATION[1],
                "webhook_secret": SECRET,
                "webhook_token": TOKEN,
            },
        }
    )
    service = await Service.start(settings)
    sock = listen("127.0.0.1", 0)
    server = make_server(create_app(service))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield Daemon(f"http://127.0.0.1:{sock.getsockname()[1]}", service, db_dir)
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    await service.aclose()


def notification(sys_id: str = "9d3f0c1e2b4a4f6e8a7b6c5d4e3f2a1b", **extra: str) -> bytes:
    body = {
        "table": "change_request",
        "sys_id": sys_id,
        "number": "CHG0030007",
        "operation": "update",
        "sys_mod_count": "4",
        "sys_updated_on": "2025-03-01 10:00:00",
        "sys_updated_by": "alex.mercer",
        **extra,
    }
    return json.dumps(body).encode()


async def test_a_signed_notification_becomes_one_event_even_when_delivered_twice(daemon: Daemon) -> None:
    body = notification()
    headers = {"X-Bridgeline-Signature": signature(SECRET, body), "X-Bridgeline-Delivery": "d-1"}
    first = await daemon.post(body, **headers)
    assert first.status_code == 202, first.text
    assert first.json()["entity"] == "servicenow:change_request:9d3f0c1e2b4a4f6e8a7b6c5d4e3f2a1b"
    again = await daemon.post(body, **headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    rows = await daemon.service.store.inbox_rows()
    assert [(r.entity, r.events, r.source) for r in rows] == [
        ("servicenow:change_request:9d3f0c1e2b4a4f6e8a7b6c5d4e3f2a1b", 1, "webhook")
    ]


async def test_the_bearer_token_is_accepted_instead_of_a_signature(daemon: Daemon) -> None:
    r = await daemon.post(notification(), Authorization=f"Bearer {TOKEN}", **{"X-Bridgeline-Delivery": "d-2"})
    assert r.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Bridgeline-Signature": "sha256=" + "0" * 64},
        {"X-Bridgeline-Signature": signature("another secret", notification())},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
    ],
)
async def test_unauthenticated_calls_are_refused_and_store_nothing(
    daemon: Daemon, headers: dict[str, str]
) -> None:
    r = await daemon.post(notification(), **headers)
    assert r.status_code == 401
    assert await daemon.service.store.inbox_rows() == []


async def test_a_signature_over_other_bytes_is_refused(daemon: Daemon) -> None:
    signed = signature(SECRET, notification())
    r = await daemon.post(notification(number="CHG0030008"), **{"X-Bridgeline-Signature": signed})
    assert r.status_code == 401


async def test_bad_json_and_foreign_tables_are_400_after_authentication(daemon: Daemon) -> None:
    for body in (b"{not json", json.dumps({"table": "incident", "sys_id": "x"}).encode(), b"[]"):
        r = await daemon.post(body, **{"X-Bridgeline-Signature": signature(SECRET, body)})
        assert r.status_code == 400, body
    assert await daemon.service.store.inbox_rows() == []


async def test_bridgelines_own_writes_are_not_enqueued(daemon: Daemon) -> None:
    body = notification(sys_updated_by="bridgeline.integration")
    r = await daemon.post(body, **{"X-Bridgeline-Signature": signature(SECRET, body)})
    assert r.status_code == 200 and r.json()["accepted"] == 0
    assert await daemon.service.store.inbox_rows() == []


async def test_the_database_away_is_503_so_the_sender_may_retry(daemon: Daemon) -> None:
    await daemon.service.store.engine.dispose()
    shutil.rmtree(daemon.db_dir)
    body = notification()
    r = await daemon.post(body, **{"X-Bridgeline-Signature": signature(SECRET, body)})
    assert r.status_code == 503 and r.headers["Retry-After"]


async def test_the_simulators_business_rule_calls_are_accepted(daemon: Daemon, snow: Snow) -> None:
    """The simulator sends what integrations/servicenow/bridgeline_notify.js sends."""
    snow.sim.register_outbound(daemon.url + "/webhooks/servicenow", secret=SECRET)
    with httpx.Client(base_url=snow.url, auth=("beth.anguiano", "change")) as api:
        row = api.get("/api/now/table/change_request", params={"sysparm_query": "number=CHG0030006"}).json()
        sys_id = row["result"][0]["sys_id"]
        api.patch(f"/api/now/table/change_request/{sys_id}", json={"description": "x"}).raise_for_status()
    deadline = asyncio.get_running_loop().time() + 10
    while not await daemon.service.store.inbox_rows():
        assert asyncio.get_running_loop().time() < deadline, "no notification arrived"
        await asyncio.sleep(0.05)
    [row_] = await daemon.service.store.inbox_rows()
    assert row_.entity == f"servicenow:change_request:{sys_id}"

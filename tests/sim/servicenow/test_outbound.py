"""Outbound notifications standing in for the Business Rule: signed, skipping the integration user."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridgeline.sim import serve_in_thread
from bridgeline.sim.servicenow import ServiceNowSimulator

SECRET = "s3cret-for-tests"
CHANGES = "/api/now/table/change_request"


@dataclass
class Receiver:
    """A webhook endpoint that records what it gets and can be told to fail the first N calls."""

    url: str = ""
    fail_first: int = 0
    status_on_failure: int = 503
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.received.append((dict(request.headers), body))
            failing = len(self.received) <= self.fail_first
        return Response(status_code=self.status_on_failure if failing else 204)

    def payloads(self) -> list[dict[str, str]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks/servicenow", receiver.handle, methods=["POST"])])
    with serve_in_thread(app) as server:
        receiver.url = f"{server.url}/hooks/servicenow"
        yield receiver


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Receiver:
    _receiver_server.received.clear()
    _receiver_server.fail_first = 0
    return _receiver_server


def _register(admin_api: httpx.Client, receiver: Receiver, **extra: object) -> None:
    answer = admin_api.put("/_sim/outbound", json={"url": receiver.url, "secret": SECRET, **extra})
    assert answer.status_code == 200 and answer.json()["target"]["secret"] == "********"


def test_updates_by_people_are_posted_and_signed(
    receiver: Receiver, api: httpx.Client, admin_api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    _register(admin_api, receiver)
    change = snow.state.change("CHG0030006")
    admin_api.patch(f"{CHANGES}/{change['sys_id']}", json={"state": "-4"})
    assert snow.wait_for_outbox(5)
    [(headers, body)] = receiver.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-bridgeline-signature"], expected)
    assert headers["content-type"] == "application/json"
    assert uuid.UUID(headers["x-bridgeline-delivery"])
    stored = snow.state.change("CHG0030006")
    assert json.loads(body) == {
        "table": "change_request",
        "sys_id": change["sys_id"],
        "number": "CHG0030006",
        "operation": "update",
        "sys_mod_count": stored["sys_mod_count"],
        "sys_updated_on": stored["sys_updated_on"],
        "sys_updated_by": "admin",
    }


def test_the_integration_users_own_writes_are_not_echoed(
    receiver: Receiver, api: httpx.Client, admin_api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    _register(admin_api, receiver)
    created = api.post(CHANGES, json={"short_description": "From Jira", "state": "-4"}).json()["result"]
    api.post(
        "/api/now/table/change_task", json={"change_request": created["sys_id"], "short_description": "t"}
    )
    snow.approve(created["number"], approver="alex.mercer")
    admin_api.post(
        "/api/now/table/change_task", json={"change_request": created["sys_id"], "short_description": "u"}
    )
    admin_api.post("/api/now/table/sys_user", json={"user_name": "new.person"})  # not a change table
    assert snow.wait_for_outbox(5)
    assert [(p["table"], p["operation"], p["sys_updated_by"]) for p in receiver.payloads()] == [
        ("change_request", "update", "alex.mercer"),
        ("change_task", "insert", "admin"),
    ]
    status = admin_api.get("/_sim/outbound").json()
    assert status["counters"]["skipped"] == 2 and status["counters"]["delivered"] == 2


def test_bearer_token_instead_of_a_signature_and_deletes(
    receiver: Receiver, admin_api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    admin_api.put("/_sim/outbound", json={"url": receiver.url, "token": "hook-token", "skip_user": None})
    change = snow.state.change("CHG0030006")
    assert admin_api.delete(f"{CHANGES}/{change['sys_id']}").status_code == 204
    assert snow.wait_for_outbox(5)
    [(headers, body)] = receiver.received
    assert headers["authorization"] == "Bearer hook-token" and "x-bridgeline-signature" not in headers
    assert json.loads(body)["operation"] == "delete" and json.loads(body)["sys_updated_by"] == "admin"


def test_failed_deliveries_are_retried_with_the_same_delivery_id(
    receiver: Receiver, admin_api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    admin_api.put("/_sim/settings", json={"outbound_backoff_seconds": 0.01})
    _register(admin_api, receiver)
    receiver.fail_first = 2
    change = snow.state.change("CHG0030006")
    admin_api.patch(f"{CHANGES}/{change['sys_id']}", json={"description": "retry me"})
    assert snow.wait_for_outbox(5)
    ids = [headers["x-bridgeline-delivery"] for headers, _ in receiver.received]
    assert len(ids) == 3 and len(set(ids)) == 1
    [delivery] = admin_api.get("/_sim/outbound").json()["deliveries"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3


def test_a_delivery_that_keeps_failing_is_given_up(
    receiver: Receiver, admin_api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    admin_api.put("/_sim/settings", json={"outbound_backoff_seconds": 0.01, "outbound_max_attempts": 3})
    _register(admin_api, receiver)
    receiver.fail_first = 100
    change = snow.state.change("CHG0030006")
    admin_api.patch(f"{CHANGES}/{change['sys_id']}", json={"description": "never arrives"})
    drained = admin_api.post("/_sim/outbound/wait", params={"timeout": 5}).json()
    assert drained["drained"] is True and drained["counters"]["failed"] == 1
    assert len(receiver.received) == 3

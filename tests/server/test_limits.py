"""Every endpoint that takes a body bounds it while reading: its size (declared or chunked, before
any signature or token is checked), the time it may take to arrive, its nesting, its text. Bad
input is a 4xx that says what is wrong, never a 500, and never costs the kept-alive connection."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest

from bridgeline.connectors.jira.webhooks import sign
from bridgeline.connectors.servicenow import signature

from .conftest import Daemon, Wire

JIRA_HOOK = "limits-jira-hook-4f1a"
SNOW_HOOK = "limits-snow-hook-77b2"
LIMIT = 65_536


@dataclass(frozen=True)
class Endpoint:
    """A route that may be sent a body, and how a valid caller signs or authenticates one."""

    path: str
    kind: str  # json | form

    def headers(self, daemon: Daemon, body: bytes) -> dict[str, str]:
        if self.path == "/webhooks/jira":
            return {"Content-Type": "application/json", "X-Hub-Signature": sign(JIRA_HOOK, body)}
        if self.path == "/webhooks/servicenow":
            return {"Content-Type": "application/json", "X-Bridgeline-Signature": signature(SNOW_HOOK, body)}
        kind = "application/json" if self.kind == "json" else "application/x-www-form-urlencoded"
        return {"Content-Type": kind, "Authorization": f"Bearer {daemon.admin_token}"}


WEBHOOKS = [Endpoint("/webhooks/jira", "json"), Endpoint("/webhooks/servicenow", "json")]
PREVIEWS = [Endpoint("/api/preview", "json"), Endpoint("/status/preview", "form")]
FORMS = [
    Endpoint("/status/login", "form"),
    Endpoint("/status/dead-letters/replay", "form"),
    Endpoint("/api/dead-letters/jira:version:1/replay", "json"),  # takes no body: one sent is still bounded
]
EVERY = [*WEBHOOKS, *PREVIEWS, *FORMS]


def ids(endpoints: list[Endpoint]) -> list[str]:
    return [e.path for e in endpoints]


async def start(start_daemon: Any, database_url: str | None = None, **server: Any) -> Daemon:
    daemon: Daemon = await start_daemon(
        database_url=database_url,
        jira={"webhook_secret": JIRA_HOOK, "poll_interval": 3600},
        servicenow={"webhook_secret": SNOW_HOOK},
        server={"max_body_bytes": LIMIT, **server},
    )
    return daemon


def limit_of(endpoint: Endpoint) -> int:
    return LIMIT if endpoint in WEBHOOKS or endpoint in PREVIEWS else min(16_384, LIMIT)


@pytest.mark.parametrize("endpoint", EVERY, ids=ids(EVERY))
async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    start_daemon: Any, endpoint: Endpoint
) -> None:
    daemon = await start(start_daemon)
    wire = await Wire.open(daemon)
    try:
        # unsigned and without a token: the size is refused before anything else is looked at
        await wire.send_head("POST", endpoint.path, {"Content-Length": str(limit_of(endpoint) + 1)})
        answer = await wire.answer()
        assert answer.status == 413, answer.body
        assert f"larger than {limit_of(endpoint)} bytes" in answer.json()["error"]
        assert answer.headers["connection"] == "close"
        await wire.server_closes()
    finally:
        await wire.close()


@pytest.mark.parametrize("endpoint", EVERY, ids=ids(EVERY))
async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    start_daemon: Any, endpoint: Endpoint
) -> None:
    daemon = await start(start_daemon)
    wire = await Wire.open(daemon)
    offered = 200 * LIMIT  # far more than the limit: the answer must come long before all is sent
    sent = 0

    async def stream() -> None:
        nonlocal sent
        chunk = b"x" * 8192
        try:
            while sent < offered:
                await wire.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except ConnectionError:
            pass  # the server closed the connection after its answer

    try:
        # a caller that may use the endpoint (a webhook's signature is checked on the whole body)
        head = {**endpoint.headers(daemon, b""), "Transfer-Encoding": "chunked"}
        await wire.send_head("POST", endpoint.path, head)
        sender = asyncio.create_task(stream())
        answer = await wire.answer()
        assert answer.status == 413, answer.body
        assert "larger than" in answer.json()["error"]
        await wire.server_closes()
        await sender
        assert sent < offered  # refused while the client was still sending
    finally:
        await wire.close()


@pytest.mark.parametrize("endpoint", EVERY, ids=ids(EVERY))
async def test_a_body_that_stalls_is_refused_and_its_connection_closed(
    start_daemon: Any, endpoint: Endpoint
) -> None:
    daemon = await start(start_daemon, body_timeout=0.5)
    wire = await Wire.open(daemon)
    try:
        await wire.send_head(
            "POST", endpoint.path, {**endpoint.headers(daemon, b""), "Content-Length": "1000"}
        )
        await wire.send(b'{"webhookEvent": ')
        answer = await wire.answer(timeout=10)
        assert answer.status == 408
        assert "did not arrive within 0.5 s (server.body_timeout)" in answer.json()["error"]
        await wire.server_closes(timeout=5)
    finally:
        await wire.close()


async def test_two_hundred_stalled_bodies_are_all_closed_while_the_server_keeps_answering(
    start_daemon: Any,
) -> None:
    daemon = await start(start_daemon, body_timeout=1.0)
    wires = [await Wire.open(daemon) for _ in range(200)]
    try:
        for wire in wires:
            await wire.send_head("POST", "/webhooks/jira", {"Content-Length": str(LIMIT)})
            await wire.send(b"{" + b" " * 4000)
        began = time.monotonic()
        async with daemon.stranger() as http:
            assert (await http.get("/healthz")).status_code == 200
        # every one of them is answered and closed: the server holds nothing for them any more
        answers = await asyncio.gather(*(w.answer(timeout=20) for w in wires))
        assert {a.status for a in answers} == {408}
        await asyncio.gather(*(w.server_closes(timeout=20) for w in wires))
        assert time.monotonic() - began < 30
        async with daemon.stranger() as http:
            assert (await http.get("/healthz")).status_code == 200
    finally:
        for wire in wires:
            await wire.close()


def deep(levels: int) -> bytes:
    return b'{"webhookEvent": "jira:issue_updated", "issue": ' + b"[" * levels + b"]" * levels + b"}"


SURROGATE = rb'{"webhookEvent": "jira:issue_updated\ud800", "table": "change_request", "sys_id": "\ud800"}'
LONG = "A" * 400


def jira_issue(issue: dict[str, Any]) -> bytes:
    return json.dumps({"webhookEvent": "jira:issue_updated", "issue": issue}).encode()


BAD_JSON = {
    "10,000 levels of nesting": (deep(10_000), "levels deep; at most 64 are accepted"),
    "a lone surrogate": (SURROGATE, "lone UTF-16 surrogate"),
    "hello": (b"hello", "not valid JSON"),
    "bytes that are not UTF-8": (b'{"a": "\xff"}', "not UTF-8"),
}
LONG_IDS = {
    "a 400-character issue key": (jira_issue({"key": f"{LONG}-1"}), "issue key is 402 characters long"),
    "a 400-digit issue id": (jira_issue({"id": "9" * 400}), "issue id has 400 digits"),
    "a 400-digit id as a number": (
        b'{"webhookEvent": "jira:version_updated", "version": {"id": ' + b"9" * 400 + b"}}",
        "version id has 400 digits",
    ),
    "an issue URL with a 400-digit id": (
        jira_issue({"self": "https://jira.example/rest/api/2/issue/" + "7" * 400}),
        "issue in the URL has 400 digits",
    ),
}
GOOD_JIRA = jira_issue({"id": "10001", "key": "PAY-1", "fields": {"fixVersions": [{"id": "10003"}]}})
GOOD_SNOW = json.dumps({"table": "change_request", "sys_id": "a" * 32}).encode()


def as_body(endpoint: Endpoint, payload: bytes) -> bytes:
    if endpoint.path == "/api/preview":
        # the preview takes {"mapping", "input"}: the bad part goes where the input goes
        return b'{"mapping": "ops-release", "input": ' + payload + b"}" if payload[:1] == b"{" else payload
    if endpoint.path == "/status/preview":
        return b"mapping=ops-release&payload=" + quote_from_bytes(payload).encode()
    return payload


def good_body(endpoint: Endpoint) -> bytes:
    if endpoint.path == "/webhooks/servicenow":
        return GOOD_SNOW
    if endpoint.path == "/webhooks/jira":
        return GOOD_JIRA
    version = {"id": "10003", "name": "3.3.0", "description": "d", "released": False, "archived": False}
    return as_body(endpoint, json.dumps({"version": version, "project": {"key": "PAY"}}).encode())


@pytest.mark.parametrize("endpoint", [*WEBHOOKS, *PREVIEWS], ids=ids([*WEBHOOKS, *PREVIEWS]))
async def test_bad_json_is_a_400_that_says_why_and_keeps_the_connection(
    database_url: str, start_daemon: Any, endpoint: Endpoint
) -> None:  # the database first: it is dropped after the daemon that uses it has stopped
    daemon = await start(start_daemon, database_url=database_url)
    cases = dict(BAD_JSON)
    if endpoint.path == "/status/preview":  # a form's text is decoded by the form parser, not here
        del cases["bytes that are not UTF-8"]
    if endpoint.path == "/webhooks/jira":
        cases.update(LONG_IDS)
    if endpoint.path == "/webhooks/servicenow":
        body = json.dumps({"table": "change_request", "sys_id": "f" * 400}).encode()
        cases["a 400-character sys_id"] = (body, "'sys_id' is 400 characters long")
    wire = await Wire.open(daemon)
    try:
        for what, (payload, reason) in cases.items():
            body = as_body(endpoint, payload)
            answer = await wire.request("POST", endpoint.path, body, endpoint.headers(daemon, body))
            if endpoint.path == "/status/preview":  # a page, with the reason shown in it
                assert answer.status in (400, 422), (what, answer.status)
                assert reason in answer.body.decode(), what
            else:
                assert answer.status == 400, (what, answer.status, answer.body)
                assert reason in answer.json()["error"], (what, answer.json())
            assert "connection" not in answer.headers, what
            # the same connection carries the next request
            good = good_body(endpoint)
            after = await wire.request("POST", endpoint.path, good, endpoint.headers(daemon, good))
            assert after.status in (200, 202), (what, after.status, after.body)
    finally:
        await wire.close()


async def test_a_long_delivery_id_is_stored_safely(database_url: str, start_daemon: Any) -> None:
    daemon = await start(start_daemon, database_url=database_url)
    async with daemon.stranger() as http:
        for _ in range(2):
            answer = await http.post(
                "/webhooks/servicenow",
                content=GOOD_SNOW,
                headers={
                    "X-Bridgeline-Signature": signature(SNOW_HOOK, GOOD_SNOW),
                    "X-Bridgeline-Delivery": "d" * 5000,
                },
            )
            assert answer.status_code in (200, 202), answer.text
    assert answer.json().get("duplicate") is True  # the second is known as the same delivery


async def test_the_preview_runs_off_the_event_loop_and_refuses_what_is_too_large(start_daemon: Any) -> None:
    daemon: Daemon = await start_daemon(server={"max_body_bytes": 16 * 1024 * 1024})
    issues = [
        {"id": str(20000 + i), "key": f"PAY-{i}", "fields": {"summary": f"Issue {i} of a very large release"}}
        for i in range(60_000)
    ]
    version = {"id": "10003", "name": "3.3.0", "description": "d", "released": False, "archived": False}
    body = {
        "mapping": "ops-release",
        "input": {"version": version, "project": {"key": "PAY"}, "issues": issues},
    }
    async with daemon.client(timeout=120) as http:
        began = time.monotonic()
        preview = asyncio.create_task(http.post("/api/preview", json=body))
        waits: list[float] = []
        while not preview.done():
            asked = time.monotonic()
            assert (await http.get("/healthz")).status_code == 200
            waits.append(time.monotonic() - asked)
        rendered = await preview
        took = time.monotonic() - began
        assert rendered.status_code == 200, rendered.text[:300]
        assert len(rendered.json()["children"]) == 60_000
    # the probe was answered again and again while the preview ran, never held for most of it
    # (rendered on the event loop, the one probe sent meanwhile waits until the preview is done)
    assert len(waits) >= 3, (took, waits)
    assert max(waits) < took / 3, (took, max(waits))

    body["input"]["issues"] = issues[:1000]  # about 100 kB; small enough to be sent before the answer
    small: Daemon = await start(start_daemon)
    async with small.client() as http:
        refused = await http.post("/api/preview", json=body)
    assert refused.status_code == 413 and "larger than 65536 bytes" in refused.json()["error"]


async def test_a_refused_request_leaves_its_connection_to_the_next(start_daemon: Any) -> None:
    daemon = await start(start_daemon)
    token = {"Authorization": f"Bearer {daemon.admin_token}"}
    refused = [
        ("/api/status", "GET", b"", {"Host": "attacker.example"}, 400),
        ("/api/preview", "POST", b'{"mapping": "x"}', {**token, "Origin": "https://evil.example"}, 403),
        ("/api/preview", "POST", b"mapping=x", {**token, "Content-Type": "text/plain"}, 415),
        ("/api/preview", "POST", b'{"mapping": "x"}', {"Content-Type": "application/json"}, 401),
        ("/webhooks/jira", "POST", GOOD_JIRA, {"X-Hub-Signature": "sha256=00"}, 401),
        (
            "/api/dead-letters/jira:version:1/drop",
            "POST",
            b"{}",
            {**token, "Content-Type": "application/json"},
            404,
        ),
    ]
    wire = await Wire.open(daemon)
    try:
        for path, method, body, headers, status in refused:
            answer = await wire.request(method, path, body, headers)
            assert answer.status == status, (path, answer.status, answer.body)
            assert answer.json().get("error") or answer.json().get("detail"), path
            assert "connection" not in answer.headers, path
            ok = await wire.request("GET", "/healthz")
            assert ok.status == 200, path  # on the same connection
    finally:
        await wire.close()

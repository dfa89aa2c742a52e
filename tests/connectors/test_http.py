"""The shared HTTP client: which failures are retried, how long it waits, and what errors say.

Mocked at the transport only (respx), never our own code.
"""

from __future__ import annotations

import time

import httpx
import pytest
import respx

from bridgeline.connectors.http import HttpClient, RetryPolicy, endpoint_template, parse_retry_after
from bridgeline.connectors.jira import jira_error_parser
from bridgeline.errors import AuthenticationFailed, NotFound, RateLimited, RemoteRejected, RemoteUnavailable

BASE = "https://example.test"
FAST = RetryPolicy(attempts=4, initial=0.001, maximum=0.01, total=5, max_retry_after=5)


@pytest.fixture
async def client():
    c = HttpClient("jira", BASE, retry=FAST, error_parser=jira_error_parser)
    yield c
    await c.aclose()


@respx.mock
async def test_5xx_is_retried_until_it_succeeds(client: HttpClient) -> None:
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(502), httpx.Response(500), httpx.Response(200, json={"ok": 1})]
    )
    resp = await client.request("GET", "/x")
    assert resp.json() == {"ok": 1}
    assert route.call_count == 3


@respx.mock
async def test_retries_stop_after_the_policy_and_the_error_is_retryable(client: HttpClient) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(503, json={"errorMessages": ["down"]}))
    with pytest.raises(RemoteUnavailable) as info:
        await client.request("GET", "/x")
    assert route.call_count == FAST.attempts
    assert "503" in str(info.value) and "down" in str(info.value)


@respx.mock
async def test_429_honours_retry_after(client: HttpClient) -> None:
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, json={})]
    )
    started = time.monotonic()
    await client.request("GET", "/x")
    assert time.monotonic() - started >= 0.95
    assert route.call_count == 2


@respx.mock
async def test_a_long_retry_after_goes_back_to_the_engine_instead_of_blocking(client: HttpClient) -> None:
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "600"}))
    with pytest.raises(RateLimited) as info:
        await client.request("GET", "/x")
    assert info.value.retry_after == 600


@respx.mock
async def test_other_4xx_are_not_retried_and_carry_jiras_messages(client: HttpClient) -> None:
    body = {"errorMessages": ["Field 'x' cannot be set."], "errors": {"summary": "required"}}
    route = respx.put(f"{BASE}/issue/1").mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(RemoteRejected) as info:
        await client.request("PUT", "/issue/1", json={})
    assert route.call_count == 1
    assert "Field 'x' cannot be set." in str(info.value) and "summary: required" in str(info.value)
    assert info.value.status == 400 and info.value.details == body


@respx.mock
async def test_401_and_404_are_typed(client: HttpClient) -> None:
    respx.get(f"{BASE}/a").mock(return_value=httpx.Response(401, json={"errorMessages": ["no"]}))
    respx.get(f"{BASE}/b").mock(return_value=httpx.Response(404, json={"errorMessages": ["gone"]}))
    with pytest.raises(AuthenticationFailed):
        await client.request("GET", "/a")
    with pytest.raises(NotFound):
        await client.request("GET", "/b")


@respx.mock
async def test_timeouts_are_retried_for_reads(client: HttpClient) -> None:
    route = respx.get(f"{BASE}/x").mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={})])
    await client.request("GET", "/x")
    assert route.call_count == 2


@respx.mock
async def test_a_create_is_not_repeated_when_its_outcome_is_unknown(client: HttpClient) -> None:
    route = respx.post(f"{BASE}/create").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RemoteUnavailable) as info:
        await client.request("POST", "/create", json={})
    assert route.call_count == 1
    assert info.value.maybe_applied


@respx.mock
async def test_a_create_is_repeated_when_the_server_provably_did_not_act(client: HttpClient) -> None:
    route = respx.post(f"{BASE}/create").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(201, json={"id": 1}),
        ]
    )
    resp = await client.request("POST", "/create", json={})
    assert resp.status_code == 201 and route.call_count == 3


@respx.mock
async def test_near_limit_slows_the_next_call_down() -> None:
    client = HttpClient("jira", BASE, retry=FAST, near_limit_pause=0.3)
    respx.get(f"{BASE}/x").mock(
        return_value=httpx.Response(200, json={}, headers={"X-RateLimit-NearLimit": "true"})
    )
    await client.request("GET", "/x")
    started = time.monotonic()
    await client.request("GET", "/x")
    assert time.monotonic() - started >= 0.25
    await client.aclose()


@respx.mock
async def test_requests_per_second_paces_calls() -> None:
    client = HttpClient("servicenow", BASE, retry=FAST, requests_per_second=20)
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(200, json={}))
    started = time.monotonic()
    for _ in range(6):
        await client.request("GET", "/x")
    assert time.monotonic() - started >= 0.24  # 5 intervals of 50 ms
    await client.aclose()


def test_retry_after_parses_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None


def test_endpoint_labels_are_templates() -> None:
    assert endpoint_template("/rest/api/3/issue/PAY-12/comment") == "/rest/api/3/issue/{id}/comment"
    assert (
        endpoint_template("/api/now/table/change_request/" + "a" * 32) == "/api/now/table/change_request/{id}"
    )
    assert endpoint_template("/rest/api/3/version/10042?x=1") == "/rest/api/3/version/{id}"


@respx.mock
async def test_a_kept_alive_connection_the_server_closed_is_sent_again_quietly(client: HttpClient) -> None:
    from structlog.testing import capture_logs

    from bridgeline import metrics

    def retries() -> float:
        return metrics.API_RETRIES.labels("jira", "stale_connection")._value.get()

    before = retries()
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.Response(200, json={"ok": 1}),
        ]
    )
    with capture_logs() as logs:
        assert (await client.request("GET", "/x")).json() == {"ok": 1}
    assert route.call_count == 2 and retries() == before + 1
    assert [e for e in logs if e["log_level"] in ("warning", "error")] == []


@respx.mock
async def test_a_connection_broken_twice_is_a_warning(client: HttpClient) -> None:
    from structlog.testing import capture_logs

    respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.Response(200, json={}),
        ]
    )
    with capture_logs() as logs:
        await client.request("GET", "/x")
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["retrying call"]

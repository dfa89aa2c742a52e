"""OAuth and the error paths of the ServiceNow connector, with the transport mocked (respx).

Nothing of ours is patched: requests go out through httpx and respx answers them.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from bridgeline.connectors.http import HttpClient
from bridgeline.connectors.servicenow import ServiceNowClient, ServiceNowOAuth, ServiceNowTarget
from bridgeline.connectors.servicenow.client import servicenow_error_parser
from bridgeline.errors import AuthenticationFailed, RemoteRejected, RetryableError

from .conftest import FAST

BASE = "https://acme.service-now.test"
TOKEN_URL = f"{BASE}/oauth_token.do"
CHANGES = f"{BASE}/api/now/table/change_request"
SYS_ID = "9d3f0c1e2b4a4f6e8a7b6c5d4e3f2a1b"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_answers(*tokens: str, expires_in: int = 1800, refresh: str | None = "r-1") -> list[httpx.Response]:
    out = []
    for token in tokens:
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": "useraccount",
        }
        if refresh:
            body["refresh_token"] = refresh
        out.append(httpx.Response(200, json=body))
    return out


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def oauth_client(clock: Clock, grant: str = "password") -> tuple[ServiceNowClient, ServiceNowOAuth]:
    auth = ServiceNowOAuth(
        TOKEN_URL,
        client_id="bridgeline-client",
        client_secret="s3cret",
        grant=grant,
        username="bridgeline.integration" if grant == "password" else None,
        password="pw" if grant == "password" else None,
        refresh_margin=60,
        clock=clock,
    )
    http = HttpClient("servicenow", BASE, auth=auth, retry=FAST, error_parser=servicenow_error_parser)
    return ServiceNowClient(http), auth


def bearer(request: httpx.Request) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


@respx.mock
async def test_password_grant_token_is_fetched_once_and_reused() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=token_answers("t-1"))
    records = respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"result": []}))
    client, auth = oauth_client(Clock())
    async with client.http:
        await client.first("change_request", "active=true")
        await client.first("change_request", "active=true")
    assert token.call_count == 1 and auth.tokens_fetched == 1
    sent = form(token.calls[0].request)
    assert sent["grant_type"] == "password" and sent["username"] == "bridgeline.integration"
    assert sent["client_id"] == "bridgeline-client" and sent["client_secret"] == "s3cret"
    assert [bearer(c.request) for c in records.calls] == ["t-1", "t-1"]


@respx.mock
async def test_a_token_is_refreshed_before_it_expires_with_the_refresh_token() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=token_answers("t-1", "t-2"))
    records = respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"result": []}))
    clock = Clock()
    client, _auth = oauth_client(clock)
    async with client.http:
        await client.first("change_request", "")
        clock.now += 1800 - 59  # inside the refresh margin: not expired yet, but about to
        await client.first("change_request", "")
    assert [form(c.request)["grant_type"] for c in token.calls] == ["password", "refresh_token"]
    assert form(token.calls[1].request)["refresh_token"] == "r-1"
    assert [bearer(c.request) for c in records.calls] == ["t-1", "t-2"]


@respx.mock
async def test_a_401_fetches_a_new_token_once_and_repeats_the_request() -> None:
    respx.post(TOKEN_URL).mock(side_effect=token_answers("t-1", "t-2"))
    records = respx.get(CHANGES).mock(
        side_effect=[
            httpx.Response(401, json={"error": {"message": "User Not Authenticated"}}),
            httpx.Response(200, json={"result": [{"sys_id": SYS_ID}]}),
        ]
    )
    client, _auth = oauth_client(Clock())
    async with client.http:
        row = await client.first("change_request", "")
    assert row == {"sys_id": SYS_ID}
    assert [bearer(c.request) for c in records.calls] == ["t-1", "t-2"]


@respx.mock
async def test_a_second_401_is_an_authentication_failure_not_a_loop() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=token_answers("t-1", "t-2", "t-3"))
    records = respx.get(CHANGES).mock(
        return_value=httpx.Response(
            401,
            json={
                "error": {
                    "message": "User Not Authenticated",
                    "detail": "Required to provide Auth information",
                }
            },
        )
    )
    client, _auth = oauth_client(Clock())
    async with client.http:
        with pytest.raises(AuthenticationFailed) as info:
            await client.first("change_request", "")
    assert records.call_count == 2 and token.call_count == 2
    assert "User Not Authenticated (Required to provide Auth information)" in str(info.value)


@respx.mock
async def test_a_refused_refresh_token_falls_back_to_a_new_grant() -> None:
    token = respx.post(TOKEN_URL).mock(
        side_effect=[
            *token_answers("t-1"),
            httpx.Response(401, json={"error": "server_error", "error_description": "access_denied"}),
            *token_answers("t-2"),
        ]
    )
    respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"result": []}))
    clock = Clock()
    client, _auth = oauth_client(clock)
    async with client.http:
        await client.first("change_request", "")
        clock.now += 3600
        await client.first("change_request", "")
    assert [form(c.request)["grant_type"] for c in token.calls] == ["password", "refresh_token", "password"]


@respx.mock
async def test_refused_client_credentials_say_what_to_check_and_are_not_retried() -> None:
    token = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(401, json={"error": "server_error", "error_description": "access_denied"})
    )
    records = respx.get(CHANGES)
    client, _auth = oauth_client(Clock(), grant="client_credentials")
    async with client.http:
        with pytest.raises(AuthenticationFailed) as info:
            await client.first("change_request", "")
    assert token.call_count == 1 and records.call_count == 0
    assert "client_credentials grant" in str(info.value) and "access_denied" in str(info.value)
    assert form(token.calls[0].request)["grant_type"] == "client_credentials"


@respx.mock
async def test_concurrent_requests_share_one_token_request() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=token_answers("t-1", "t-2"))
    respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"result": []}))
    client, _auth = oauth_client(Clock())
    async with client.http:
        await asyncio.gather(*(client.first("change_request", f"n={i}") for i in range(8)))
    assert token.call_count == 1


@respx.mock
async def test_a_token_endpoint_outage_is_retried() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[httpx.Response(503), *token_answers("t-1")])
    respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"result": []}))
    client, _auth = oauth_client(Clock())
    async with client.http:
        await client.first("change_request", "")
    assert token.call_count == 2


# -- error envelopes and unknown outcomes ---------------------------------------------------------


def table_target(transaction_limit: float = 60.0) -> ServiceNowTarget:
    http = HttpClient(
        "servicenow", BASE, auth=httpx.BasicAuth("u", "p"), retry=FAST, error_parser=servicenow_error_parser
    )
    return ServiceNowTarget(ServiceNowClient(http), base_url=BASE, transaction_limit=transaction_limit)


@respx.mock
async def test_servicenows_error_envelope_becomes_the_message() -> None:
    respx.post(CHANGES).mock(
        return_value=httpx.Response(
            400,
            json={"error": {"message": "Invalid table x", "detail": "no such table"}, "status": "failure"},
        )
    )
    target = table_target()
    with pytest.raises(RemoteRejected) as info:
        await target.create("change_request", {"short_description": "x"}, correlation_id="c")
    await target.aclose()
    assert info.value.status == 400 and "Invalid table x (no such table)" in str(info.value)


@respx.mock
async def test_a_create_that_timed_out_but_happened_is_adopted_not_repeated() -> None:
    post = respx.post(CHANGES).mock(side_effect=httpx.ReadTimeout("slow"))
    respx.get(CHANGES).mock(
        return_value=httpx.Response(
            200, json={"result": [{"sys_id": SYS_ID, "number": "CHG0030042", "state": "-5"}]}
        )
    )
    journal = respx.get(f"{BASE}/api/now/table/sys_journal_field").mock(
        return_value=httpx.Response(200, json={"result": []})
    )
    target = table_target()
    result = await target.create(
        "change_request", {"short_description": "x"}, correlation_id="jira:PAY:version:1"
    )
    await target.aclose()
    assert post.call_count == 1  # never sent twice
    assert result.target.id == SYS_ID and result.target.number == "CHG0030042"
    assert journal.called


@respx.mock
async def test_a_create_that_timed_out_and_is_not_there_waits_out_the_transaction_limit() -> None:
    post = respx.post(CHANGES).mock(side_effect=httpx.ReadTimeout("slow"))
    lookup = respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"result": []}))
    target = table_target(transaction_limit=60)
    with pytest.raises(RetryableError) as info:
        await target.create("change_request", {"short_description": "x"}, correlation_id="jira:PAY:version:1")
    await target.aclose()
    assert post.call_count == 1 and lookup.call_count == 1
    assert info.value.retry_after is not None and 55 < info.value.retry_after <= 60
    assert "jira:PAY:version:1" in str(info.value)


@respx.mock
async def test_a_create_answered_with_500_is_looked_up_and_retried_without_waiting() -> None:
    respx.post(CHANGES).mock(return_value=httpx.Response(500, json={"error": {"message": "boom"}}))
    respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"result": []}))
    target = table_target()
    with pytest.raises(RetryableError) as info:
        await target.create("change_request", {}, correlation_id="c")
    await target.aclose()
    assert info.value.retry_after is None


@respx.mock
async def test_a_create_refused_before_it_ran_is_retried_by_the_client() -> None:
    post = respx.post(CHANGES).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"message": "rate limited"}}),
            httpx.Response(201, json={"result": {"sys_id": SYS_ID, "number": "CHG0030043"}}),
        ]
    )
    target = table_target()
    result = await target.create("change_request", {}, correlation_id="c")
    await target.aclose()
    assert post.call_count == 2 and result.target.number == "CHG0030043"

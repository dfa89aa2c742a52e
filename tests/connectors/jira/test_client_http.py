"""The Jira client at the HTTP level: credentials, Cloud or Data Center, paging, and every retry and
error path, with Jira's own answers played back at the transport (respx), never our own code mocked."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import pytest
import respx

from bridgeline.config import JiraSettings
from bridgeline.connectors.http import RetryPolicy
from bridgeline.connectors.jira import JiraClient
from bridgeline.errors import (
    AuthenticationFailed,
    ConfigError,
    NotFound,
    RateLimited,
    RemoteRejected,
    RemoteUnavailable,
    RetryableError,
    TransitionRefused,
)

BASE = "https://acme.atlassian.net"
FAST = RetryPolicy(attempts=4, initial=0.001, maximum=0.01, total=5, max_retry_after=3)
CLOUD_INFO = {"baseUrl": BASE, "deploymentType": "Cloud", "version": "1001.0.0-SNAPSHOT"}
DC_INFO = {"baseUrl": BASE, "deploymentType": "Server", "version": "9.12.2"}


def cloud_settings(**extra: Any) -> JiraSettings:
    return JiraSettings(url=BASE, email="bridgeline@acme.com", api_token="tok", **extra)


def dc_settings(**extra: Any) -> JiraSettings:
    return JiraSettings(url=BASE, token="pat-123", **extra)


def issue(n: int, updated: str = "2024-05-01T10:00:00.000+0000") -> dict[str, Any]:
    return {"id": str(10000 + n), "key": f"PAY-{n}", "fields": {"updated": updated}}


@pytest.fixture
async def cloud() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/rest/api/2/serverInfo").mock(return_value=httpx.Response(200, json=CLOUD_INFO))
        client = JiraClient.from_settings(cloud_settings(), retry=FAST)
        yield client, mock
        await client.aclose()


@pytest.fixture
async def dc() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/rest/api/2/serverInfo").mock(return_value=httpx.Response(200, json=DC_INFO))
        client = JiraClient.from_settings(dc_settings(), retry=FAST)
        yield client, mock
        await client.aclose()


# -- credentials and deployment --------------------------------------------------------------------


async def test_cloud_logs_in_with_email_and_api_token(cloud: Any) -> None:
    client, mock = cloud
    assert await client.detect() == "cloud"
    sent = mock.calls.last.request.headers["authorization"]
    assert sent == "Basic " + base64.b64encode(b"bridgeline@acme.com:tok").decode()
    assert await client.api() == "/rest/api/3"


async def test_data_center_logs_in_with_a_bearer_personal_access_token(dc: Any) -> None:
    client, mock = dc
    assert await client.detect() == "datacenter"
    assert mock.calls.last.request.headers["authorization"] == "Bearer pat-123"
    assert await client.api() == "/rest/api/2"


async def test_the_first_call_detects_the_deployment_when_auto(dc: Any) -> None:
    client, mock = dc
    mock.get("/rest/api/2/version/10042").mock(return_value=httpx.Response(200, json={"id": "10042"}))
    assert (await client.version("10042"))["id"] == "10042"
    assert [c.request.url.path for c in mock.calls] == ["/rest/api/2/serverInfo", "/rest/api/2/version/10042"]


@respx.mock(base_url=BASE)
async def test_a_configured_deployment_the_server_contradicts_stops_the_start(respx_mock: Any) -> None:
    respx_mock.get("/rest/api/2/serverInfo").mock(return_value=httpx.Response(200, json=CLOUD_INFO))
    client = JiraClient.from_settings(dc_settings(deployment="datacenter"), retry=FAST)
    with pytest.raises(ConfigError, match="says it is Cloud"):
        await client.detect()
    await client.aclose()


@respx.mock(base_url=BASE)
async def test_wrong_credentials_are_typed_and_say_why(respx_mock: Any) -> None:
    respx_mock.get("/rest/api/2/serverInfo").mock(
        return_value=httpx.Response(
            401,
            text="",
            headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"},
        )
    )
    client = JiraClient.from_settings(cloud_settings(), retry=FAST)
    with pytest.raises(AuthenticationFailed) as info:
        await client.detect()
    assert respx_mock.calls.call_count == 1, "a refused login is never retried"
    assert "credentials were not accepted" in str(info.value)
    await client.aclose()


async def test_a_captcha_challenge_is_named_so_a_person_can_clear_it(cloud: Any) -> None:
    client, mock = cloud
    mock.get("/rest/api/3/myself").mock(
        return_value=httpx.Response(
            403,
            json={"errorMessages": ["Forbidden"]},
            headers={"X-Seraph-LoginReason": "AUTHENTICATION_DENIED"},
        )
    )
    with pytest.raises(AuthenticationFailed, match="CAPTCHA"):
        await client.myself()


# -- paging --------------------------------------------------------------------------------------------


async def test_cloud_pages_with_next_page_token_and_asks_only_for_the_fields_given(cloud: Any) -> None:
    client, mock = cloud
    route = mock.get("/rest/api/3/search/jql").mock(
        side_effect=[
            httpx.Response(
                200, json={"issues": [issue(1), issue(2)], "nextPageToken": "t2", "isLast": False}
            ),
            httpx.Response(200, json={"issues": [issue(3)], "isLast": True}),
        ]
    )
    found = await client.search_all("project = PAY ORDER BY updated", fields=["updated", "fixVersions"])
    assert [i["key"] for i in found] == ["PAY-1", "PAY-2", "PAY-3"]
    first, second = (dict(c.request.url.params) for c in route.calls)
    assert "nextPageToken" not in first and second["nextPageToken"] == "t2"
    assert first["fields"] == "updated,fixVersions" and first["jql"] == "project = PAY ORDER BY updated"
    assert "startAt" not in first


async def test_data_center_pages_with_start_at_until_the_total(dc: Any) -> None:
    client, mock = dc
    route = mock.get("/rest/api/2/search").mock(
        side_effect=[
            httpx.Response(
                200, json={"startAt": 0, "maxResults": 2, "total": 3, "issues": [issue(1), issue(2)]}
            ),
            httpx.Response(200, json={"startAt": 2, "maxResults": 2, "total": 3, "issues": [issue(3)]}),
        ]
    )
    pages = [p async for p in client.search_pages("project = PAY", page_size=2)]
    assert [(p.start, p.total, len(p.issues)) for p in pages] == [(0, 3, 2), (2, 3, 1)]
    assert [c.request.url.params["startAt"] for c in route.calls] == ["0", "2"]
    assert route.calls[0].request.url.params["fields"] == "*navigable"


async def test_data_center_follows_what_the_server_returns_when_it_caps_the_page(dc: Any) -> None:
    client, mock = dc
    route = mock.get("/rest/api/2/search").mock(
        side_effect=[
            httpx.Response(200, json={"startAt": 0, "maxResults": 1, "total": 2, "issues": [issue(1)]}),
            httpx.Response(200, json={"startAt": 1, "maxResults": 1, "total": 2, "issues": [issue(2)]}),
        ]
    )
    assert len(await client.search_all("project = PAY", page_size=500)) == 2
    assert [c.request.url.params["startAt"] for c in route.calls] == ["0", "1"]


async def test_cloud_with_a_datacenter_setting_meets_the_removed_search(cloud: Any) -> None:
    _, mock = cloud
    mock.get("/rest/api/2/search").mock(
        return_value=httpx.Response(
            410,
            json={"errorMessages": ["The requested API has been removed. Please migrate to /search/jql."]},
        )
    )
    client = JiraClient.from_settings(cloud_settings(), retry=FAST)
    client.deployment = "datacenter"  # as if misconfigured without detection
    with pytest.raises(RemoteRejected, match="migrate to /search/jql") as info:
        await client.search_all("project = PAY")
    assert info.value.status == 410
    await client.aclose()


# -- retries -------------------------------------------------------------------------------------------


async def test_429_waits_for_retry_after_then_succeeds(cloud: Any) -> None:
    client, mock = cloud
    route = mock.get("/rest/api/3/version/1").mock(
        side_effect=[
            httpx.Response(
                429,
                json={"errorMessages": ["Rate limit exceeded."]},
                headers={"Retry-After": "1", "RateLimit-Reason": "jira-burst-based"},
            ),
            httpx.Response(200, json={"id": "1"}),
        ]
    )
    started = time.monotonic()
    assert (await client.version("1"))["id"] == "1"
    assert time.monotonic() - started >= 0.95
    assert route.call_count == 2


async def test_503_with_retry_after_is_a_rate_limit_too(dc: Any) -> None:
    client, mock = dc
    route = mock.get("/rest/api/2/version/1").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "0"}), httpx.Response(200, json={"id": "1"})]
    )
    await client.version("1")
    assert route.call_count == 2


async def test_a_retry_after_longer_than_the_policy_goes_back_to_the_engine(cloud: Any) -> None:
    client, mock = cloud
    mock.get("/rest/api/3/version/1").mock(return_value=httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(RateLimited) as info:
        await client.version("1")
    assert info.value.retry_after == 120


async def test_5xx_and_timeouts_are_retried_with_backoff(cloud: Any) -> None:
    client, mock = cloud
    route = mock.get("/rest/api/3/project/PAY/versions").mock(
        side_effect=[httpx.Response(502), httpx.ReadTimeout("slow"), httpx.Response(200, json=[{"id": "1"}])]
    )
    assert await client.project_versions("PAY") == [{"id": "1"}]
    assert route.call_count == 3


async def test_5xx_that_never_clears_ends_retryable_with_jiras_message(cloud: Any) -> None:
    client, mock = cloud
    route = mock.get("/rest/api/3/version/1").mock(
        return_value=httpx.Response(500, json={"errorMessages": ["Internal server error"]})
    )
    with pytest.raises(RetryableError, match="Internal server error"):
        await client.version("1")
    assert route.call_count == FAST.attempts


async def test_other_4xx_are_not_retried_and_carry_error_messages_and_errors(cloud: Any) -> None:
    client, mock = cloud
    body = {"errorMessages": ["Issue does not exist"], "errors": {"labels": "Labels cannot contain spaces."}}
    route = mock.put("/rest/api/3/issue/PAY-1").mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(RemoteRejected) as info:
        await client.edit_issue("PAY-1", fields={"labels": ["a b"]})
    assert route.call_count == 1
    assert info.value.status == 400 and info.value.details == body
    assert "Issue does not exist" in str(info.value) and "labels: Labels cannot contain spaces." in str(
        info.value
    )


async def test_404_is_not_found(cloud: Any) -> None:
    client, mock = cloud
    mock.get("/rest/api/3/version/9").mock(
        return_value=httpx.Response(404, json={"errorMessages": ["Could not find version for id '9'"]})
    )
    with pytest.raises(NotFound, match="Could not find version"):
        await client.version("9")


async def test_a_conflicting_edit_is_tried_again(cloud: Any) -> None:
    client, mock = cloud
    client.conflict_retries = 2
    route = mock.put("/rest/api/3/issue/PAY-1").mock(
        side_effect=[
            httpx.Response(409, json={"errorMessages": ["Conflicting update"]}),
            httpx.Response(204),
        ]
    )
    await client.edit_issue("PAY-1", fields={"summary": "x"})
    assert route.call_count == 2
    assert route.calls.last.request.url.params["notifyUsers"] == "false"


async def test_a_conflict_that_keeps_winning_becomes_retryable(cloud: Any) -> None:
    client, mock = cloud
    client.conflict_retries = 1
    mock.put("/rest/api/3/issue/PAY-1").mock(
        return_value=httpx.Response(409, json={"errorMessages": ["busy"]})
    )
    with pytest.raises(RetryableError, match="conflicting edit"):
        await client.edit_issue("PAY-1", fields={"summary": "x"})


async def test_a_comment_whose_answer_was_lost_is_found_not_posted_twice(cloud: Any) -> None:
    client, mock = cloud
    posted = mock.post("/rest/api/3/issue/PAY-1/comment").mock(side_effect=httpx.ReadTimeout("lost"))
    mock.get("/rest/api/3/issue/PAY-1/comment").mock(
        return_value=httpx.Response(
            200,
            json={
                "comments": [
                    {
                        "id": "77",
                        "body": {
                            "type": "doc",
                            "version": 1,
                            "content": [
                                {"type": "paragraph", "content": [{"type": "text", "text": "CAB approved"}]}
                            ],
                        },
                    }
                ]
            },
        )
    )
    comment = await client.add_comment("PAY-1", "CAB approved")
    assert comment["id"] == "77"
    assert posted.call_count == 1


async def test_a_comment_that_did_not_arrive_surfaces_the_error(cloud: Any) -> None:
    client, mock = cloud
    mock.post("/rest/api/3/issue/PAY-1/comment").mock(side_effect=httpx.ReadTimeout("lost"))
    mock.get("/rest/api/3/issue/PAY-1/comment").mock(return_value=httpx.Response(200, json={"comments": []}))
    with pytest.raises(RemoteUnavailable) as info:
        await client.add_comment("PAY-1", "CAB approved")
    assert info.value.maybe_applied


async def test_a_transition_whose_answer_was_lost_is_checked_not_repeated(cloud: Any) -> None:
    client, mock = cloud
    statuses = iter(["Awaiting CAB", "Approved"])
    mock.get("/rest/api/3/issue/PAY-1").mock(
        side_effect=lambda request: httpx.Response(200, json={"fields": {"status": {"name": next(statuses)}}})
    )
    mock.get("/rest/api/3/issue/PAY-1/transitions").mock(
        return_value=httpx.Response(
            200, json={"transitions": [{"id": "31", "name": "Approve", "to": {"name": "Approved"}}]}
        )
    )
    posted = mock.post("/rest/api/3/issue/PAY-1/transitions").mock(side_effect=httpx.ReadTimeout("lost"))
    assert await client.transition("PAY-1", "Approve") is True
    assert posted.call_count == 1
    assert json.loads(posted.calls.last.request.content) == {"transition": {"id": "31"}}


async def test_a_workflow_refusal_names_the_available_transitions(cloud: Any) -> None:
    client, mock = cloud
    mock.get("/rest/api/3/issue/PAY-1").mock(
        return_value=httpx.Response(200, json={"fields": {"status": {"name": "Awaiting CAB"}}})
    )
    mock.get("/rest/api/3/issue/PAY-1/transitions").mock(
        return_value=httpx.Response(
            200, json={"transitions": [{"id": "31", "name": "Approve", "to": {"name": "Approved"}}]}
        )
    )
    mock.post("/rest/api/3/issue/PAY-1/transitions").mock(
        return_value=httpx.Response(400, json={"errors": {"resolution": "Resolution is required."}})
    )
    with pytest.raises(TransitionRefused) as info:
        await client.transition("PAY-1", "Approved")
    assert "Resolution is required." in str(info.value) and "'Approve' (to 'Approved')" in str(info.value)


# -- pacing and concurrency ---------------------------------------------------------------------------


async def test_near_limit_slows_the_client_before_jira_refuses() -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/rest/api/2/serverInfo").mock(return_value=httpx.Response(200, json=CLOUD_INFO))
        mock.get("/rest/api/3/version/1").mock(
            return_value=httpx.Response(
                200,
                json={"id": "1"},
                headers={
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "9",
                    "X-RateLimit-NearLimit": "true",
                },
            )
        )
        client = JiraClient.from_settings(cloud_settings(), retry=FAST)
        client.http.near_limit_pause = 0.3
        await client.version("1")
        started = time.monotonic()
        await client.version("1")
        assert time.monotonic() - started >= 0.25
        await client.aclose()


async def test_at_most_max_concurrency_calls_are_in_flight_on_one_pooled_client() -> None:
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[-1]})

    with respx.mock(base_url=BASE) as mock:
        mock.get("/rest/api/2/serverInfo").mock(return_value=httpx.Response(200, json=CLOUD_INFO))
        mock.get(url__regex=r"/rest/api/3/version/\d+").mock(side_effect=slow)
        client = JiraClient.from_settings(cloud_settings(max_concurrency=3), retry=FAST)
        await client.detect()
        results = await asyncio.gather(*(client.version(str(n)) for n in range(12)))
        assert [r["id"] for r in results] == [str(n) for n in range(12)]
        assert peak == 3
        await client.aclose()

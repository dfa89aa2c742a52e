"""Webhooks as Jira delivers them: filtered, signed, retried, and (on request) late, doubled,
reordered or quirky."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

from .conftest import VIEWER, Receiver, Served

SECRET = "s3cret-shared-with-bridgeline"


def register(
    api: httpx.Client, receiver: Receiver, events: list[str], jql: str = "", **extra: Any
) -> dict[str, Any]:
    body = {"name": "bridgeline", "url": receiver.url, "events": events, "secret": SECRET, **extra}
    if jql:
        body["filters"] = {"issue-related-events-section": jql}
    response = api.post("/rest/webhooks/1.0/webhook", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def drained(cloud: Served) -> None:
    assert cloud.sim.wait_for_webhooks(10), cloud.sim.dispatcher.status()


def test_signed_filtered_issue_update_with_v2_issue_and_changelog(
    cloud: Served, api: httpx.Client, receiver: Receiver
) -> None:
    registered = register(api, receiver, ["jira:issue_updated"], jql="project = PAY")
    assert registered["filters"] == {"issue-related-events-section": "project = PAY"}
    assert [w["name"] for w in api.get("/rest/webhooks/1.0/webhook").json()] == ["bridgeline"]
    api.put("/rest/api/3/issue/WEB-2", json={"update": {"labels": [{"add": "ignored"}]}})
    api.put("/rest/api/3/issue/PAY-2", json={"update": {"labels": [{"add": "cab-approved"}]}})
    drained(cloud)
    assert len(receiver.requests) == 1
    delivery = receiver.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery.headers["x-hub-signature"], expected)
    assert delivery.headers["x-atlassian-webhook-identifier"]
    assert delivery.headers["x-atlassian-webhook-flow"] == "Primary"
    assert "x-atlassian-webhook-retry" not in delivery.headers
    body = delivery.json
    assert body["webhookEvent"] == "jira:issue_updated" and body["issue_event_type_name"] == "issue_updated"
    assert isinstance(body["timestamp"], int)
    assert body["issue"]["key"] == "PAY-2"
    assert isinstance(body["issue"]["fields"]["description"], str), "the v2 representation, even on Cloud"
    assert body["user"]["accountId"] == cloud.sim.state.user("bridgeline").account_id  # type: ignore[union-attr]
    assert body["changelog"]["items"][0]["field"] == "labels"
    assert "cab-approved" in body["changelog"]["items"][0]["toString"]


def test_failing_receiver_is_retried_with_the_same_identifier(
    cloud: Served, api: httpx.Client, receiver: Receiver
) -> None:
    register(api, receiver, ["jira:issue_updated"])
    receiver.statuses.extend([503, 429, 500])
    api.put("/rest/api/3/issue/OPS-2", json={"fields": {"summary": "Retried summary"}})
    drained(cloud)
    assert len(receiver.requests) == 4
    assert len({r.headers["x-atlassian-webhook-identifier"] for r in receiver.requests}) == 1
    assert [r.headers.get("x-atlassian-webhook-retry") for r in receiver.requests] == [None, "1", "2", "3"]
    assert len({r.body for r in receiver.requests}) == 1
    record = cloud.sim.webhook_deliveries()[0]
    assert record["state"] == "delivered" and [a["status"] for a in record["attempts"]] == [
        503,
        429,
        500,
        200,
    ]


def test_client_errors_are_not_retried_and_retries_give_up(
    cloud: Served, api: httpx.Client, receiver: Receiver
) -> None:
    register(api, receiver, ["jira:issue_updated"])
    cloud.sim.webhook_options.update({"max_retries": 2})
    receiver.statuses.extend([400])
    api.put("/rest/api/3/issue/OPS-2", json={"fields": {"summary": "Refused"}})
    drained(cloud)
    receiver.statuses.extend([502, 502, 502])
    api.put("/rest/api/3/issue/OPS-2", json={"fields": {"summary": "Never arrives"}})
    drained(cloud)
    states = [(d["state"], len(d["attempts"])) for d in cloud.sim.webhook_deliveries()]
    assert states == [("failed", 1), ("failed", 3)]


def test_unreachable_receiver_counts_as_a_connection_error(cloud: Served, api: httpx.Client) -> None:
    api.post(
        "/rest/webhooks/1.0/webhook",
        json={"name": "gone", "url": "http://127.0.0.1:9/nothing", "events": ["jira:issue_updated"]},
    )
    cloud.sim.webhook_options.update({"max_retries": 1})
    api.put("/rest/api/3/issue/OPS-2", json={"fields": {"summary": "Into the void"}})
    drained(cloud)
    attempts = cloud.sim.webhook_deliveries()[0]["attempts"]
    assert len(attempts) == 2 and all(a["status"] is None and a["error"] for a in attempts)


def test_duplicates_delays_and_reordering(cloud: Served, api: httpx.Client, receiver: Receiver) -> None:
    register(api, receiver, ["jira:issue_updated"])
    options = {"duplicate_rate": 1.0, "reorder_window_ms": 300, "delay_ms": 600, "seed": 7}
    assert httpx.put(cloud.url + "/_sim/webhooks/options", json=options).status_code == 200
    keys = [f"PAY-{n}" for n in range(2, 10)]
    for key in keys:
        api.put(f"/rest/api/3/issue/{key}", json={"update": {"labels": [{"add": "train-42"}]}})
    drained(cloud)
    waits = [d["attempts"][0]["at"] - d["queuedAt"] for d in cloud.sim.webhook_deliveries()]
    assert len(waits) == 2 * len(keys) and min(waits) >= 0.6, "every delivery waits at least delay_ms"
    arrived = [r.json["issue"]["key"] for r in receiver.requests]
    assert sorted(arrived) == sorted(keys * 2)
    assert arrived[: len(keys)] != keys, "deliveries overtake each other"
    per_identifier: dict[str, int] = {}
    for request in receiver.requests:
        identifier = request.headers["x-atlassian-webhook-identifier"]
        per_identifier[identifier] = per_identifier.get(identifier, 0) + 1
    assert sorted(per_identifier.values()) == [2] * len(keys)


def test_comment_version_create_and_delete_events(
    cloud: Served, api: httpx.Client, receiver: Receiver
) -> None:
    register(
        api,
        receiver,
        [
            "comment_created",
            "jira:version_released",
            "jira:issue_created",
            "jira:issue_deleted",
            "jira:issue_updated",
        ],
    )
    api.post("/rest/api/2/issue/PAY-3/comment", json={"body": "CAB approved"})
    with cloud.sim.state.lock:
        version = next(v for v in cloud.sim.state.versions.values() if v.name == "3.3.0")
    api.put(f"/rest/api/3/version/{version.id}", json={"released": True})
    created = api.post(
        "/rest/api/3/issue",
        json={"fields": {"project": {"key": "OPS"}, "summary": "Temp", "issuetype": {"name": "Task"}}},
    ).json()
    api.delete(f"/rest/api/3/issue/{created['key']}")
    drained(cloud)
    by_event = {r.json["webhookEvent"]: r.json for r in receiver.requests}
    assert sorted(by_event) == sorted(
        [
            "jira:issue_updated",
            "comment_created",
            "jira:version_released",
            "jira:issue_created",
            "jira:issue_deleted",
        ]
    )
    assert by_event["jira:issue_updated"]["issue_event_type_name"] == "issue_commented"
    comment = by_event["comment_created"]
    assert comment["comment"]["body"] == "CAB approved"
    assert set(comment["issue"]) == {"id", "key", "self", "fields"}, (
        "comment events carry an abbreviated issue"
    )
    released = by_event["jira:version_released"]
    assert released["version"]["released"] is True and released["version"]["projectId"] == version.project_id
    assert "user" not in released and "project" not in released["version"], "no project key: fetch it"
    assert by_event["jira:issue_deleted"]["issue"]["key"] == created["key"]


def test_quirks_seen_in_the_wild(cloud: Served, api: httpx.Client, receiver: Receiver) -> None:
    register(api, receiver, ["comment_created"])
    cloud.sim.webhook_options.update(
        {"quirks": ["comment_without_issue", "string_timestamp", "server_users", "extra_keys"]}
    )
    api.post("/rest/api/2/issue/PAY-3/comment", json={"body": "quirky"})
    drained(cloud)
    body = receiver.requests[0].json
    assert "issue" not in body
    issue_id = str(cloud.sim.state.issue("PAY-3").id)  # type: ignore[union-attr]
    assert f"/rest/api/2/issue/{issue_id}/comment/" in body["comment"]["self"]
    assert isinstance(body["timestamp"], str) and body["timestamp"].isdigit()
    assert body["user"]["name"] == "bridgeline" and "accountId" not in body["user"]
    assert "matchedWebhookIds" in body and "atlassianFutureField" in body


def test_url_variables_exclude_body_and_admin_views(
    cloud: Served, api: httpx.Client, receiver: Receiver
) -> None:
    registered = api.post(
        "/rest/webhooks/1.0/webhook",
        json={
            "name": "per-issue",
            "url": receiver.url + "/${project.key}/${issue.key}",
            "events": ["jira:issue_updated"],
            "excludeBody": True,
        },
    ).json()
    api.put("/rest/api/3/issue/WEB-5", json={"fields": {"summary": "Only a ping"}})
    admin = httpx.Client(base_url=cloud.url)
    assert admin.post("/_sim/webhooks/drain", params={"timeout": 5}).status_code == 200
    assert receiver.requests[0].body == b""
    status = admin.get("/_sim/webhooks").json()
    assert (status["delivered"], status["drained"]) == (1, True)
    assert admin.get("/_sim/webhooks/deliveries").json()[0]["url"].endswith("/hook/jira/WEB/WEB-5")
    webhook_id = registered["self"].rsplit("/", 1)[-1]
    assert api.delete(f"/rest/webhooks/1.0/webhook/{webhook_id}").status_code == 204
    assert api.get("/rest/webhooks/1.0/webhook").json() == []


def test_registration_rules(cloud: Served, api: httpx.Client, receiver: Receiver) -> None:
    bad = api.post(
        "/rest/webhooks/1.0/webhook",
        json={
            "name": "x",
            "url": receiver.url,
            "events": ["jira:issue_updated"],
            "filters": {"issue-related-events-section": "project = (PAY"},
        },
    )
    assert bad.status_code == 400 and "filters" in bad.json()["errors"]
    with cloud.client(auth=VIEWER) as viewer:
        assert viewer.get("/rest/webhooks/1.0/webhook").status_code == 403

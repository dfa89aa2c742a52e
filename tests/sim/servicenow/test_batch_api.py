"""The Batch API (``POST /api/now/v1/batch``) as ServiceNow documents it: base64 bodies in and out,
each item answered with its own status in ``serviced_requests``, the ones a limit left out listed in
``unserviced_requests``, each item under the user's ACLs and rate limit rule."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from bridgeline.sim.servicenow import ServiceNowSimulator

BATCH = "/api/now/v1/batch"


def _item(item_id: str, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "method": method,
        "url": url,
        "headers": [{"name": "Content-Type", "value": "application/json"}],
    }
    if body is not None:
        item["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    return item


def _body(served: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(served["body"]))


def test_a_batch_runs_each_request_and_answers_each_in_base64(api: httpx.Client) -> None:
    change = api.post("/api/now/table/change_request", json={"short_description": "Release"}).json()["result"]
    response = api.post(
        BATCH,
        json={
            "batch_request_id": "b1",
            "rest_requests": [
                _item(
                    "1",
                    "POST",
                    "/api/now/table/change_task",
                    {"change_request": change["sys_id"], "short_description": "A"},
                ),
                _item("2", "GET", f"/api/now/table/change_request/{change['sys_id']}?sysparm_fields=number"),
                _item("3", "PATCH", f"/api/now/table/change_request/{change['sys_id']}", {"impact": "2"}),
            ],
        },
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["batch_request_id"] == "b1" and answer["unserviced_requests"] == []
    created, read, patched = answer["serviced_requests"]
    assert (created["id"], created["status_code"], created["status_text"]) == ("1", 201, "Created")
    assert _body(created)["result"]["short_description"] == "A"
    assert _body(read)["result"] == {"number": change["number"]}
    assert patched["status_code"] == 200 and _body(patched)["result"]["impact"] == "2"
    assert {h["name"] for h in created["headers"]} >= {"Location", "Content-Type"}


def test_a_failing_item_fails_alone_and_the_batch_answers_200(api: httpx.Client) -> None:
    response = api.post(
        BATCH,
        json={
            "rest_requests": [
                _item("bad", "GET", "/api/now/table/change_request/" + "0" * 32),
                _item("good", "GET", "/api/now/table/change_request?sysparm_limit=1"),
            ]
        },
    )
    assert response.status_code == 200
    bad, good = response.json()["serviced_requests"]
    assert bad["status_code"] == 404 and bad["error_message"] == "No Record found"
    assert good["status_code"] == 200


def test_the_items_a_time_limit_cut_are_listed_unserviced_and_not_run(
    snow: ServiceNowSimulator, api: httpx.Client
) -> None:
    snow.settings.batch_time_limit = 0.0
    before = len(snow.state.records("change_request"))
    items = [
        _item(str(n), "POST", "/api/now/table/change_request", {"short_description": f"n{n}"})
        for n in range(3)
    ]
    answer = api.post(BATCH, json={"rest_requests": items}).json()
    assert [s["id"] for s in answer["serviced_requests"]] == ["0"]
    assert answer["unserviced_requests"] == ["1", "2"]
    assert len(snow.state.records("change_request")) == before + 1


def test_each_item_counts_against_the_rate_limit_rule(snow: ServiceNowSimulator, api: httpx.Client) -> None:
    snow.settings.update({"rate_limit": 3, "rate_limit_window": 3600})
    items = [_item(str(n), "GET", "/api/now/table/change_request?sysparm_limit=1") for n in range(4)]
    answer = api.post(BATCH, json={"rest_requests": items}).json()  # the batch itself is the first
    statuses = [s["status_code"] for s in answer["serviced_requests"]]
    assert statuses == [200, 200, 429, 429]
    refused = answer["serviced_requests"][2]
    assert _body(refused)["error"]["message"] == "Rate limit exceeded"
    assert "Retry-After" in {h["name"] for h in refused["headers"]}
    assert api.post(BATCH, json={"rest_requests": items}).status_code == 429  # now the batch itself


def test_the_version_is_not_optional_and_an_instance_may_not_answer_it(
    snow: ServiceNowSimulator, api: httpx.Client
) -> None:
    body = {"rest_requests": [_item("1", "GET", "/api/now/table/change_request?sysparm_limit=1")]}
    unversioned = api.post("/api/now/batch", json=body)
    assert unversioned.status_code == 400
    assert unversioned.json()["error"]["message"] == "Requested URI does not represent any resource"
    snow.settings.batch_api = False
    assert api.post(BATCH, json=body).status_code == 400


def test_every_call_of_a_batch_is_in_the_call_log(snow: ServiceNowSimulator, api: httpx.Client) -> None:
    snow.state.clear_calls()
    api.post(
        BATCH, json={"rest_requests": [_item("1", "GET", "/api/now/table/change_request?sysparm_limit=1")]}
    )
    [entry] = list(snow.state.calls)
    assert entry["route"] == BATCH and entry["batch"][0]["status"] == 200

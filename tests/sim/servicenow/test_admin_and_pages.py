"""The simulator's own controls under /_sim, injected faults, and the pages a person opens."""

from __future__ import annotations

import httpx

from bridgeline.sim.servicenow import ServiceNowSimulator

CHANGES = "/api/now/table/change_request"


def test_injected_faults_speak_servicenow_and_spare_the_controls(
    api: httpx.Client, admin_api: httpx.Client
) -> None:
    admin_api.put("/_sim/faults", json={"error_rate": 1.0, "seed": 3})
    broken = api.get(CHANGES)
    assert broken.status_code in (500, 502, 503)
    assert broken.json()["status"] == "failure" and broken.json()["error"]["message"]
    assert admin_api.get("/_sim/calls").status_code == 200
    faults = admin_api.put("/_sim/faults", json={"error_rate": 0}).json()
    assert faults["counters"]["errors"] >= 1
    assert api.get(CHANGES).status_code == 200
    assert admin_api.put("/_sim/faults", json={"no_such_knob": 1}).status_code == 400


def test_call_counters_per_method_and_route(
    api: httpx.Client, admin_api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    admin_api.delete("/_sim/calls")
    seeded = snow.state.change("CHG0030001")
    api.get(CHANGES)
    api.get(f"{CHANGES}/{seeded['sys_id']}")
    api.get(f"{CHANGES}/{seeded['sys_id']}")
    summary = admin_api.get("/_sim/calls").json()
    assert summary["by_route"] == {
        "GET /api/now/table/change_request/{sys_id}": 2,
        "GET /api/now/table/change_request": 1,
    }
    assert summary["total"] == 3 and summary["recent"][-1]["status"] == 200
    assert snow.state.count_calls("GET", "/api/now/table/change_request/{sys_id}") == 2
    assert snow.state.count_calls(method="POST") == 0


def test_clock_can_be_frozen_moved_and_released(api: httpx.Client, admin_api: httpx.Client) -> None:
    frozen = admin_api.put("/_sim/clock", json={"now": "2025-06-01 12:00:00"}).json()
    assert frozen == {"now": "2025-06-01 12:00:00", "frozen": True, "offset_seconds": 0.0}
    assert admin_api.put("/_sim/clock", json={"advance_seconds": 90}).json()["now"] == "2025-06-01 12:01:30"
    created = api.post(CHANGES, json={"short_description": "at a fixed time"}).json()["result"]
    assert created["sys_created_on"] == "2025-06-01 12:01:30"
    released = admin_api.put("/_sim/clock", json={"now": None}).json()
    assert released["frozen"] is False and released["now"] > "2025-06-01"
    assert admin_api.put("/_sim/clock", json={"now": "not a time"}).status_code == 400


def test_reset_returns_to_the_seed_and_state_dumps_tables(api: httpx.Client, admin_api: httpx.Client) -> None:
    api.post(CHANGES, json={"short_description": "to be forgotten"})
    assert api.get(CHANGES).headers["X-Total-Count"] == "7"
    assert admin_api.post("/_sim/reset").json() == {"reset": True}
    assert api.get(CHANGES).headers["X-Total-Count"] == "6"
    dump = admin_api.get("/_sim/state", params={"tables": "change_request,change_task"}).json()
    assert set(dump["tables"]) == {"change_request", "change_task"}
    assert dump["tables"]["change_request"][0]["number"] == "CHG0030001"
    assert dump["counters"]["change_request"] == 30007


def test_settings_are_checked(admin_api: httpx.Client) -> None:
    assert admin_api.put("/_sim/settings", json={"table_transition_refusal": "maybe"}).status_code == 400
    assert admin_api.put("/_sim/settings", json={"task_states": "change_task"}).status_code == 400
    assert admin_api.put("/_sim/settings", json={"unknown": 1}).status_code == 400
    settings = admin_api.get("/_sim/settings").json()["settings"]
    assert settings["table_transition_refusal"] == "error" and settings["task_states"] == "task"


def test_pages_for_people(url: str, snow: ServiceNowSimulator) -> None:
    index = httpx.get(url + "/")
    assert index.status_code == 200 and "/change_request_list.do" in index.text
    listing = httpx.get(url + "/change_request_list.do", params={"sysparm_query": "state=-4"})
    seeded = snow.state.change("CHG0030003")
    assert (
        f"/change_request.do?sys_id={seeded['sys_id']}" in listing.text and "CHG0030001" not in listing.text
    )
    form = httpx.get(url + "/change_request.do", params={"sys_id": seeded["sys_id"]})
    assert "Replace core switch in rack B4" in form.text and "Network Operations" in form.text
    assert "Alex Mercer" in form.text  # its approvals
    assert "Vendor on site Thursday" in form.text  # its work notes
    by_number = httpx.get(url + "/change_request.do", params={"sysparm_query": "number=CHG0030002"})
    assert "Update CDN configuration" in by_number.text  # its change tasks
    assert httpx.get(url + "/change_request.do", params={"sys_id": "0" * 32}).status_code == 404
    assert httpx.get(url + "/nothing_list.do").status_code == 404

"""The change state model through both APIs, and the Table API's two ways of refusing."""

from __future__ import annotations

import httpx

from bridgeline.sim.servicenow import ServiceNowSimulator

CHANGES = "/api/now/table/change_request"


def _new_change(api: httpx.Client, kind: str = "normal") -> str:
    created = api.post(CHANGES, json={"short_description": f"A {kind} change", "type": kind})
    assert created.status_code == 201
    return str(created.json()["result"]["sys_id"])


def _move(api: httpx.Client, sys_id: str, state: str, **fields: str) -> httpx.Response:
    return api.patch(f"{CHANGES}/{sys_id}", json={"state": state, **fields})


def test_forbidden_transition_is_refused_with_403_naming_the_allowed_states(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    sys_id = _new_change(api)
    refused = _move(api, sys_id, "-1", description="straight to Implement")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert "New (-5) cannot move to Implement (-1)" in error["message"]
    assert error["message"].endswith("Allowed next states: Assess (-4), Canceled (4)")
    stored = snow.state.get("change_request", sys_id)
    assert stored["state"] == "-5" and not stored.get("description") and stored["sys_mod_count"] == "0"


def test_ignore_mode_answers_200_and_leaves_the_state_alone(
    api: httpx.Client, admin_api: httpx.Client
) -> None:
    admin_api.put("/_sim/settings", json={"table_transition_refusal": "ignore"})
    sys_id = _new_change(api)
    answer = _move(api, sys_id, "-1", description="straight to Implement")
    assert answer.status_code == 200
    assert answer.json()["result"]["state"] == "-5"
    assert answer.json()["result"]["description"] == "straight to Implement"


def test_normal_change_asks_the_cab_and_waits_in_authorize_until_approved(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    sys_id = _new_change(api)
    assessed = _move(api, sys_id, "-4").json()["result"]
    assert assessed["approval"] == "requested"
    approvers = {a["approver"] for a in snow.state.approvals(sys_id) if a["state"] == "requested"}
    cab = snow.state.find("sys_user_group", name="CAB Approval")[0]
    members = {m["user"] for m in snow.state.find("sys_user_grmember", group=cab["sys_id"])}
    assert approvers == members and len(members) == 2
    assert _move(api, sys_id, "-3").status_code == 200
    refused = _move(api, sys_id, "-2")
    assert refused.status_code == 403
    assert "condition not met: Approval is Approved" in refused.json()["error"]["message"]
    number = assessed["number"]
    approved = snow.approve(number, approver="priya.raman")
    assert approved["state"] == "-2" and approved["approval"] == "approved"
    assert approved["sys_updated_by"] == "priya.raman"


def test_closing_needs_close_code_and_close_notes(api: httpx.Client, snow: ServiceNowSimulator) -> None:
    sys_id = _new_change(api, "standard")
    for state in ("-2", "-1", "0"):
        assert _move(api, sys_id, state).status_code == 200
    refused = _move(api, sys_id, "3", close_notes="Deployed")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].endswith("mandatory: Close code")
    closed = _move(api, sys_id, "3", close_code="successful", close_notes="Deployed").json()["result"]
    assert closed["state"] == "3" and closed["active"] == "false" and closed["closed_at"]
    assert closed["work_start"] and closed["work_end"]
    assert _move(api, sys_id, "0").status_code == 403  # Closed is final


def test_emergency_skips_assess_and_standard_skips_approval(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    emergency = _new_change(api, "emergency")
    assert _move(api, emergency, "-4").status_code == 403
    authorizing = _move(api, emergency, "-3").json()["result"]
    assert authorizing["state"] == "-3" and authorizing["approval"] == "requested"
    standard = _new_change(api, "standard")
    assert _move(api, standard, "-4").status_code == 403
    scheduled = _move(api, standard, "-2").json()["result"]
    assert scheduled["approval"] == "approved"
    assert snow.state.approvals(standard) == []


def test_cancel_or_revert_withdraws_pending_approvals(api: httpx.Client, snow: ServiceNowSimulator) -> None:
    reverted = _new_change(api)
    _move(api, reverted, "-4")
    back = _move(api, reverted, "-5").json()["result"]
    assert back["approval"] == "not requested"
    assert {a["state"] for a in snow.state.approvals(reverted)} == {"cancelled"}
    canceled = _new_change(api)
    _move(api, canceled, "-4")
    gone = _move(api, canceled, "4").json()["result"]
    assert gone["active"] == "false"
    assert {a["state"] for a in snow.state.approvals(canceled)} == {"cancelled"}
    assert "Allowed next states: none" in _move(api, canceled, "-5").json()["error"]["message"]


def test_inserting_in_a_later_state_goes_through_the_model(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    refused = api.post(CHANGES, json={"short_description": "Born scheduled", "state": "-2"})
    assert refused.status_code == 403
    assessed = api.post(CHANGES, json={"short_description": "Born in Assess", "state": "-4"}).json()["result"]
    assert assessed["approval"] == "requested" and len(snow.state.approvals(assessed["sys_id"])) == 2


def test_change_api_nextstates_lists_transitions_and_their_conditions(api: httpx.Client) -> None:
    sys_id = _new_change(api)
    fresh = api.get(f"/api/sn_chg_rest/change/{sys_id}/nextstates").json()["result"]
    assert fresh["available_states"] == ["-5", "-4", "4"]
    assert fresh["state_label"] == {"-5": "New", "-4": "Assess", "4": "Canceled"}
    _move(api, sys_id, "-4")
    _move(api, sys_id, "-3")
    waiting = api.get(f"/api/sn_chg_rest/v1/change/{sys_id}/nextstates").json()["result"]
    assert waiting["available_states"] == ["-3", "-2", "-5", "4"]
    [to_scheduled] = waiting["state_transitions"][0]
    assert to_scheduled["display_value"] == "Authorize to Scheduled"
    assert to_scheduled["transition_available"] is False and to_scheduled["automatic_transition"] is True
    assert {c["condition"]["name"]: c["passed"] for c in to_scheduled["conditions"]} == {
        "Not On hold": True,
        "Approval is Approved": False,
    }


def test_change_api_refuses_with_400_naming_the_allowed_states(api: httpx.Client) -> None:
    sys_id = _new_change(api)
    refused = api.patch(f"/api/sn_chg_rest/change/{sys_id}", json={"state": "0"})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].endswith("Allowed next states: Assess (-4), Canceled (4)")


def test_change_task_states_and_closing(api: httpx.Client, snow: ServiceNowSimulator) -> None:
    change = _new_change(api)
    task = api.post(
        "/api/now/table/change_task", json={"change_request": change, "short_description": "Deploy"}
    )
    path = f"/api/now/table/change_task/{task.json()['result']['sys_id']}"
    working = api.patch(path, json={"state": "2"}, params={"sysparm_display_value": "true"}).json()["result"]
    assert working["state"] == "Work in Progress"
    done = api.patch(path, json={"state": "Closed Skipped"}, params={"sysparm_input_display_value": "true"})
    assert done.json()["result"]["state"] == "7" and done.json()["result"]["active"] == "false"


def test_change_task_labels_can_follow_newer_releases() -> None:
    sim = ServiceNowSimulator(seed=1, task_states="change_task")
    with sim.serve() as server, httpx.Client(base_url=server.url, auth=("admin", "admin")) as api:
        tasks = api.get(
            "/api/now/table/change_task", params={"sysparm_display_value": "true", "sysparm_fields": "state"}
        ).json()["result"]
        assert {t["state"] for t in tasks} == {"Open"}
        choices = api.get(
            "/api/now/table/change_task", params={"sysparm_query": "state=3", "sysparm_display_value": "all"}
        )
        assert choices.json()["result"] == []
        task = api.post(
            "/api/now/table/change_task", json={"state": "3", "short_description": "done already"}
        )
        assert task.json()["result"]["state"] == "3"
        shown = api.get(task.headers["Location"], params={"sysparm_display_value": "true"}).json()["result"]
        assert shown["state"] == "Closed"
    sim.close()

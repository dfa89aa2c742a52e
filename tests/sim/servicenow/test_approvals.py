"""The CAB's answers: sim.approve/reject, the admin endpoint, the CLI and the Change API."""

from __future__ import annotations

import httpx
import pytest

from bridgeline.sim.servicenow import ServiceNowSimulator, SimError
from bridgeline.sim.servicenow.cli import main as cli

from .conftest import CAB

CHANGES = "/api/now/table/change_request"


def _in_assess(api: httpx.Client) -> dict[str, str]:
    created = api.post(CHANGES, json={"short_description": "Release payments-api 2.5", "state": "-4"})
    assert created.status_code == 201
    return dict(created.json()["result"])


def test_approval_schedules_the_change_and_releases_the_other_approvers(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    change = _in_assess(api)
    answer = snow.approve(change["number"], approver="alex.mercer", comment="Fine for Thursday")
    assert answer["state"] == "-2" and answer["approval"] == "approved"
    records = {a["approver"]: a for a in snow.state.approvals(change["number"])}
    alex = snow.state.find("sys_user", user_name="alex.mercer")[0]["sys_id"]
    assert records.pop(alex)["state"] == "approved"
    assert [r["state"] for r in records.values()] == ["not_required"]
    approval_sys_id = next(
        a["sys_id"] for a in snow.state.approvals(change["number"]) if a["approver"] == alex
    )
    [note] = snow.state.journal(approval_sys_id, element="comments")
    assert note["value"] == "Fine for Thursday" and note["name"] == "sysapproval_approver"


def test_rejection_sends_the_change_back_to_new_with_the_reason_on_record(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    change = _in_assess(api)
    answer = snow.reject(change["number"], reason="Clashes with the payments freeze")
    assert answer["state"] == "-5" and answer["approval"] == "rejected"
    approvals = api.get(
        "/api/now/table/sysapproval_approver",
        params={
            "sysparm_query": f"sysapproval={change['sys_id']}^state=rejected",
            "sysparm_display_value": "true",
        },
    ).json()["result"]
    assert len(approvals) == 1 and approvals[0]["state"] == "Rejected"
    reasons = api.get(
        "/api/now/table/sys_journal_field",
        params={"sysparm_query": f"name=sysapproval_approver^element_id={approvals[0]['sys_id']}"},
    ).json()["result"]
    assert [r["value"] for r in reasons] == ["Clashes with the payments freeze"]
    # back in New it may ask again
    again = api.patch(f"{CHANGES}/{change['sys_id']}", json={"state": "-4"}).json()["result"]
    assert again["approval"] == "requested"


@pytest.mark.parametrize(("on_rejection", "state"), [("canceled", "4"), ("stay", "-4")])
def test_where_a_rejected_change_goes_is_a_knob(
    api: httpx.Client, admin_api: httpx.Client, snow: ServiceNowSimulator, on_rejection: str, state: str
) -> None:
    admin_api.put("/_sim/settings", json={"on_rejection": on_rejection})
    change = _in_assess(api)
    assert snow.reject(change["number"], reason="no")["state"] == state


def test_without_auto_advance_the_change_waits_for_its_owner(
    api: httpx.Client, admin_api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    admin_api.put("/_sim/settings", json={"auto_advance_on_approval": False})
    change = _in_assess(api)
    assert snow.approve(change["number"])["state"] == "-4"
    path = f"{CHANGES}/{change['sys_id']}"
    assert api.patch(path, json={"state": "-3"}).json()["result"]["approval"] == "approved"
    assert api.patch(path, json={"state": "-2"}).status_code == 200


def test_nothing_to_decide_is_an_error(api: httpx.Client, snow: ServiceNowSimulator) -> None:
    new = api.post(CHANGES, json={"short_description": "Not yet submitted"}).json()["result"]
    with pytest.raises(SimError, match="has no pending approval") as caught:
        snow.approve(new["number"])
    assert caught.value.status == 400
    with pytest.raises(SimError, match="No change request CHG0099999"):
        snow.approve("CHG0099999")
    with pytest.raises(SimError, match=r"beth\.anguiano has no pending approval"):
        snow.approve("CHG0030003", approver="beth.anguiano")


def test_admin_endpoint_approves_and_rejects(url: str, api: httpx.Client, snow: ServiceNowSimulator) -> None:
    change = _in_assess(api)
    rejected = httpx.post(
        f"{url}/_sim/approve/{change['number']}",
        json={"reject": True, "reason": "Needs a backout plan", "approver": "priya.raman"},
    )
    assert rejected.status_code == 200
    assert rejected.json()["result"] | {"sys_id": ""} == {
        "number": change["number"],
        "sys_id": "",
        "state": "-5",
        "approval": "rejected",
        "sys_updated_by": "priya.raman",
        "sys_mod_count": "1",
    }
    assert httpx.post(f"{url}/_sim/approve/{change['number']}", json={}).status_code == 400
    api.patch(f"{CHANGES}/{change['sys_id']}", json={"state": "-4"})
    approved = httpx.post(f"{url}/_sim/approve/{change['number']}", json={"approver": "alex.mercer"})
    assert approved.json()["result"]["state"] == "-2"
    assert httpx.post(f"{url}/_sim/approve/CHG0099999", json={}).status_code == 404


def test_cli_answers_for_the_cab(url: str, api: httpx.Client, capsys: pytest.CaptureFixture[str]) -> None:
    change = _in_assess(api)
    assert cli(["servicenow", "approve", change["number"], "--reject", "--url", url]) == 2
    assert cli(["servicenow", "approve", change["number"], "--url", url, "--approver", "alex.mercer"]) == 0
    assert f"{change['number']}: approval approved, state Scheduled" in capsys.readouterr().out
    assert cli(["servicenow", "approve", change["number"], "--url", url]) == 1
    assert "has no pending approval" in capsys.readouterr().err


def test_change_api_approvals_act_for_the_calling_approver(url: str, api: httpx.Client) -> None:
    change = _in_assess(api)
    path = f"/api/sn_chg_rest/change/{change['sys_id']}/approvals"
    not_an_approver = api.patch(path, json={"state": "approved"})
    assert not_an_approver.status_code == 400
    assert "bridgeline.integration has no pending approval" in not_an_approver.json()["error"]["message"]
    with httpx.Client(base_url=url, auth=CAB) as cab:
        no_reason = cab.patch(path, json={"state": "rejected"})
        assert no_reason.status_code == 400
        answer = cab.patch(path, json={"state": "approved", "comments": "ok"})
        assert answer.status_code == 200
        result = answer.json()["result"]
        assert result["state"] == {"display_value": "Scheduled", "value": -2.0}
        assert result["approval"]["value"] == "approved"
        assert result["sys_updated_by"]["value"] == "alex.mercer"

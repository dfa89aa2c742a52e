"""The ServiceNow target through the Change Management API, against the simulator over a socket."""

from __future__ import annotations

import pytest

from bridgeline.connectors.servicenow import ServiceNowTarget
from bridgeline.errors import PermanentError, TransitionRefused

from .conftest import Snow

CORR = "jira:PAY:issue:10101:emergency"
TEMPLATE = "Restart an application service"


def change_api_calls(snow: Snow, method: str) -> list[str]:
    return [c["route"] for c in snow.sim.state.calls if c["method"] == method]


async def test_creates_an_emergency_change_through_its_own_endpoint(
    change_api: ServiceNowTarget, snow: Snow
) -> None:
    result = await change_api.create(
        "change_request",
        {"short_description": "HOTFIX PAY-101", "type": "emergency", "risk": "2"},
        correlation_id=CORR,
        options={"api": "change", "type": "emergency"},
    )
    row = snow.sim.state.get("change_request", result.target.id)
    assert row["type"] == "emergency" and row["state"] == "-5" and row["correlation_id"] == CORR
    assert row["risk"] == "2"
    assert change_api_calls(snow, "POST") == ["/api/sn_chg_rest/change/emergency"]
    assert result.target.number == row["number"]


async def test_a_mapping_option_overrides_the_settings_api(table: ServiceNowTarget, snow: Snow) -> None:
    await table.create(
        "change_request", {"short_description": "n"}, correlation_id=CORR, options={"api": "change"}
    )
    assert change_api_calls(snow, "POST") == ["/api/sn_chg_rest/change/normal"]


async def test_a_standard_change_comes_from_its_template_by_name(
    change_api: ServiceNowTarget, snow: Snow
) -> None:
    options = {"api": "change", "type": "standard", "template": TEMPLATE}
    first = await change_api.create(
        "change_request", {"short_description": "Restart payments-api"}, correlation_id="a", options=options
    )
    await change_api.create(
        "change_request", {"short_description": "Restart ledger"}, correlation_id="b", options=options
    )
    [template] = snow.sim.state.find("std_change_record_producer", name=TEMPLATE)
    row = snow.sim.state.get("change_request", first.target.id)
    assert row["type"] == "standard" and row["short_description"] == "Restart payments-api"
    assert row["std_change_producer_version"]
    posts = [c["path"] for c in snow.sim.state.calls if c["method"] == "POST"]
    assert posts == [f"/api/sn_chg_rest/change/standard/{template['sys_id']}"] * 2
    assert snow.calls("GET", "/api/sn_chg_rest/change/standard/template") == 1  # the name is looked up once


async def test_an_unknown_template_is_a_permanent_error(change_api: ServiceNowTarget) -> None:
    with pytest.raises(PermanentError, match="no standard change template named"):
        await change_api.create(
            "change_request",
            {},
            correlation_id="x",
            options={"type": "standard", "template": "Reboot the moon"},
        )


async def test_a_standard_change_walks_to_implement_as_nextstates_allows(
    change_api: ServiceNowTarget, snow: Snow
) -> None:
    options = {"api": "change", "type": "standard", "template": TEMPLATE}
    result = await change_api.create(
        "change_request",
        {"short_description": "Restart", "state": "implement"},
        correlation_id="s",
        options=options,
    )
    row = snow.sim.state.get("change_request", result.target.id)
    assert row["state"] == "-1" and row["approval"] == "approved" and row["work_start"]
    assert snow.calls("GET", "/api/sn_chg_rest/change/{sys_id}/nextstates") == 2  # New->Scheduled->Implement


async def test_a_refusal_names_the_unmet_condition_from_nextstates(
    change_api: ServiceNowTarget, snow: Snow
) -> None:
    result = await change_api.create("change_request", {"short_description": "n"}, correlation_id=CORR)
    with pytest.raises(TransitionRefused) as info:
        await change_api.update(result.target, {"state": "scheduled"})
    message = str(info.value)
    assert "from Authorize to Scheduled" in message and "condition not met: Approval is Approved" in message
    assert "Allowed next states:" in message
    snow.sim.approve(result.target.number or "")
    assert snow.sim.state.get("change_request", result.target.id)["state"] == "-2"
    # approved and moved on by the CAB: asking again is already satisfied
    await change_api.update(result.target, {"state": "scheduled"})


async def test_tasks_are_created_under_their_change_and_found_there(
    change_api: ServiceNowTarget, snow: Snow
) -> None:
    change = await change_api.create("change_request", {"short_description": "n"}, correlation_id=CORR)
    task = await change_api.create(
        "change_task", {"short_description": "Deploy"}, correlation_id="jira:issue:1", parent=change.target
    )
    assert change_api_calls(snow, "POST")[-1] == "/api/sn_chg_rest/change/{sys_id}/task"
    assert snow.sim.state.get("change_task", task.target.id)["change_request"] == change.target.id
    found = await change_api.find(
        "change_task", "jira:issue:1", parent=change.target, options={"api": "change"}
    )
    assert found is not None and found.target.id == task.target.id
    await change_api.update(task.target, {"short_description": "Deploy v2"})
    assert snow.sim.state.get("change_task", task.target.id)["short_description"] == "Deploy v2"


async def test_find_and_update_go_through_the_change_api(change_api: ServiceNowTarget, snow: Snow) -> None:
    created = await change_api.create("change_request", {"short_description": "n"}, correlation_id=CORR)
    found = await change_api.find("change_request", CORR, options={"api": "change"})
    assert found is not None and found.target.id == created.target.id
    assert found.record["state"] == "-5"  # flat strings, like the Table API's
    await change_api.update(created.target, {"description": "Now with a description"})
    assert change_api_calls(snow, "PATCH") == ["/api/sn_chg_rest/change/{sys_id}"]


async def test_string_values_mode_reads_the_same(change_api: ServiceNowTarget, snow: Snow) -> None:
    snow.sim.settings.update({"change_api_typed_values": False})
    result = await change_api.create(
        "change_request", {"short_description": "n", "state": "assess"}, correlation_id=CORR
    )
    assert snow.sim.state.get("change_request", result.target.id)["state"] == "-4"

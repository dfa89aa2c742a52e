"""The ServiceNow target through the Table API, against the simulator over a socket."""

from __future__ import annotations

import asyncio

import pytest

from bridgeline.connectors.servicenow import ServiceNowTarget
from bridgeline.errors import PermanentError, TransitionRefused
from bridgeline.model import TargetRef

from .conftest import Snow

CORR = "jira:PAY:version:10042"


async def test_creates_a_change_request_and_a_task_linked_to_it(table: ServiceNowTarget, snow: Snow) -> None:
    change = await table.create(
        "change_request", {"short_description": "Release PAY 1.4", "risk": 3}, correlation_id=CORR
    )
    assert change.action == "create" and change.target.number and change.target.number.startswith("CHG")
    assert change.target.url == f"{snow.url}/change_request.do?sys_id={change.target.id}"
    task = await table.create(
        "change_task",
        {"short_description": "PAY-101: Tokenise stored cards"},
        correlation_id=CORR + ":issue:10101",
        parent=change.target,
    )
    row = snow.sim.state.get("change_request", change.target.id)
    assert row["correlation_id"] == CORR and row["type"] == "normal" and row["risk"] == "3"
    assert row["correlation_display"] == "bridgeline"
    task_row = snow.sim.state.get("change_task", task.target.id)
    assert task_row["change_request"] == change.target.id
    assert task.target.number and task.target.number.startswith("CTASK")


async def test_find_returns_the_record_by_correlation_id_and_a_task_only_under_its_change(
    table: ServiceNowTarget,
) -> None:
    assert await table.find("change_request", CORR) is None
    first = await table.create("change_request", {"short_description": "A"}, correlation_id=CORR)
    other = await table.create("change_request", {"short_description": "B"}, correlation_id=CORR + "x")
    task = await table.create(
        "change_task", {"short_description": "t"}, correlation_id="jira:issue:1", parent=first.target
    )
    found = await table.find("change_request", CORR)
    assert found is not None and found.action == "adopt" and found.target.id == first.target.id
    assert found.record["short_description"] == "A"
    under_first = await table.find("change_task", "jira:issue:1", parent=first.target)
    assert under_first is not None and under_first.target.id == task.target.id
    assert await table.find("change_task", "jira:issue:1", parent=other.target) is None


async def test_a_mapping_asking_for_a_later_state_is_walked_there_step_by_step(
    table: ServiceNowTarget, snow: Snow
) -> None:
    result = await table.create(
        "change_request",
        {"short_description": "Release", "state": "authorize"},
        correlation_id=CORR,
        options={"api": "table", "type": "normal"},
    )
    row = snow.sim.state.get("change_request", result.target.id)
    assert row["state"] == "-3" and row["approval"] == "requested"
    patches = [c for c in snow.sim.state.calls if c["method"] == "PATCH"]
    assert [c["route"] for c in patches] == [
        "/api/now/table/change_request/{sys_id}"
    ] * 2  # Assess, Authorize


async def test_a_state_already_passed_is_left_alone(table: ServiceNowTarget, snow: Snow) -> None:
    created = await table.create(
        "change_request", {"short_description": "x", "state": "-4"}, correlation_id=CORR
    )
    snow.sim.approve(created.target.number or "")  # the CAB moves it on to Scheduled
    await table.update(created.target, {"state": "Assess", "short_description": "y"})
    row = snow.sim.state.get("change_request", created.target.id)
    assert row["state"] == "-2" and row["short_description"] == "y"


async def test_a_refused_transition_is_a_transition_refused_naming_the_condition(
    table: ServiceNowTarget, snow: Snow
) -> None:
    created = await table.create("change_request", {"short_description": "x"}, correlation_id=CORR)
    with pytest.raises(TransitionRefused) as info:
        await table.update(created.target, {"state": "implement"})
    message = str(info.value)
    assert created.target.number in message
    assert "from Authorize to Scheduled on the way to Implement" in message
    assert "Approval is Approved" in message  # the simulator's 403 names the unmet condition
    assert snow.sim.state.get("change_request", created.target.id)["state"] == "-3"


async def test_a_silently_ignored_transition_is_noticed(table: ServiceNowTarget, snow: Snow) -> None:
    snow.sim.settings.update({"table_transition_refusal": "ignore"})
    created = await table.create("change_request", {"short_description": "x"}, correlation_id=CORR)
    with pytest.raises(TransitionRefused) as info:
        await table.update(created.target, {"state": "-1"})
    assert "kept it in Authorize" in str(info.value)


async def test_closing_without_close_code_reports_the_data_policy(
    table: ServiceNowTarget, snow: Snow
) -> None:
    created = await table.create(
        "change_request", {"short_description": "std", "type": "standard"}, correlation_id=CORR
    )
    await table.update(created.target, {"state": "review"})
    with pytest.raises(TransitionRefused) as info:
        await table.update(created.target, {"state": "closed"})
    assert "mandatory" in str(info.value) and "Close code" in str(info.value)
    done = await table.update(
        created.target, {"state": "closed", "close_code": "successful", "close_notes": "Deployed"}
    )
    assert done.record["state"] == "3"


async def test_an_unknown_state_name_is_a_permanent_error(table: ServiceNowTarget) -> None:
    with pytest.raises(PermanentError, match="not a change request state"):
        await table.create("change_request", {"state": "Deployed"}, correlation_id=CORR)


async def test_reference_names_are_resolved_once_per_process(table: ServiceNowTarget, snow: Snow) -> None:
    group = snow.sim.state.find("sys_user_group", name="Payments Platform")[0]
    user = snow.sim.state.find("sys_user", user_name="alex.mercer")[0]
    change = await table.create(
        "change_request",
        {"short_description": "x", "assignment_group": "Payments Platform", "assigned_to": "alex.mercer"},
        correlation_id=CORR,
    )
    await asyncio.gather(
        *(
            table.create(
                "change_task",
                {"short_description": f"t{i}", "assignment_group": "Payments Platform"},
                correlation_id=f"task:{i}",
                parent=change.target,
            )
            for i in range(6)
        )
    )
    assert snow.calls("GET", "/api/now/table/sys_user_group") == 1
    assert snow.calls("GET", "/api/now/table/sys_user") == 1
    row = snow.sim.state.get("change_request", change.target.id)
    assert row["assignment_group"] == group["sys_id"] and row["assigned_to"] == user["sys_id"]
    tasks = snow.sim.state.find("change_task", change_request=change.target.id)
    assert {t["assignment_group"] for t in tasks} == {group["sys_id"]}


async def test_a_sys_id_is_sent_as_is_and_an_unknown_name_is_an_error_to_fix(
    table: ServiceNowTarget, snow: Snow
) -> None:
    group = snow.sim.state.find("sys_user_group", name="Web Platform")[0]
    await table.create("change_request", {"assignment_group": group["sys_id"]}, correlation_id=CORR)
    assert snow.calls("GET", "/api/now/table/sys_user_group") == 0
    with pytest.raises(PermanentError, match="no sys_user_group record has that name"):
        await table.create("change_request", {"assignment_group": "Paymnets"}, correlation_id=CORR + "2")


async def test_journal_fields_are_appended_and_an_adopted_record_compares_with_its_last_entry(
    table: ServiceNowTarget, snow: Snow
) -> None:
    created = await table.create(
        "change_request", {"short_description": "x", "work_notes": "Issues: PAY-1"}, correlation_id=CORR
    )
    entries = snow.sim.state.journal(created.target.id, element="work_notes")
    assert [e["value"] for e in entries] == ["Issues: PAY-1"]
    await table.update(created.target, {"work_notes": "Issues: PAY-1, PAY-2"})
    found = await table.find("change_request", CORR)
    assert found is not None
    assert found.record["work_notes"] == "Issues: PAY-1, PAY-2"  # not the empty value the record shows
    assert found.record["comments"] == ""  # nothing was ever appended there


async def test_read_normalizes_state_and_brings_the_cabs_decision(
    table: ServiceNowTarget, snow: Snow
) -> None:
    created = await table.create(
        "change_request",
        {"short_description": "x", "state": "assess", "start_date": "2025-03-07 20:00:00"},
        correlation_id=CORR,
    )
    waiting = await table.read(created.target)
    assert waiting["state"] == "assess" and waiting["raw_state"] == "-4"
    assert waiting["approval"] == "requested" and waiting["approver"] is None
    snow.sim.approve(created.target.number or "", approver="alex.mercer", comment="CAB 2025-03-04")
    approved = await table.read(created.target)
    assert approved["state"] == "scheduled" and approved["approval"] == "approved"
    assert approved["approver"] == snow.sim.state.find("sys_user", user_name="alex.mercer")[0]["name"]
    assert approved["approval_comment"] == "CAB 2025-03-04"
    assert approved["planned_start"] == "2025-03-07 20:00:00"
    assert approved["number"] == created.target.number and approved["fields"]["sys_id"] == created.target.id


async def test_read_brings_the_rejection_reason(table: ServiceNowTarget, snow: Snow) -> None:
    created = await table.create("change_request", {"state": "assess"}, correlation_id=CORR)
    snow.sim.reject(created.target.number or "", reason="Overlaps the payment freeze")
    rejected = await table.read(created.target)
    assert rejected["approval"] == "rejected" and rejected["state"] == "new"
    assert rejected["approval_comment"] == "Overlaps the payment freeze"


async def test_retire_cancels_a_task_and_a_change(table: ServiceNowTarget, snow: Snow) -> None:
    change = await table.create("change_request", {"short_description": "x"}, correlation_id=CORR)
    task = await table.create(
        "change_task", {"short_description": "t"}, correlation_id="t", parent=change.target
    )
    await table.retire(task.target, "cancel", {"close_notes": "Removed from release 1.4"})
    task_row = snow.sim.state.get("change_task", task.target.id)
    assert task_row["state"] == "4" and task_row["close_notes"] == "Removed from release 1.4"
    await table.retire(change.target, "cancel", {})
    assert snow.sim.state.get("change_request", change.target.id)["state"] == "4"
    read = await table.read(TargetRef("servicenow", "change_task", task.target.id))
    assert read["state"] == "closed_incomplete"


async def test_task_states_are_accepted_by_name(table: ServiceNowTarget, snow: Snow) -> None:
    change = await table.create("change_request", {"short_description": "x"}, correlation_id=CORR)
    task = await table.create(
        "change_task", {"state": "Work in Progress"}, correlation_id="t", parent=change.target
    )
    assert snow.sim.state.get("change_task", task.target.id)["state"] == "2"


async def test_values_as_the_mapping_gave_them_compare_equal_to_what_the_record_holds(
    table: ServiceNowTarget, snow: Snow
) -> None:
    created = await table.create(
        "change_request",
        {"state": "assess", "assignment_group": "Web Platform", "risk": 3.0},
        correlation_id=CORR,
    )
    fresh = snow.target()  # another process: it met no names yet
    record = (await fresh.read(created.target))["fields"]
    same = fresh.same_value
    assert same("change_request", "state", "assess", record["state"])
    assert same("change_request", "state", "Assess", record["state"])
    assert not same("change_request", "state", "authorize", record["state"])
    assert same("change_request", "assignment_group", "Web Platform", record["assignment_group"])  # learned
    assert not same("change_request", "assignment_group", "Payments Platform", record["assignment_group"])
    assert same("change_request", "risk", 3.0, record["risk"])
    assert same("change_task", "state", "Open", "1") and not same(
        "change_task", "state", "Closed Complete", "1"
    )
    await fresh.aclose()

"""The Remedy target against the simulator over a socket: create through the interface form, find by
Vendor Ticket Number, update, walk statuses, tasks on TMS:Task, read the CAB's answer, poll."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bridgeline.connectors.remedy import RemedyChanges, RemedyTarget
from bridgeline.errors import RemoteRejected, TransitionRefused
from bridgeline.model import EntityRef, Link, Snapshot, TargetRef
from bridgeline.store import Store
from bridgeline.sync.targets import RemedyPoller

from .conftest import CHANGE_FIELDS, Remedy

CORR = "jira:INFRA:version:30200"
CREATE = "POST /api/arsys/v1/entry CHG:ChangeInterface_Create"


async def test_a_change_is_created_through_the_interface_form_and_known_by_its_request_id(
    target: RemedyTarget, remedy: Remedy
) -> None:
    remedy.sim.config.request_id_offset = 500  # Request ID and CRQ number differ, as they can
    result = await target.create("change", CHANGE_FIELDS, correlation_id=CORR)
    change = remedy.sim.state.change(result.target.id)
    assert result.target.id == change["Request ID"] != change["Infrastructure Change ID"]
    assert result.target.number == change["Infrastructure Change ID"] == "CRQ000000000106"
    assert change["Vendor Ticket Number"] == CORR and change["Change Request Status"] == "Draft"
    assert change["Submitter"] == "bridgeline"
    assert remedy.calls(CREATE) == 1
    assert result.target.url == (
        f"{remedy.url}/arsys/forms/remedy/CHG:Infrastructure%20Change/?eid={result.target.id}"
    )


async def test_find_by_vendor_ticket_number_speaks_the_create_forms_names(target: RemedyTarget) -> None:
    assert await target.find("change", CORR) is None
    created = await target.create("change", {**CHANGE_FIELDS, "Status": "Draft"}, correlation_id=CORR)
    found = await target.find("change", CORR)
    assert found is not None and found.target == created.target
    assert found.record["Status"] == found.record["Change Request Status"] == "Draft"
    assert found.record["Description"] == "Release INFRA 7.2"


async def test_update_puts_only_the_given_fields_on_the_change_form(
    target: RemedyTarget, remedy: Remedy
) -> None:
    created = await target.create("change", CHANGE_FIELDS, correlation_id=CORR)
    await target.update(
        created.target, {"Description": "Release INFRA 7.2.1", "Impact": "2-Significant/Large"}
    )
    change = remedy.sim.state.change(created.target.id)
    assert change["Description"] == "Release INFRA 7.2.1" and change["Priority"] == "Medium"
    assert remedy.calls("PUT /api/arsys/v1/entry CHG:Infrastructure Change {entryId}") == 1


async def test_an_unknown_label_comes_back_as_remedys_message(target: RemedyTarget) -> None:
    created = await target.create("change", CHANGE_FIELDS, correlation_id=CORR)
    with pytest.raises(RemoteRejected) as info:
        await target.update(created.target, {"Impact": "Huge"})
    assert "ERROR (306): Value does not fall within the limits specified for the field" in str(info.value)
    assert "Impact" in str(info.value)


async def test_a_later_status_is_walked_to_where_no_cab_waits(target: RemedyTarget, remedy: Remedy) -> None:
    remedy.sim.config.approval_statuses = ()  # no approvers mapped: every phase passes straight on
    result = await target.create("change", {**CHANGE_FIELDS, "Status": "Scheduled"}, correlation_id=CORR)
    assert remedy.sim.state.change(result.target.id)["Change Request Status"] == "Scheduled"


async def test_a_cab_gate_is_reported_with_remedys_words(target: RemedyTarget, remedy: Remedy) -> None:
    with pytest.raises(TransitionRefused) as info:
        await target.create("change", {**CHANGE_FIELDS, "Status": "Scheduled"}, correlation_id=CORR)
    message = str(info.value)
    assert 'from "Request For Authorization" to "Request For Change" on the way to "Scheduled"' in message
    assert "waits for Review" in message and "ERROR (10000)" in message
    # the change exists and is found again (a replay adopts it instead of creating another)
    assert (await target.find("change", CORR)) is not None


async def test_a_status_already_passed_is_left_alone(target: RemedyTarget, remedy: Remedy) -> None:
    created = await target.create(
        "change", {**CHANGE_FIELDS, "Status": "Request For Authorization"}, correlation_id=CORR
    )
    remedy.sim.approve(created.target.number or "", approver="mary")  # Review passed: Request For Change
    await target.update(created.target, {"Status": "Request For Authorization", "Description": "v2"})
    change = remedy.sim.state.change(created.target.id)
    assert change["Change Request Status"] == "Request For Change" and change["Description"] == "v2"


async def test_completed_needs_its_status_reason(target: RemedyTarget, remedy: Remedy) -> None:
    created = await target.create("change", CHANGE_FIELDS, correlation_id=CORR)
    remedy.sim.advance(created.target.number or "", "Implementation In Progress")
    with pytest.raises(TransitionRefused, match="A Status Reason is required"):
        await target.update(created.target, {"Status": "Completed"})
    await target.update(created.target, {"Status": "Closed", "Status Reason": "Successful"})
    change = remedy.sim.state.change(created.target.id)
    assert change["Change Request Status"] == "Closed" and change["Status Reason"] == "Successful"


async def test_retire_cancels_a_change(target: RemedyTarget, remedy: Remedy) -> None:
    created = await target.create("change", CHANGE_FIELDS, correlation_id=CORR)
    await target.retire(created.target, "cancel", {})
    change = remedy.sim.state.change(created.target.id)
    assert change["Change Request Status"] == "Cancelled" and change["Status Reason"] == "No Longer Required"


async def test_tasks_live_on_tms_task_under_their_change(target: RemedyTarget, remedy: Remedy) -> None:
    change = await target.create("change", CHANGE_FIELDS, correlation_id=CORR)
    task = await target.create(
        "change",
        {"Summary": "INFRA-411: Replace the DC2 core switches", "Assignee Group": "Network Operations"},
        correlation_id=CORR + ":issue:411",
        parent=change.target,
    )
    assert task.target.kind == "task" and task.target.id.startswith("TAS")
    [row] = remedy.sim.state.tasks(change.target.number or "")
    assert row["Task ID"] == task.target.id and row["Character 01"] == CORR + ":issue:411"
    assert row["RootRequestID"] == change.target.number and row["Status"] == "Staged"
    found = await target.find("change", CORR + ":issue:411", parent=change.target)
    assert found is not None and found.target.id == task.target.id
    await target.update(task.target, {"Summary": "INFRA-411: Replace both cores"})
    await target.retire(task.target, "cancel", {"Notes": "Removed from release 7.2"})
    [row] = remedy.sim.state.tasks(change.target.number or "")
    assert row["Summary"] == "INFRA-411: Replace both cores"
    assert row["Status"] == "Closed" and row["StatusReasonSelection"] == "Canceled"
    read = await target.read(task.target)
    assert read["state"] == "closed" and read["close_code"] == "Canceled"


async def test_read_brings_the_cabs_answer(target: RemedyTarget, remedy: Remedy) -> None:
    created = await target.create(
        "change",
        {
            **CHANGE_FIELDS,
            "Status": "Request For Authorization",
            "Scheduled Start Date": "2024-06-15T03:00:00.000+0000",
        },
        correlation_id=CORR,
    )
    asked = await target.read(created.target)
    assert asked["state"] == "assess" and asked["raw_state"] == "Request For Authorization"
    assert asked["approval"] == "requested" and asked["approver"] is None
    assert asked["planned_start"] == "2024-06-15T03:00:00.000+0000"
    remedy.sim.config.approval_statuses = ("Request For Authorization",)  # one CAB gate
    remedy.sim.approve(created.target.number or "", approver="mary", comment="CAB 2024-06-10")
    approved = await target.read(created.target)
    assert approved["approval"] == "approved" and approved["approver"] == "Mary Mann"
    assert approved["approval_comment"] == "CAB 2024-06-10" and approved["state"] == "planning"
    assert approved["number"] == created.target.number and approved["url"] == created.target.url


async def test_read_brings_a_rejection_and_completion(target: RemedyTarget, remedy: Remedy) -> None:
    created = await target.create(
        "change", {**CHANGE_FIELDS, "Status": "Request For Authorization"}, correlation_id=CORR
    )
    remedy.sim.reject(created.target.number or "", reason="Freeze window")
    rejected = await target.read(created.target)
    assert rejected["state"] == "rejected" and rejected["approval"] == "rejected"
    assert rejected["approval_comment"] == "Freeze window"
    other = await target.create("change", CHANGE_FIELDS, correlation_id=CORR + "b")
    remedy.sim.advance(other.target.number or "", "Completed", status_reason="Successful")
    done = await target.read(other.target)
    assert (
        done["state"] == "closed" and done["raw_state"] == "Completed" and done["close_code"] == "Successful"
    )


# -- polling ------------------------------------------------------------------------------------------


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    s = await Store.open(sqlite_url)
    yield s
    await s.close()


async def own(store: Store, ref: TargetRef) -> None:
    key = f"jira:version:{ref.id}"
    await store.record(link=Link("m", key, EntityRef.parse(key), ref, key, Snapshot.of({})))


async def test_poll_reports_status_changes_of_owned_changes_once(
    store: Store, target: RemedyTarget, remedy: Remedy
) -> None:
    mine = await target.create(
        "change", {**CHANGE_FIELDS, "Status": "Request For Authorization"}, correlation_id=CORR
    )
    await target.create("change", CHANGE_FIELDS, correlation_id="someone else's")
    await own(store, mine.target)
    poller = RemedyPoller(store, RemedyChanges(target.client), interval=1)
    # Remedy has no update counter: every change of an owned entry is news (echoes die in the engine)
    assert await poller.poll() == 1
    await store.claim("w", limit=10, lease_seconds=60)
    assert await poller.poll() == 0  # the overlap re-reads it; nothing new
    remedy.sim.approve(mine.target.number or "")
    assert await poller.poll() == 1
    assert [r.entity for r in await store.inbox_rows(state="pending")] == [f"remedy:change:{mine.target.id}"]
    assert await poller.poll() == 0
    cursor = await store.get_cursor("remedy:change")
    assert cursor is not None and cursor.isdigit()


async def test_values_as_the_mapping_gave_them_compare_equal_to_what_the_entry_holds(
    target: RemedyTarget,
) -> None:
    assert target.same_value("change", "Status", "request for authorization", "Request For Authorization")
    assert not target.same_value("change", "Status", "Draft", "Request For Authorization")
    assert target.same_value("change", "Number of Issues", 2, "2")
    assert not target.same_value("change", "Description", "a", "b")


async def test_work_info_notes_become_entries_on_the_change_not_fields_of_it(
    target: RemedyTarget, remedy: Remedy
) -> None:
    note = {"Work Info Notes": "Created from Jira release INFRA 7.2", "Work Info Summary": "From Jira"}
    created = await target.create("change", {**CHANGE_FIELDS, **note}, correlation_id=CORR)
    crq = created.target.number
    assert crq is not None
    await target.update(
        created.target, {"Status": "Request For Authorization", "Work Info Notes": "Sent to the CAB"}
    )
    assert remedy.sim.state.change(crq)["Change Request Status"] == "Request For Authorization"
    entries = remedy.sim.state.work_info(crq)
    assert [(e["Description"], e["Detailed Description"]) for e in entries] == [
        ("From Jira", "Created from Jira release INFRA 7.2"),
        ("Sent to the CAB", "Sent to the CAB"),
    ]
    assert {(e["View Access"], e["Work Log Submitter"]) for e in entries} == {("Internal", "bridgeline")}
    assert await target.reader.last_journal("change", created.target.id) == {
        "Work Info Notes": "Sent to the CAB"
    }

"""Change tasks on TMS:Task: linked to their change, refused where BMC refuses them, closed with a reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._forms import CHANGE, TASK
from bridgeline.sim.remedy._lifecycle import TASKS_REFUSED_IN
from bridgeline.sim.remedy._state import Entry

if TYPE_CHECKING:
    from bridgeline.sim.remedy._workflow import Workflow


def create_task(flow: Workflow, raw: Mapping[str, Any], user: str) -> str:
    """A change task under its change; the server fills the links to the change and the stamps."""
    values = flow.state.form(TASK).coerce(raw)
    values.setdefault("Summary", values.get("TaskName"))
    values.setdefault("TaskName", values.get("Summary"))
    if values.get("Summary") is None:
        raise err.ARError(400, err.REQUIRED_FIELD_BLANK, "Required field cannot be blank.", "Summary")
    ref = values.get("RootRequestInstanceID") or values.get("RootRequestID")
    if ref is None:
        raise err.ARError(400, err.REQUIRED_FIELD_BLANK, "Required field cannot be blank.", "RootRequestID")
    parent = flow.state.find_change(ref)
    if parent is None:
        raise err.workflow("The parent request of the task does not exist", ref)
    status = parent.values["Change Request Status"]
    if status in TASKS_REFUSED_IN:
        raise err.workflow(
            f'Tasks cannot be added to a change request in status "{status}"',
            parent.values["Infrastructure Change ID"],
        )
    siblings = [
        t
        for t in flow.state.stores[TASK].values()
        if t.values.get("RootRequestInstanceID") == parent.values["InstanceId"]
    ]
    now = flow.clock.now_s()
    task_id = flow.numbered(TASK, "TAS")
    values.update(
        {
            "Task ID": task_id,
            "InstanceId": flow.instance_id("TM"),
            "Submitter": user,
            "Create Date": now,
            "Last Modified By": user,
            "Modified Date": now,
            "RootRequestID": parent.values["Infrastructure Change ID"],
            "RootRequestInstanceID": parent.values["InstanceId"],
            "RootRequestName": values.get("RootRequestName") or parent.values["Infrastructure Change ID"],
            "RootRequestFormName": CHANGE,
            "RootRequestMode": values.get("RootRequestMode") or "Real",
        }
    )
    values.setdefault("Status", "Staged")
    values.setdefault("TaskType", "Manual")
    values.setdefault("Priority", parent.values.get("Priority") or "Medium")
    values.setdefault("Sequence", len(siblings) + 1)
    values.setdefault("Location Company", parent.values.get("Location Company"))
    _check_task_status(flow, None, values)
    flow.state.add(TASK, {k: values.get(k) for k in values})
    return task_id


def update_task(flow: Workflow, entry: Entry, raw: Mapping[str, Any], user: str) -> None:
    values = flow.state.form(TASK).coerce(raw)
    for link in ("RootRequestID", "RootRequestInstanceID", "RootRequestFormName"):
        if link in values and values[link] != entry.values.get(link):
            raise err.workflow("A task cannot be moved to another parent request", link)
    _check_task_status(flow, entry.values, values)
    entry.values.update(values)
    flow._touch(entry.values, user, "Modified Date")


def _check_task_status(flow: Workflow, current: Mapping[str, Any] | None, values: dict[str, Any]) -> None:
    before = None if current is None else current.get("Status")
    status = values.get("Status", before)
    if before == "Closed" and status != "Closed":
        raise err.workflow("A closed task cannot be reopened", status)
    if status == "Closed" and before != "Closed":
        reason = values.get("StatusReasonSelection") or (current or {}).get("StatusReasonSelection")
        if reason is None:
            raise err.workflow(
                "A Status Reason (StatusReasonSelection) is required to close a task. "
                "Allowed: Success, Failed, Canceled",
                "Success, Failed, Canceled",
            )
        values["Actual End Date"] = flow.clock.now_s()
    if status == "Work In Progress" and (current or {}).get("Actual Start Date") is None:
        values["Actual Start Date"] = flow.clock.now_s()

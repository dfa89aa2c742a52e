"""Change tasks on TMS:Task, linked to their change through RootRequestID / RootRequestInstanceID."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from bridgeline.sim.remedy import RemedySimulator

TASKS = "/api/arsys/v1/entry/TMS:Task"
ErrorOf = Callable[[httpx.Response], dict[str, Any]]
Create = Callable[..., dict[str, Any]]


def add_task(api: httpx.Client, crq: str, summary: str, **extra: Any) -> httpx.Response:
    values = {"RootRequestID": crq, "Summary": summary, "TaskName": summary, **extra}
    return api.post(TASKS, params={"fields": "values(Task ID, Create Date)"}, json={"values": values})


def test_a_task_links_to_its_change(api: httpx.Client, sim: RemedySimulator, create_change: Create) -> None:
    change = create_change()
    crq = change["Infrastructure Change ID"]
    response = add_task(api, crq, "PAY-101 Add refunds endpoint", **{"Character 01": "PAY-101"})
    assert response.status_code == 201
    task_id = response.json()["values"]["Task ID"]
    assert task_id.startswith("TAS") and len(task_id) == 15
    assert response.headers["location"].endswith(f"/api/arsys/v1/entry/TMS:Task/{task_id}")
    task = api.get(f"{TASKS}/{task_id}").json()["values"]
    assert task["RootRequestID"] == crq
    assert task["RootRequestInstanceID"] == change["InstanceId"]
    assert task["RootRequestFormName"] == "CHG:Infrastructure Change"
    assert (task["Status"], task["TaskType"], task["Sequence"]) == ("Staged", "Manual", 1)
    assert task["Submitter"] == "bridgeline"
    assert [t["Task ID"] for t in sim.state.tasks(crq)] == [task_id]


def test_tasks_of_a_change_are_found_by_qualification(api: httpx.Client, create_change: Create) -> None:
    crq = create_change()["Infrastructure Change ID"]
    for key in ("PAY-101", "PAY-102", "PAY-103"):
        assert add_task(api, crq, f"{key} work", **{"Character 01": key}).status_code == 201
    response = api.get(TASKS, params={"q": f"'RootRequestID' = \"{crq}\"", "sort": "Sequence.desc"})
    assert [e["values"]["Character 01"] for e in response.json()["entries"]] == [
        "PAY-103",
        "PAY-102",
        "PAY-101",
    ]


def test_a_task_needs_an_existing_parent(api: httpx.Client, ar_error: ErrorOf) -> None:
    assert ar_error(add_task(api, "CRQ000000009999", "orphan"))["messageAppendedText"] == "CRQ000000009999"
    missing = api.post(TASKS, json={"values": {"Summary": "no parent"}})
    assert (ar_error(missing)["messageNumber"], ar_error(missing)["messageAppendedText"]) == (
        326,
        "RootRequestID",
    )


def test_no_tasks_while_in_implementation_approval_or_after_completion(
    api: httpx.Client, sim: RemedySimulator, ar_error: ErrorOf
) -> None:
    refused = add_task(api, "CRQ000000000102", "late task")  # seed: Scheduled For Approval
    assert refused.status_code == 400
    assert "Scheduled For Approval" in ar_error(refused)["messageText"]
    assert add_task(api, "CRQ000000000104", "after closing").status_code == 400  # seed: Closed


def test_closing_a_task_needs_a_reason_and_is_final(
    api: httpx.Client, ar_error: ErrorOf, create_change: Create
) -> None:
    crq = create_change()["Infrastructure Change ID"]
    task_id = add_task(api, crq, "PAY-7").json()["values"]["Task ID"]
    assert api.put(f"{TASKS}/{task_id}", json={"values": {"Status": "Work In Progress"}}).status_code == 204
    refused = api.put(f"{TASKS}/{task_id}", json={"values": {"Status": "Closed"}})
    assert "StatusReasonSelection" in ar_error(refused)["messageText"]
    closing = {"Status": "Closed", "StatusReasonSelection": "Success"}
    assert (
        api.put(f"/api/arsys/v1/entry/TMS:TaskInterface/{task_id}", json={"values": closing}).status_code
        == 204
    )
    task = api.get(f"{TASKS}/{task_id}").json()["values"]
    assert task["Actual Start Date"] is not None and task["Actual End Date"] is not None
    reopened = api.put(f"{TASKS}/{task_id}", json={"values": {"Status": "Assigned"}})
    assert "cannot be reopened" in ar_error(reopened)["messageText"]


def test_a_task_cannot_change_parent(api: httpx.Client, ar_error: ErrorOf, create_change: Create) -> None:
    crq = create_change()["Infrastructure Change ID"]
    task_id = add_task(api, crq, "PAY-8").json()["values"]["Task ID"]
    moved = api.put(f"{TASKS}/{task_id}", json={"values": {"RootRequestID": "CRQ000000000101"}})
    assert ar_error(moved)["messageAppendedText"] == "RootRequestID"


def test_a_task_status_label_is_checked(api: httpx.Client, ar_error: ErrorOf, create_change: Create) -> None:
    crq = create_change()["Infrastructure Change ID"]
    assert ar_error(add_task(api, crq, "PAY-9", Status="Open"))["messageNumber"] == 306

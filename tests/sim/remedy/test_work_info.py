"""Work info on CHG:WorkLog: entries tied to their change by Infrastructure Change ID."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bridgeline.sim.remedy import RemedySimulator

WORK_LOG = "/api/arsys/v1/entry/CHG:WorkLog"
ErrorOf = Callable[[httpx.Response], dict[str, Any]]
Create = Callable[..., dict[str, Any]]


def add_work_info(api: httpx.Client, crq: str, **extra: Any) -> httpx.Response:
    values = {
        "Infrastructure Change ID": crq,
        "Work Log Type": "General Information",
        "Description": "Deployment started",
        "Detailed Description": "Run 8812 (https://ci.example.com/runs/8812) deploys PAY 2.4.0",
        "View Access": "Internal",
        **extra,
    }
    return api.post(WORK_LOG, params={"fields": "values(Work Log ID)"}, json={"values": values})


def test_a_work_info_entry_belongs_to_its_change(
    api: httpx.Client, sim: RemedySimulator, create_change: Create
) -> None:
    change = create_change()
    crq = change["Infrastructure Change ID"]
    response = add_work_info(api, crq)
    assert response.status_code == 201
    work_log_id = response.json()["values"]["Work Log ID"]
    assert response.headers["location"].endswith(f"/api/arsys/v1/entry/CHG:WorkLog/{work_log_id}")
    entry = api.get(f"{WORK_LOG}/{work_log_id}").json()["values"]
    assert entry["Infrastructure Change ID"] == crq
    assert entry["Infra. Change Entry ID"] == change["Request ID"]
    assert (entry["Work Log Type"], entry["View Access"], entry["Secure Work Log"]) == (
        "General Information",
        "Internal",
        "No",
    )
    assert entry["Work Log Submitter"] == entry["Submitter"] == "bridgeline"
    assert entry["Work Log Submit Date"] == entry["Submit Date"]
    assert entry["Detailed Description"].startswith("Run 8812")
    assert [w["Work Log ID"] for w in sim.state.work_info(crq)] == [work_log_id]


def test_work_info_of_a_change_is_found_by_qualification(api: httpx.Client, create_change: Create) -> None:
    crq = create_change()["Infrastructure Change ID"]
    other = create_change(**{"Vendor Ticket Number": "jira:version:10043"})["Infrastructure Change ID"]
    for summary in ("first", "second"):
        assert add_work_info(api, crq, Description=summary).status_code == 201
    assert add_work_info(api, other, Description="elsewhere").status_code == 201
    response = api.get(
        WORK_LOG,
        params={
            "q": f"'Infrastructure Change ID' = \"{crq}\"",
            "fields": "values(Description,Work Log Submit Date)",
            "sort": "Work Log ID.desc",
        },
    )
    assert [e["values"]["Description"] for e in response.json()["entries"]] == ["second", "first"]


def test_a_work_info_entry_needs_its_change_and_a_summary(
    api: httpx.Client, create_change: Create, ar_error: ErrorOf
) -> None:
    crq = create_change()["Infrastructure Change ID"]
    no_change = api.post(WORK_LOG, json={"values": {"Description": "orphan"}})
    assert no_change.status_code == 400
    assert (ar_error(no_change)["messageNumber"], ar_error(no_change)["messageAppendedText"]) == (
        326,
        "Infrastructure Change ID",
    )
    no_summary = add_work_info(api, crq, Description=None)
    assert (ar_error(no_summary)["messageNumber"], ar_error(no_summary)["messageAppendedText"]) == (
        326,
        "Description",
    )
    unknown = add_work_info(api, "CRQ000000009999")
    assert (ar_error(unknown)["messageNumber"], ar_error(unknown)["messageAppendedText"]) == (
        10000,
        "CRQ000000009999",
    )
    wrong_type = add_work_info(api, crq, **{"Work Log Type": "Gossip"})
    assert ar_error(wrong_type)["messageNumber"] == 306
    unknown_field = add_work_info(api, crq, **{"Work Info Notes": "x"})
    assert ar_error(unknown_field)["messageNumber"] == 314


def test_a_work_info_entry_stays_with_its_change(
    api: httpx.Client, create_change: Create, ar_error: ErrorOf
) -> None:
    crq = create_change()["Infrastructure Change ID"]
    other = create_change(**{"Vendor Ticket Number": "jira:version:10043"})["Infrastructure Change ID"]
    work_log_id = add_work_info(api, crq).json()["values"]["Work Log ID"]
    assert api.put(f"{WORK_LOG}/{work_log_id}", json={"values": {"View Access": "Public"}}).status_code == 204
    moved = api.put(f"{WORK_LOG}/{work_log_id}", json={"values": {"Infrastructure Change ID": other}})
    assert ar_error(moved)["messageNumber"] == 10000
    entry = api.get(f"{WORK_LOG}/{work_log_id}").json()["values"]
    assert (entry["Infrastructure Change ID"], entry["View Access"]) == (crq, "Public")


def test_work_info_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "remedy.json"
    sim = RemedySimulator(seed=42, state_path=path)
    crq = "CRQ000000000103"
    sim.workflow.create("CHG:WorkLog", {"Infrastructure Change ID": crq, "Description": "kept"}, "bridgeline")
    sim.save()
    again = RemedySimulator(seed=42, state_path=path)
    assert [w["Description"] for w in again.state.work_info(crq)] == ["kept"]

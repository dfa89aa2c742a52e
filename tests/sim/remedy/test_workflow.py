"""The change request life cycle: status rules, CAB approval phases and their signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bridgeline.sim import serve_in_thread
from bridgeline.sim.remedy import ApprovalError, RemedySimulator

from .conftest import LOGIN

CHANGES = "/api/arsys/v1/entry/CHG:Infrastructure Change"
SIGNATURES = "/api/arsys/v1/entry/AP:Detail-Signature"
ErrorOf = Callable[[httpx.Response], dict[str, Any]]
Create = Callable[..., dict[str, Any]]


def set_status(api: httpx.Client, request_id: str, status: str, reason: str | None = None) -> httpx.Response:
    values = {"Change Request Status": status}
    if reason is not None:
        values["Status Reason"] = reason
    return api.put(f"{CHANGES}/{request_id}", json={"values": values})


def status_of(sim: RemedySimulator, ref: str) -> str:
    status: str = sim.state.change(ref)["Change Request Status"]
    return status


def test_submitting_a_change_waits_for_the_review_approval(
    api: httpx.Client, sim: RemedySimulator, create_change: Create
) -> None:
    change = create_change()
    assert set_status(api, change["Request ID"], "Request For Authorization").status_code == 204
    assert status_of(sim, change["Request ID"]) == "Request For Authorization"
    [signature] = sim.state.approvals(change["Request ID"])
    assert (signature["Process"], signature["Approvers"], signature["Approval Status"]) == (
        "Change Level CI-IA - Review",
        "mary",
        "Pending",
    )


def test_the_cab_approves_phase_by_phase_to_scheduled(
    api: httpx.Client, sim: RemedySimulator, create_change: Create
) -> None:
    crq = create_change(Status="Request For Authorization")["Infrastructure Change ID"]
    assert sim.approve(crq, approver="mary")["Change Request Status"] == "Request For Change"
    after_business = sim.approve(crq, approver="mary", comment="Business case accepted")
    assert after_business["Change Request Status"] == "Planning In Progress"
    assert after_business["Last Modified By"] == "Remedy Application Service"
    assert set_status(api, crq, "Scheduled For Review").status_code == 204
    assert set_status(api, crq, "Scheduled For Approval").status_code == 204
    assert status_of(sim, crq) == "Scheduled For Approval"
    assert sim.approve(crq, comment="CAB 2030-01-21")["Change Request Status"] == "Scheduled"
    approvals = sim.state.approvals(crq)
    assert [(a["Process"][21:], a["Approval Status"]) for a in approvals] == [
        ("Review", "Approved"),
        ("Business Approval", "Approved"),
        ("Implementation Approval", "Approved"),
    ]
    assert approvals[2]["Comments"] == "CAB 2030-01-21"
    assert approvals[2]["Approver Signature"] == "mary"


def test_a_rejection_ends_in_rejected_and_the_change_can_restart(
    api: httpx.Client, sim: RemedySimulator, create_change: Create
) -> None:
    crq = create_change(Status="Request For Authorization")["Infrastructure Change ID"]
    rejected = sim.reject(crq, reason="Clashes with the payments freeze")
    assert rejected["Change Request Status"] == "Rejected"
    [signature] = sim.state.approvals(crq)
    assert (signature["Approval Status"], signature["Comments"]) == (
        "Rejected",
        "Clashes with the payments freeze",
    )
    with pytest.raises(ApprovalError):
        sim.approve(crq)
    assert set_status(api, crq, "Draft").status_code == 204
    assert set_status(api, crq, "Request For Authorization").status_code == 204
    assert len(sim.state.approvals(crq)) == 2


def test_while_waiting_only_cancel_is_allowed(
    api: httpx.Client, sim: RemedySimulator, ar_error: ErrorOf, create_change: Create
) -> None:
    crq = create_change(Status="Request For Authorization")["Infrastructure Change ID"]
    refused = set_status(api, crq, "Planning In Progress")
    assert refused.status_code == 400
    message = ar_error(refused)
    assert "while it waits for Review" in message["messageText"]
    assert message["messageAppendedText"] == "Cancelled"
    assert set_status(api, crq, "Cancelled", "No Longer Required").status_code == 204
    assert [a["Approval Status"] for a in sim.state.approvals(crq)] == ["Cancelled"]


def test_an_invalid_status_change_names_the_allowed_next_statuses(
    api: httpx.Client, ar_error: ErrorOf, create_change: Create
) -> None:
    change = create_change()
    response = set_status(api, change["Request ID"], "Scheduled")
    assert response.status_code == 400
    message = ar_error(response)
    assert message["messageNumber"] == 10000
    assert message["messageText"] == (
        'The change request cannot move from "Draft" to "Scheduled". '
        "Allowed next statuses: Request For Authorization, Pending, Cancelled"
    )


def test_completed_needs_a_status_reason(
    api: httpx.Client, sim: RemedySimulator, ar_error: ErrorOf, create_change: Create
) -> None:
    crq = create_change()["Infrastructure Change ID"]
    sim.advance(crq, "Implementation In Progress")
    assert sim.state.change(crq)["Actual Start Date"] is not None
    missing = set_status(api, crq, "Completed")
    assert missing.status_code == 400
    assert "Status Reason is required" in ar_error(missing)["messageText"]
    wrong = set_status(api, crq, "Completed", "No Longer Required")
    assert "not valid for status" in ar_error(wrong)["messageText"]
    assert set_status(api, crq, "Completed", "Successful").status_code == 204
    completed = sim.state.change(crq)
    assert (completed["Change Request Status"], completed["Status Reason"]) == ("Completed", "Successful")
    assert completed["Completed Date"] is not None
    assert set_status(api, crq, "Closed").status_code == 204
    assert sim.state.change(crq)["Status Reason"] == "Successful"
    assert ar_error(set_status(api, crq, "Draft"))["messageAppendedText"] == ""


def test_pending_resumes_where_it_left_and_cannot_be_cancelled(
    api: httpx.Client, sim: RemedySimulator, ar_error: ErrorOf, create_change: Create
) -> None:
    crq = create_change()["Infrastructure Change ID"]
    sim.advance(crq, "Planning In Progress")
    assert ar_error(set_status(api, crq, "Pending"))["messageText"].startswith("A Status Reason is required")
    assert set_status(api, crq, "Pending", "Manager Intervention").status_code == 204
    refused = set_status(api, crq, "Cancelled")
    assert ar_error(refused)["messageAppendedText"] == "Planning In Progress"
    assert set_status(api, crq, "Planning In Progress").status_code == 204
    assert sim.state.change(crq)["Status Reason"] is None


def test_a_status_sent_again_is_not_a_transition(api: httpx.Client, create_change: Create) -> None:
    change = create_change()
    assert set_status(api, change["Request ID"], "Draft").status_code == 204


def test_an_approver_signs_through_the_api(
    url: str, sim: RemedySimulator, login: Callable[[str, str], str], ar_error: ErrorOf, create_change: Create
) -> None:
    crq = create_change(Status="Request For Authorization")["Infrastructure Change ID"]
    with httpx.Client(base_url=url, headers={"Authorization": f"AR-JWT {login('mary', 'mary')}"}) as mary:
        pending = mary.get(
            SIGNATURES, params={"q": f"'Request' = \"{crq}\" AND 'Approval Status' = \"Pending\""}
        )
        [signature] = pending.json()["entries"]
        signature_id = signature["values"]["Signature ID"]
        response = mary.put(
            f"{SIGNATURES}/{signature_id}", json={"values": {"Approval Status": "Approved", "Comments": "ok"}}
        )
        assert response.status_code == 204
    assert status_of(sim, crq) == "Request For Change"
    with httpx.Client(base_url=url, headers={"Authorization": f"AR-JWT {login('allen', 'allen')}"}) as allen:
        [next_signature] = [a for a in sim.state.approvals(crq) if a["Approval Status"] == "Pending"]
        refused = allen.put(
            f"{SIGNATURES}/{next_signature['Signature ID']}", json={"values": {"Approval Status": "Approved"}}
        )
        assert "not an approver" in ar_error(refused)["messageText"]


def test_approval_phases_are_a_knob(change_values: Callable[..., dict[str, Any]]) -> None:
    sim = RemedySimulator(
        approval_statuses=("Scheduled For Approval",), cab_approvers=("mary", "ian"), approvals_required="all"
    )
    with serve_in_thread(sim.app) as served, httpx.Client(base_url=served.url) as http:
        token = http.post("/api/jwt/login", data=LOGIN).text
        http.headers["Authorization"] = f"AR-JWT {token}"
        created = http.post(
            "/api/arsys/v1/entry/CHG:ChangeInterface_Create",
            params={"fields": "values(Infrastructure Change Id)"},
            json={"values": change_values(Status="Request For Authorization")},
        )
        crq = created.json()["values"]["Infrastructure Change Id"]
        assert status_of(sim, crq) == "Planning In Progress"  # review and business pass without approvers
        sim.advance(crq, "Scheduled For Approval")
        assert sim.approve(crq, approver="ian")["Change Request Status"] == "Scheduled For Approval"
        assert sim.approve(crq, approver="mary")["Change Request Status"] == "Scheduled"


def test_latent_changes_go_from_review_to_completed(sim: RemedySimulator, create_change: Create) -> None:
    crq = create_change(Timing="Latent", Status="Request For Authorization")["Infrastructure Change ID"]
    approved = sim.approve(crq)
    assert (approved["Change Request Status"], approved["Status Reason"]) == (
        "Completed",
        "Final Review Required",
    )


def test_approving_a_change_that_does_not_wait_is_an_error(sim: RemedySimulator) -> None:
    with pytest.raises(ApprovalError):
        sim.approve("CRQ000000000101")
    with pytest.raises(KeyError):
        sim.approve("CRQ000000009999")

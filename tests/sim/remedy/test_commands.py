"""What a person does to a change from the command line, against a served Remedy: walk it to the
CAB, approve or reject, move it on, close it; found by --url or by the running demo's file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.sim._endpoints import write_endpoints
from bridgeline.sim.remedy import RemedySimulator
from bridgeline.sim.remedy.cli import main as cli

from ..conftest import free_port

Create = Callable[..., dict[str, Any]]


def test_the_whole_loop_to_the_cab_approve_and_close(
    url: str, sim: RemedySimulator, create_change: Create, capsys: pytest.CaptureFixture[str]
) -> None:
    crq = create_change()["Infrastructure Change ID"]
    # the first phase that waits for the CAB stops the walk: Review, in Request For Authorization
    assert cli(["remedy", "move", crq, "Scheduled For Approval", "--url", url]) == 1
    assert capsys.readouterr().err.strip() == (
        f"{crq}: Request For Authorization, waiting for the CAB (Review): "
        f"`bridgeline sim remedy approve {crq}` (or `reject`), then move it on"
    )
    for _ in range(2):  # Review, then Business Approval
        assert cli(["remedy", "approve", crq, "--comment", "ok", "--url", url]) == 0
        capsys.readouterr()
    assert sim.state.change(crq)["Change Request Status"] == "Planning In Progress"
    assert cli(["remedy", "move", crq, "Scheduled For Approval", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{crq}: Scheduled For Approval"
    assert cli(["remedy", "approve", crq, "--comment", "CAB 2030-01-21", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{crq}: Scheduled"

    assert cli(["remedy", "close", crq, "--reason", "Successful with Issues", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{crq}: Closed"
    closed = sim.state.change(crq)
    assert (closed["Status Reason"], closed["Last Modified By"]) == ("Successful with Issues", "mary")
    assert closed["Actual Start Date"] and closed["Completed Date"]


def test_reject_with_a_reason(url: str, sim: RemedySimulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli(["remedy", "reject", "CRQ000000000102", "--reason", "Clashes with the freeze", "--url", url]) == 0
    )
    assert capsys.readouterr().out.strip() == "CRQ000000000102: Rejected"
    assert sim.state.approvals("CRQ000000000102")[-1]["Comments"] == "Clashes with the freeze"
    # from Rejected a change restarts as Draft: one manual step
    assert cli(["remedy", "move", "CRQ000000000102", "Draft", "--url", url]) == 0
    assert sim.state.change("CRQ000000000102")["Change Request Status"] == "Draft"


def test_manual_steps_off_the_path_are_checked_like_a_put(
    url: str, sim: RemedySimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    crq = "CRQ000000000103"  # Scheduled
    assert cli(["remedy", "move", crq, "Pending", "--url", url]) == 1
    assert "Status Reason" in capsys.readouterr().err
    assert cli(["remedy", "move", crq, "Pending", "--reason", "Manager Intervention", "--url", url]) == 0
    assert cli(["remedy", "move", crq, "Cancelled", "--url", url]) == 1  # a Pending change cannot be
    assert "cannot move" in capsys.readouterr().err
    assert cli(["remedy", "move", "CRQ000000099999", "Scheduled", "--url", url]) == 1
    assert "CRQ000000099999" in capsys.readouterr().err


def test_commands_find_the_running_demo_by_its_file(
    url: str, sim: RemedySimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_endpoints(tmp_path, {"remedy": sim.endpoint(url)})
    assert cli(["remedy", "approve", "CRQ000000000102", "--demo", str(tmp_path)]) == 0
    assert sim.state.change("CRQ000000000102")["Change Request Status"] == "Scheduled"
    gone = f"http://127.0.0.1:{free_port()}"
    write_endpoints(tmp_path, {"remedy": sim.endpoint(gone)})
    assert cli(["remedy", "close", "CRQ000000000102", "--demo", str(tmp_path)]) == 2
    assert f"cannot reach the Remedy simulator at {gone}" in capsys.readouterr().err


def test_the_endpoint_lists_accounts_that_sign_in(url: str, sim: RemedySimulator) -> None:
    entry = sim.endpoint(url)
    assert entry["accounts"]["bridgeline"] == {"password": "remedy-pw-2Tx5Jm8c"}
    for login, account in entry["accounts"].items():
        answer = httpx.post(f"{url}/api/jwt/login", data={"username": login, "password": account["password"]})
        assert answer.status_code == 200, login


def test_the_admin_view_of_a_change_says_what_it_waits_for(url: str, sim: RemedySimulator) -> None:
    waiting = httpx.get(f"{url}/_sim/changes/CRQ000000000102").json()
    assert waiting["waiting_for"] == "Implementation Approval" and len(waiting["tasks"]) == 2
    assert waiting["change"]["Change Request Status"] == "Scheduled For Approval"
    assert httpx.get(f"{url}/_sim/changes/CRQ000000000103").json()["waiting_for"] is None
    assert httpx.get(f"{url}/_sim/changes/CRQ000000099999").status_code == 404

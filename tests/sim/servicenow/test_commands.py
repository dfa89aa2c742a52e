"""What a person does to a change from the command line, against a served instance: ask the CAB,
approve or reject, move it along, close it; found by --url or by the running demo's file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bridgeline.sim._endpoints import write_endpoints
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.sim.servicenow.cli import main as cli

from ..conftest import free_port

CHANGES = "/api/now/table/change_request"


def _new_change(api: httpx.Client, **fields: str) -> dict[str, str]:
    created = api.post(CHANGES, json={"short_description": "Release web-26.3", **fields})
    assert created.status_code == 201, created.text
    return dict(created.json()["result"])


def test_the_whole_loop_assess_approve_close(
    url: str, api: httpx.Client, snow: ServiceNowSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    number = _new_change(api)["number"]
    assert cli(["servicenow", "assess", number, "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{number}: New -> Assess (approval requested)"
    change = snow.state.change(number)
    assert change["sys_updated_by"] == "beth.anguiano"  # a person, not the integration account
    assert {a["state"] for a in snow.state.approvals(number)} == {"requested"}

    assert cli(["servicenow", "approve", number, "--comment", "Fine for Thursday", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{number}: approval approved, state Scheduled"

    closing = ["--code", "successful", "--notes", "Deployed without issues"]
    assert cli(["servicenow", "close", number, *closing, "--url", url]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{number}: Scheduled -> Implement -> Review -> Closed (approval approved)"
    )
    closed = snow.state.change(number)
    assert (closed["state"], closed["close_code"], closed["close_notes"]) == (
        "3",
        "successful",
        "Deployed without issues",
    )
    assert closed["active"] == "false" and closed["work_start"] and closed["work_end"]


def test_reject_with_a_reason_sends_the_change_back_to_new(
    url: str, api: httpx.Client, snow: ServiceNowSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    number = _new_change(api, state="-4")["number"]
    assert cli(["servicenow", "reject", number, "--reason", "No backout plan", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{number}: approval rejected, state New"
    [decided] = [a for a in snow.state.approvals(number) if a["state"] == "rejected"]
    assert snow.state.journal(decided["sys_id"])[0]["value"] == "No backout plan"
    with pytest.raises(SystemExit, match="2"):
        cli(["servicenow", "reject", number, "--url", url])
    assert "the following arguments are required: --reason" in capsys.readouterr().err


def test_move_walks_the_path_and_stops_where_the_cab_decides(
    url: str, api: httpx.Client, snow: ServiceNowSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    number = _new_change(api)["number"]
    assert cli(["servicenow", "move", number, "implement", "--url", url]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"New -> Assess -> Authorize: Invalid state transition for {number}")
    assert "condition not met: Approval is Approved" in error
    assert f"`bridgeline sim servicenow approve {number}`" in error
    assert snow.state.change(number)["state"] == "-3"
    snow.approve(number)  # moves it on to Scheduled
    assert cli(["servicenow", "move", number, "review", "--url", url]) == 0
    assert (
        capsys.readouterr().out.strip() == f"{number}: Scheduled -> Implement -> Review (approval approved)"
    )
    assert cli(["servicenow", "move", number, "new", "--url", url]) == 1  # Review cannot go back
    assert "Allowed next states: Closed (3), Canceled (4)" in capsys.readouterr().err
    assert cli(["servicenow", "move", number, "canceled", "--url", url]) == 0
    assert snow.state.change(number)["state"] == "4"


def test_assess_follows_the_change_type(
    url: str, api: httpx.Client, snow: ServiceNowSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emergency = _new_change(api, type="emergency")["number"]
    assert cli(["servicenow", "assess", emergency, "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{emergency}: New -> Authorize (approval requested)"
    standard = _new_change(api, type="standard")["number"]
    assert cli(["servicenow", "assess", standard, "--url", url]) == 1
    assert "pre-approved" in capsys.readouterr().err
    assert cli(["servicenow", "move", standard, "scheduled", "--url", url]) == 0
    assert snow.state.change(standard)["approval"] == "approved"


def test_mistakes_get_a_message_that_says_what_to_fix(
    url: str, api: httpx.Client, snow: ServiceNowSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["servicenow", "assess", "CHG0099999", "--url", url]) == 1
    assert "no change request CHG0099999" in capsys.readouterr().err
    number = _new_change(api)["number"]
    assert cli(["servicenow", "assess", number, "--user", "admin", "--password", "nope", "--url", url]) == 1
    assert "User Not Authenticated" in capsys.readouterr().err
    assert cli(["servicenow", "assess", number, "--user", "marco.silva", "--url", url]) == 2
    assert "give it with --password" in capsys.readouterr().err
    assert cli(["servicenow", "assess", number, "--user", "admin", "--url", url]) == 0
    assert snow.state.change(number)["sys_updated_by"] == "admin"
    with pytest.raises(SystemExit, match="2"):
        cli(["servicenow", "close", number, "--code", "successful", "--url", url])
    assert "the following arguments are required: --notes" in capsys.readouterr().err


def test_a_refusal_the_instance_ignores_is_still_reported(
    url: str, api: httpx.Client, snow: ServiceNowSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    snow.settings.update({"table_transition_refusal": "ignore"})
    number = _new_change(api)["number"]
    assert cli(["servicenow", "move", number, "scheduled", "--url", url]) == 1
    assert f"the instance left {number} in Authorize" in capsys.readouterr().err


def test_commands_find_the_running_demo_by_its_file(
    url: str, api: httpx.Client, snow: ServiceNowSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_endpoints(tmp_path, {"servicenow": snow.endpoint(url)})
    number = _new_change(api)["number"]
    assert cli(["servicenow", "assess", number, "--demo", str(tmp_path)]) == 0
    assert snow.state.change(number)["state"] == "-4"
    assert cli(["servicenow", "approve", number, "--demo", str(tmp_path)]) == 0
    assert snow.state.change(number)["approval"] == "approved"

    gone = f"http://127.0.0.1:{free_port()}"
    write_endpoints(tmp_path, {"servicenow": snow.endpoint(gone)})
    assert cli(["servicenow", "assess", number, "--demo", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"cannot reach the ServiceNow simulator at {gone}" in error
    assert "simulators.json" in error and "bridgeline demo --serve" in error


def test_the_endpoint_lists_accounts_that_sign_in(url: str, snow: ServiceNowSimulator) -> None:
    entry = snow.endpoint(url)
    assert entry["url"] == url and "bridgeline.integration" in entry["accounts"]
    for user, account in entry["accounts"].items():
        answer = httpx.get(f"{url}{CHANGES}", params={"sysparm_limit": "1"}, auth=(user, account["password"]))
        assert answer.status_code == 200, user

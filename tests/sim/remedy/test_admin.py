"""The simulator's controls under /_sim/, fault injection, and the pages a person can open."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bridgeline.sim.remedy import RemedySimulator

CHANGES = "/api/arsys/v1/entry/CHG:Infrastructure Change"
Create = Callable[..., dict[str, Any]]


def test_faults_are_read_and_set_at_run_time(
    client: httpx.Client, api: httpx.Client, sim: RemedySimulator
) -> None:
    assert client.get("/_sim/faults").json()["error_rate"] == 0.0
    updated = client.put("/_sim/faults", json={"error_rate": 1.0, "seed": 7})
    assert updated.status_code == 200
    assert updated.json()["error_rate"] == 1.0
    failed = api.get(CHANGES)
    assert failed.status_code in (500, 502, 503)
    [message] = failed.json()
    assert (message["messageType"], message["messageNumber"]) == ("ERROR", 90)
    assert client.get("/_sim/state").status_code == 200  # the controls are never disturbed
    assert client.get("/").status_code == 200
    assert client.put("/_sim/faults", json={"error_rate": 0}).status_code == 200
    assert api.get(CHANGES).status_code == 200
    assert client.put("/_sim/faults", json={"colour": 1}).status_code == 400


def test_rate_limiting_answers_429_with_retry_after(client: httpx.Client, api: httpx.Client) -> None:
    client.put("/_sim/faults", json={"rate_limit_rate": 1.0, "retry_after_seconds": 3})
    response = api.get(CHANGES)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()[0]["messageType"] == "ERROR"


def test_counters_count_api_calls_per_endpoint(
    client: httpx.Client, api: httpx.Client, sim: RemedySimulator
) -> None:
    api.get(CHANGES)
    api.get(f"{CHANGES}/CRQ000000000101")
    api.get(f"{CHANGES}/CRQ000000000102")
    counts = client.get("/_sim/counters").json()
    assert counts["by_endpoint"] == {
        "POST /api/jwt/login": 1,
        "GET /api/arsys/v1/entry CHG:Infrastructure Change": 1,
        "GET /api/arsys/v1/entry CHG:Infrastructure Change {entryId}": 2,
    }
    assert counts["total"] == 4
    assert counts["faults"]["requests"] == 4
    assert client.delete("/_sim/counters").json()["total"] == 0


def test_reset_brings_back_the_seed(
    client: httpx.Client, sim: RemedySimulator, create_change: Create
) -> None:
    create_change()
    assert len(sim.changes()) == 6
    assert client.post("/_sim/reset").json() == {"reset": True}
    assert len(sim.changes()) == 5
    assert sim.state.tokens == {}


def test_the_state_dump_lists_every_form(client: httpx.Client) -> None:
    dump = client.get("/_sim/state").json()
    assert set(dump["forms"]) == {
        "CHG:Infrastructure Change",
        "CHG:ChangeInterface_Create",
        "CHG:WorkLog",
        "TMS:Task",
        "AP:Detail-Signature",
        "CTM:People",
        "CTM:Support Group",
        "COM:Company",
    }
    assert len(dump["forms"]["CHG:Infrastructure Change"]) == 5
    assert dump["sequences"]["CRQ"] == 105


def test_the_clock_can_be_moved(client: httpx.Client, sim: RemedySimulator) -> None:
    before = client.get("/_sim/clock").json()
    moved = client.put("/_sim/clock", json={"advance_seconds": 86_400}).json()
    assert 86_399 <= moved["epoch"] - before["epoch"] <= 86_402
    pinned = client.put("/_sim/clock", json={"now": "2031-05-01T08:00:00.000+0000", "freeze": True}).json()
    assert pinned["now"] == "2031-05-01T08:00:00.000+0000"
    assert pinned["frozen"] is True
    assert client.get("/_sim/clock").json()["now"] == "2031-05-01T08:00:00.000+0000"


def test_the_cab_acts_through_the_admin_endpoint(client: httpx.Client, sim: RemedySimulator) -> None:
    approved = client.post("/_sim/changes/CRQ000000000102/approve", json={"comment": "CAB ok"})
    assert approved.status_code == 200
    assert approved.json()["Change Request Status"] == "Scheduled"
    again = client.post("/_sim/changes/CRQ000000000102/approve")
    assert again.status_code == 409
    assert "not waiting" in again.json()["error"]
    assert client.post("/_sim/changes/CRQ000000009999/approve").status_code == 404


def test_rejecting_and_moving_a_change_through_the_admin_endpoint(
    client: httpx.Client, sim: RemedySimulator
) -> None:
    rejected = client.post("/_sim/changes/CRQ000000000102/reject", json={"reason": "Too risky"})
    assert rejected.json()["Change Request Status"] == "Rejected"
    assert sim.state.approvals("CRQ000000000102")[-1]["Comments"] == "Too risky"
    started = client.post(
        "/_sim/changes/CRQ000000000103/status", json={"status": "Implementation In Progress"}
    )
    assert started.json()["Change Request Status"] == "Implementation In Progress"
    refused = client.post("/_sim/changes/CRQ000000000103/status", json={"status": "Draft"})
    assert refused.status_code == 409
    assert refused.json()["messageNumber"] == 10000
    done = client.post(
        "/_sim/changes/CRQ000000000101/advance", json={"to": "Closed", "status_reason": "Backed Out"}
    )
    assert (done.json()["Change Request Status"], done.json()["Status Reason"]) == ("Closed", "Backed Out")


def test_a_person_can_read_the_changes(client: httpx.Client, sim: RemedySimulator) -> None:
    index = client.get("/")
    assert index.headers["content-type"].startswith("text/html")
    assert "<a href='/changes/CRQ000000000103'>CRQ000000000103</a>" in index.text
    page = client.get(sim.change_path("CRQ000000000102"))
    assert "Upgrade core switch firmware in DC2" in page.text
    assert "Stage firmware image on TFTP server" in page.text
    assert "Change Level CI-IA - Implementation Approval" in page.text
    redirect = client.get(
        "/arsys/forms/remedy/CHG:Infrastructure Change/?eid=CRQ000000000102", follow_redirects=False
    )
    assert redirect.headers["location"] == "/changes/CRQ000000000102"


def test_unknown_api_paths_answer_in_remedys_shape(api: httpx.Client) -> None:
    response = api.get("/api/arsys/v1/forms")
    assert response.status_code == 404
    assert response.json()[0]["messageType"] == "ERROR"
    assert api.patch(f"{CHANGES}/CRQ000000000101", json={}).status_code == 405


def test_connections_can_be_cut_and_calls_can_hang(client: httpx.Client, api: httpx.Client) -> None:
    client.put("/_sim/faults", json={"reset_rate": 1.0})
    with pytest.raises(httpx.TransportError):
        api.get(CHANGES)
    client.put("/_sim/faults", json={"reset_rate": 0, "timeout_rate": 1.0, "timeout_seconds": 0.05})
    hung = api.get(CHANGES)
    assert hung.status_code == 504
    assert hung.json()[0]["messageNumber"] == 90
    counted = client.get("/_sim/counters").json()["faults"]
    assert (counted["resets"], counted["timeouts"]) == (1, 1)


def test_latency_is_added_to_api_calls_only(client: httpx.Client, api: httpx.Client) -> None:
    client.put("/_sim/faults", json={"latency_ms": 150})
    started = time.monotonic()
    assert api.get(f"{CHANGES}/CRQ000000000101").status_code == 200
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    client.get("/_sim/clock")
    assert time.monotonic() - started < 0.15


def test_the_change_page_keeps_the_paragraphs_and_line_breaks_of_the_text(
    client: httpx.Client, sim: RemedySimulator, create_change: Create
) -> None:
    text = "Jira release PAY 2.4.0\nIssues: PAY-1, PAY-2\r\n\n  \nBackout: <redeploy> 2.3.9 & verify"
    change = create_change(**{"Detailed Description": text})
    page = client.get(sim.change_path(change["Infrastructure Change ID"]))
    assert page.status_code == 200
    shown = (
        "<p>Jira release PAY 2.4.0<br>Issues: PAY-1, PAY-2</p>"
        "<p>Backout: &lt;redeploy&gt; 2.3.9 &amp; verify</p>"
    )
    assert f"<h2>Detailed Description</h2><div class='text'>{shown}</div>" in page.text
    assert f"<th>Detailed Description</th><td>{shown}</td>" in page.text
    assert "<redeploy>" not in page.text


def test_an_unknown_change_page_answers_404(client: httpx.Client) -> None:
    page = client.get("/changes/CRQ000000009999")
    assert page.status_code == 404 and "No change request CRQ000000009999" in page.text

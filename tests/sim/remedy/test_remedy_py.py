"""remedy-py, a client nobody here wrote, drives the simulator over a real socket.

remedy-py 1.0.0 (the installed release) has no ``advanced_query``; its later releases build the URL
as ``/arsys/v1/entry/{form}?fields=values(A, B)&q={qualification}`` with the qualification left
unencoded and send it with ``requests``. The tests send exactly that URL with ``requests``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from remedy_py.RemedyAPIClient import RemedyClient

from bridgeline.sim.remedy import RemedySimulator


@pytest.fixture
def remedy(url: str, sim: RemedySimulator) -> RemedyClient:
    parts = urlsplit(url)
    return RemedyClient(parts.hostname, "bridgeline", "remedy-pw-2Tx5Jm8c", port=parts.port, verify=False)


def advanced_query(client: RemedyClient, form: str, query: str, fields: list[str]) -> requests.Response:
    """What remedy-py's ``advanced_query`` sends: ``q`` typed into the URL as it is."""
    url = client.base_url + f"/arsys/v1/entry/{form}?fields=values({', '.join(fields)})&q={query}"
    return requests.get(url, headers=client.reqHeaders, verify=False, timeout=10)


def test_remedy_py_logs_in_and_sends_the_raw_token(remedy: RemedyClient, sim: RemedySimulator) -> None:
    token = remedy.reqHeaders["Authorization"].removeprefix("AR-JWT ")
    assert token.count(".") == 2
    assert sim.state.tokens[token].user == "bridgeline"


def test_remedy_py_creates_reads_updates_and_deletes_a_change(
    remedy: RemedyClient, sim: RemedySimulator, change_values: Callable[..., dict[str, Any]]
) -> None:
    created, status = remedy.create_form_entry(
        "CHG:ChangeInterface_Create", change_values(), ["Infrastructure Change Id", "Change_Entry_ID"]
    )
    assert status == 201
    crq = created["values"]["Infrastructure Change Id"]
    request_id = created["values"]["Change_Entry_ID"]
    assert crq == "CRQ000000000106"
    assert set(created["values"]) == {"Infrastructure Change Id", "Change_Entry_ID"}

    change, status = remedy.get_form_entry("CHG:Infrastructure Change", request_id)
    assert status == 200
    assert change["values"]["Infrastructure Change ID"] == crq
    assert change["values"]["Submitter"] == "bridgeline"
    assert change["values"]["Change Request Status"] == "Draft"

    updated, status = remedy.update_form_entry(
        "CHG:ChangeInterface", request_id, {"Description": "Release 2.4.1 of Payments"}
    )
    assert status == 204
    assert updated["values"]["Description"] == "Release 2.4.1 of Payments"
    assert sim.state.change(crq)["Description"] == "Release 2.4.1 of Payments"

    _, status = remedy.delete_form_entry("CHG:Infrastructure Change", request_id)
    assert status == 204
    assert sim.state.find_change(crq) is None


def test_unencoded_qualification_as_advanced_query_sends_it(
    remedy: RemedyClient, change_values: Callable[..., dict[str, Any]]
) -> None:
    remedy.create_form_entry(
        "CHG:ChangeInterface_Create", change_values(**{"Vendor Ticket Number": "R&D-7"}), []
    )
    query = (
        "'Vendor Ticket Number' = \"R&D-7\" OR ('Description' LIKE \"%firewall%\" "
        "AND 'Change Request Status' = \"Draft\")"
    )
    response = advanced_query(
        remedy, "CHG:Infrastructure Change", query, ["Infrastructure Change ID", "Description"]
    )
    assert response.status_code == 200, response.text
    found = {
        e["values"]["Infrastructure Change ID"]: e["values"]["Description"]
        for e in response.json()["entries"]
    }
    assert found == {
        "CRQ000000000101": "Quarterly firewall rule review",
        "CRQ000000000106": "Release 2.4.0 of Payments",
    }


def test_remedy_py_logout_releases_the_token(remedy: RemedyClient) -> None:
    _, status = remedy.release_token()
    assert status == 204
    with pytest.raises(requests.HTTPError) as failure:
        remedy.get_form_entry("CHG:Infrastructure Change", "CRQ000000000101")
    assert failure.value.response.status_code == 401
    assert failure.value.response.json()[0]["messageNumber"] == 623


def test_remedy_py_sees_remedy_errors_as_http_errors(remedy: RemedyClient) -> None:
    with pytest.raises(requests.HTTPError) as failure:
        remedy.get_form_entry("CHG:Infrastructure Change", "CRQ000000009999")
    assert failure.value.response.status_code == 404
    assert failure.value.response.json() == [
        {
            "messageType": "ERROR",
            "messageText": "Entry does not exist in database",
            "messageAppendedText": "CRQ000000009999",
            "messageNumber": 302,
        }
    ]


def test_remedy_py_adds_work_info_to_a_change_and_finds_it(
    remedy: RemedyClient, sim: RemedySimulator, change_values: Callable[..., dict[str, Any]]
) -> None:
    created, _ = remedy.create_form_entry(
        "CHG:ChangeInterface_Create", change_values(), ["Infrastructure Change Id"]
    )
    crq = created["values"]["Infrastructure Change Id"]
    values = {
        "Infrastructure Change ID": crq,
        "Work Log Type": "General Information",
        "Description": "Deployment started",
        "Detailed Description": "Run 8812 deploys PAY 2.4.0",
        "View Access": "Internal",
    }
    entry, status = remedy.create_form_entry("CHG:WorkLog", values, ["Work Log ID"])
    assert status == 201 and entry["values"]["Work Log ID"].startswith("WLG")
    response = advanced_query(
        remedy,
        "CHG:WorkLog",
        f"'Infrastructure Change ID'=\"{crq}\"",
        ["Description", "Detailed Description"],
    )
    assert [e["values"]["Description"] for e in response.json()["entries"]] == ["Deployment started"]
    assert sim.state.work_info(crq)[0]["Work Log Submitter"] == "bridgeline"

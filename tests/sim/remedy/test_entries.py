"""The entry resource: list, paging links, fields, sort, get, create, update, delete, and their errors."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bridgeline.sim import serve_in_thread
from bridgeline.sim.remedy import RemedySimulator

from .conftest import LOGIN

CHANGES = "/api/arsys/v1/entry/CHG:Infrastructure Change"
CREATE = "/api/arsys/v1/entry/CHG:ChangeInterface_Create"
ErrorOf = Callable[[httpx.Response], dict[str, Any]]


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [entry["values"]["Infrastructure Change ID"] for entry in response.json()["entries"]]


def test_a_list_has_entries_with_values_and_self_links(api: httpx.Client, url: str) -> None:
    response = api.get(CHANGES)
    body = response.json()
    assert set(body) == {"entries", "_links"}
    assert len(body["entries"]) == 5
    first = body["entries"][0]
    assert set(first) == {"values", "_links"}
    assert first["_links"] == {
        "self": [{"href": f"{url}/api/arsys/v1/entry/CHG:Infrastructure%20Change/CRQ000000000101"}]
    }
    assert first["values"]["Vendor Ticket Number"] is None  # every field, nulls included
    assert body["_links"] == {"self": [{"href": f"{url}/api/arsys/v1/entry/CHG:Infrastructure%20Change"}]}


def test_fields_values_limits_what_comes_back(api: httpx.Client) -> None:
    response = api.get(CHANGES, params={"fields": "values(Infrastructure Change ID, Change Request Status)"})
    assert [set(e["values"]) for e in response.json()["entries"]] == [
        {"Infrastructure Change ID", "Change Request Status"}
    ] * 5


def test_paging_follows_next_links_until_there_are_none(api: httpx.Client, url: str) -> None:
    seen: list[str] = []
    response = api.get(CHANGES, params={"limit": 2, "fields": "values(Infrastructure Change ID)"})
    pages = 1
    while True:
        seen += ids(response)
        links = response.json()["_links"]
        if "next" not in links:
            break
        href = links["next"][0]["href"]
        assert href.startswith(f"{url}/api/arsys/v1/entry/CHG:Infrastructure%20Change?")
        response = api.get(href)
        pages += 1
    assert pages == 3
    assert seen == [f"CRQ00000000010{i}" for i in range(1, 6)]
    assert (
        "offset=4&limit=2"
        in api.get(CHANGES, params={"limit": 2, "offset": 2}).json()["_links"]["next"][0]["href"]
    )


def test_sort_orders_selection_fields_by_their_position(api: httpx.Client) -> None:
    response = api.get(CHANGES, params={"sort": "Change Request Status.desc"})
    statuses = [e["values"]["Change Request Status"] for e in response.json()["entries"]]
    assert statuses == [
        "Closed",
        "Implementation In Progress",
        "Scheduled",
        "Scheduled For Approval",
        "Draft",
    ]
    ascending = api.get(
        CHANGES, params={"sort": "Submit Date.asc", "fields": "values(Infrastructure Change ID)"}
    )
    assert ids(ascending) == [f"CRQ00000000010{i}" for i in (4, 1, 2, 3, 5)]


def test_get_one_entry_and_a_missing_one(api: httpx.Client, url: str, ar_error: ErrorOf) -> None:
    response = api.get(f"{CHANGES}/CRQ000000000103")
    assert response.status_code == 200
    body = response.json()
    assert body["values"]["Description"] == "Rotate TLS certificates for payments gateway"
    assert (
        body["_links"]["self"][0]["href"]
        == f"{url}/api/arsys/v1/entry/CHG:Infrastructure%20Change/CRQ000000000103"
    )
    only = api.get(f"{CHANGES}/CRQ000000000103", params={"fields": "values(Change Request Status)"})
    assert only.json()["values"] == {"Change Request Status": "Scheduled"}
    missing = api.get(f"{CHANGES}/CRQ000000000999")
    assert missing.status_code == 404
    assert ar_error(missing)["messageNumber"] == 302


def test_the_interface_view_shows_the_same_entries(api: httpx.Client) -> None:
    view = api.get("/api/arsys/v1/entry/CHG:ChangeInterface/CRQ000000000102").json()["values"]
    base = api.get(f"{CHANGES}/CRQ000000000102").json()["values"]
    assert view == base


def test_an_unknown_form_is_404_with_error_303(api: httpx.Client, ar_error: ErrorOf) -> None:
    response = api.get("/api/arsys/v1/entry/CHG:Nothing")
    assert response.status_code == 404
    assert ar_error(response)["messageNumber"] == 303


@pytest.mark.parametrize(
    ("params", "number"),
    [
        ({"fields": "values(Infrastructure Change ID, Colour)"}, 314),
        ({"sort": "Colour.asc"}, 314),
        ({"q": "'Colour' = \"red\""}, 1587),
        ({"q": "'Description' = "}, 1587),
        ({"q": "'Description' = \"x\" AND"}, 1587),
        ({"q": "('Description' = \"x\""}, 1587),
        ({"limit": "ten"}, 10000),
    ],
)
def test_bad_parameters_answer_remedy_errors(
    api: httpx.Client, ar_error: ErrorOf, params: dict[str, str], number: int
) -> None:
    response = api.get(CHANGES, params=params)
    assert response.status_code == 400
    assert ar_error(response)["messageNumber"] == number


def test_unknown_field_in_values_names_the_form_and_field(
    api: httpx.Client, ar_error: ErrorOf, change_values: Callable[..., dict[str, Any]]
) -> None:
    response = api.post(CREATE, json={"values": change_values(Colour="red")})
    assert response.status_code == 400
    message = ar_error(response)
    assert (message["messageNumber"], message["messageText"]) == (314, "Field does not exist on current form")
    assert message["messageAppendedText"] == "CHG:ChangeInterface_Create : <Colour>"
    update = api.put(f"{CHANGES}/CRQ000000000101", json={"values": {"Colour": "red"}})
    assert ar_error(update)["messageAppendedText"] == "CHG:Infrastructure Change : <Colour>"


def test_create_is_201_with_a_location_and_no_body(
    api: httpx.Client, url: str, sim: RemedySimulator, change_values: Callable[..., dict[str, Any]]
) -> None:
    response = api.post(CREATE, json={"values": change_values()})
    assert response.status_code == 201
    assert response.content == b""
    location = response.headers["location"]
    assert location.startswith(f"{url}/api/arsys/v1/entry/CHG:ChangeInterface_Create/")
    interface = api.get(location, params={"fields": "values(Infrastructure Change Id, Change_Entry_ID)"})
    assert interface.json()["values"] == {
        "Infrastructure Change Id": "CRQ000000000106",
        "Change_Entry_ID": "CRQ000000000106",
    }
    change = sim.state.change("CRQ000000000106")
    assert change["Vendor Ticket Number"] == "jira:version:10042"
    assert change["Scheduled Start Date"] == "2030-01-28T11:00:00.000+0000"
    assert change["Support Group Name"] == change["ASGRP"] == "Release Coordinators"


def test_create_with_fields_answers_the_values_asked_for(
    api: httpx.Client, url: str, change_values: Callable[..., dict[str, Any]]
) -> None:
    response = api.post(
        CREATE,
        params={"fields": "values(Infrastructure Change Id,Change_Entry_ID,Create Date)"},
        json={"values": change_values()},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["values"]["Infrastructure Change Id"] == "CRQ000000000106"
    assert body["values"]["Create Date"].endswith(".000+0000")
    assert body["_links"] == {"self": [{"href": f"{url}/api/arsys/v1/entry/CHG:ChangeInterface_Create"}]}


def test_the_location_can_point_at_the_change_itself(change_values: Callable[..., dict[str, Any]]) -> None:
    sim = RemedySimulator(create_location="change", request_id_offset=1000)
    with serve_in_thread(sim.app) as served, httpx.Client(base_url=served.url) as http:
        token = http.post("/api/jwt/login", data=LOGIN).text
        headers = {"Authorization": f"AR-JWT {token}"}
        response = http.post(CREATE, json={"values": change_values()}, headers=headers)
        location = response.headers["location"]
        assert location == f"{served.url}/api/arsys/v1/entry/CHG:Infrastructure%20Change/CRQ000000001106"
        change = http.get(location, headers=headers).json()["values"]
        assert (change["Request ID"], change["Infrastructure Change ID"]) == (
            "CRQ000000001106",
            "CRQ000000000106",
        )


def test_find_a_change_by_its_correlation_id(
    api: httpx.Client, create_change: Callable[..., dict[str, Any]]
) -> None:
    create_change()
    create_change(**{"Vendor Ticket Number": "jira:version:10043"})
    response = api.get(CHANGES, params={"q": "'Vendor Ticket Number' = \"jira:version:10043\""})
    assert ids(response) == ["CRQ000000000107"]


def test_update_is_204_and_changes_only_what_was_sent(api: httpx.Client, sim: RemedySimulator) -> None:
    before = sim.state.change("CRQ000000000101")
    response = api.put(f"{CHANGES}/CRQ000000000101", json={"values": {"Detailed Description": "New plan"}})
    assert response.status_code == 204
    after = sim.state.change("CRQ000000000101")
    changed = {k for k in after if after[k] != before[k]}
    assert changed <= {"Detailed Description", "Last Modified By", "Last Modified Date"}
    assert after["Detailed Description"] == "New plan"
    assert after["Last Modified By"] == "bridgeline"


def test_server_set_fields_cannot_be_written(api: httpx.Client, ar_error: ErrorOf) -> None:
    response = api.put(f"{CHANGES}/CRQ000000000101", json={"values": {"Infrastructure Change ID": "CRQ1"}})
    assert response.status_code == 400
    assert ar_error(response)["messageNumber"] == 10000


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"value": {}}'])
def test_a_malformed_body_is_a_400(api: httpx.Client, ar_error: ErrorOf, body: bytes) -> None:
    response = api.put(
        f"{CHANGES}/CRQ000000000101", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    ar_error(response)


def test_delete_is_204_then_the_entry_is_gone(api: httpx.Client, ar_error: ErrorOf) -> None:
    assert api.delete(f"{CHANGES}/CRQ000000000101").status_code == 204
    assert api.get(f"{CHANGES}/CRQ000000000101").status_code == 404
    assert ar_error(api.delete(f"{CHANGES}/CRQ000000000101"))["messageNumber"] == 302


def test_changes_are_made_through_the_interface_form(
    api: httpx.Client, ar_error: ErrorOf, change_values: Callable[..., dict[str, Any]]
) -> None:
    response = api.post(CHANGES, json={"values": {"Description": "x"}})
    assert response.status_code == 400
    assert "CHG:ChangeInterface_Create" in ar_error(response)["messageText"]


def test_foundation_forms_can_be_read(api: httpx.Client) -> None:
    groups = api.get("/api/arsys/v1/entry/CTM:Support Group", params={"q": "'Company' = \"Calbro Services\""})
    names = {e["values"]["Support Group Name"] for e in groups.json()["entries"]}
    assert {"Change Management", "Release Coordinators", "Network Operations"} <= names
    people = api.get("/api/arsys/v1/entry/CTM:People", params={"q": "'Remedy Login ID' = \"bridgeline\""})
    assert [e["values"]["Full Name"] for e in people.json()["entries"]] == ["Bridgeline Integration"]


def test_the_servers_maximum_caps_every_page() -> None:
    sim = RemedySimulator(max_list_entries=2)
    with serve_in_thread(sim.app) as served, httpx.Client(base_url=served.url) as http:
        token = http.post("/api/jwt/login", data=LOGIN).text
        http.headers["Authorization"] = f"AR-JWT {token}"
        for params in ({}, {"limit": 10}, {"limit": 0}):
            body = http.get(CHANGES, params=params).json()
            assert len(body["entries"]) == 2
            assert "offset=2&limit=2" in body["_links"]["next"][0]["href"]


def test_concurrent_creates_get_distinct_numbers(
    api: httpx.Client, sim: RemedySimulator, change_values: Callable[..., dict[str, Any]]
) -> None:
    def create(n: int) -> str:
        response = api.post(
            CREATE,
            params={"fields": "values(Infrastructure Change Id)"},
            json={"values": change_values(**{"Vendor Ticket Number": f"jira:version:{n}"})},
        )
        assert response.status_code == 201, response.text
        crq: str = response.json()["values"]["Infrastructure Change Id"]
        return crq

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(create, range(40)))
    assert sorted(numbers) == [f"CRQ{n:012d}" for n in range(106, 146)]
    assert len(sim.changes()) == 45

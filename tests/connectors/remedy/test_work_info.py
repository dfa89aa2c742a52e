"""Work info on a Remedy change (CHG:WorkLog), with the transport mocked (respx)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from bridgeline.errors import RemoteRejected, RemoteUnavailable
from bridgeline.model import TargetRef

from .test_client import BASE, CHANGES, LOGIN, ar_error, jwt, logins, target

WORK_LOG = f"{BASE}/api/arsys/v1/entry/CHG:WorkLog"
CHANGE = TargetRef("remedy", "change", "000000000000506", "CRQ000000000106")
TEXT = "Unauthorized deployment to production: run 78 (https://ci.example.com/runs/78) deployed"


def entries(*texts: str) -> httpx.Response:
    rows = [
        {"values": {"Work Log ID": f"WLG00000000000{i}", "Detailed Description": t}}
        for i, t in enumerate(texts, 1)
    ]
    return httpx.Response(200, json={"entries": rows})


@respx.mock
async def test_a_note_is_a_new_work_info_entry_not_a_field_of_the_change() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    post = respx.post(WORK_LOG).mock(
        return_value=httpx.Response(201, json={"values": {"Work Log ID": "WLG000000000001"}})
    )
    put = respx.put(url__startswith=CHANGES)
    await target().update(CHANGE, {"Work Info Notes": TEXT, "Work Info Summary": "Unauthorized deployment"})
    assert put.call_count == 0 and post.call_count == 1
    request = post.calls[0].request
    assert request.url.params["fields"] == "values(Work Log ID)"
    assert json.loads(request.content)["values"] == {
        "Infrastructure Change ID": "CRQ000000000106",
        "Work Log Type": "General Information",
        "Description": "Unauthorized deployment",
        "Detailed Description": TEXT,
        "View Access": "Internal",
        "Secure Work Log": "No",
    }


@respx.mock
async def test_the_changes_fields_are_written_first_then_the_note() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    order: list[str] = []

    def put(request: httpx.Request) -> httpx.Response:
        order.append("change")
        assert json.loads(request.content)["values"] == {"Description": "Release 2"}
        return httpx.Response(204)

    def post(request: httpx.Request) -> httpx.Response:
        order.append("work info")
        return httpx.Response(201, headers={"Location": f"{WORK_LOG}/WLG000000000002"})

    respx.put(f"{CHANGES}/000000000000506").mock(side_effect=put)
    respx.post(WORK_LOG).mock(side_effect=post)
    result = await target().update(CHANGE, {"Description": "Release 2", "Work Info Notes": "line one\nmore"})
    assert order == ["change", "work info"]
    assert result.fields["Work Info Notes"] == "line one\nmore"


@respx.mock
async def test_the_summary_is_the_first_line_cut_to_what_the_form_holds() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    post = respx.post(WORK_LOG).mock(return_value=httpx.Response(201))
    await target().add_work_info(CHANGE, "x" * 150 + "\nsecond line")
    summary = json.loads(post.calls[0].request.content)["values"]["Description"]
    assert len(summary) == 100 and summary.endswith("...")


@respx.mock
async def test_a_work_info_create_that_timed_out_but_happened_is_found_not_repeated() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    post = respx.post(WORK_LOG).mock(side_effect=httpx.ReadTimeout("slow"))
    lookup = respx.get(WORK_LOG).mock(return_value=entries("someone else's", TEXT))
    assert await target().add_work_info(CHANGE, TEXT) == "WLG000000000002"
    assert post.call_count == 1
    assert lookup.calls[0].request.url.params["q"] == "'Infrastructure Change ID' = \"CRQ000000000106\""


@respx.mock
async def test_a_work_info_create_that_timed_out_and_is_not_there_is_left_to_a_retry() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    post = respx.post(WORK_LOG).mock(side_effect=httpx.ReadTimeout("slow"))
    respx.get(WORK_LOG).mock(return_value=entries("an older note"))
    with pytest.raises(RemoteUnavailable):
        await target().add_work_info(CHANGE, TEXT)
    assert post.call_count == 1


@respx.mock
async def test_a_refused_work_info_entry_comes_back_with_remedys_words() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    respx.post(WORK_LOG).mock(
        return_value=ar_error(400, 326, "Required field cannot be blank.", "Infrastructure Change ID")
    )
    with pytest.raises(RemoteRejected) as info:
        await target().add_work_info(CHANGE, TEXT)
    assert "ERROR (326): Required field cannot be blank.; Infrastructure Change ID" in str(info.value)


@respx.mock
async def test_the_last_journal_of_a_change_is_its_newest_work_info_text() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    change = respx.get(f"{CHANGES}/000000000000506").mock(
        return_value=httpx.Response(200, json={"values": {"Infrastructure Change ID": "CRQ000000000106"}})
    )
    lookup = respx.get(WORK_LOG).mock(side_effect=[entries("first", TEXT), entries()])
    reader = target().reader
    assert await reader.last_journal("change", CHANGE.id) == {"Work Info Notes": TEXT}
    assert await reader.last_journal("change", CHANGE.id) == {}
    assert change.call_count == 2
    params = lookup.calls[0].request.url.params
    assert params["q"] == "'Infrastructure Change ID' = \"CRQ000000000106\""
    assert params["sort"] == "Submit Date.asc,Work Log ID.asc"

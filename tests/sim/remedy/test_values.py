"""Values as the REST API exchanges them: selection labels, AR date-times, required and checked values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bridgeline.sim.remedy import RemedySimulator

CHANGES = "/api/arsys/v1/entry/CHG:Infrastructure Change"
CREATE = "/api/arsys/v1/entry/CHG:ChangeInterface_Create"
ErrorOf = Callable[[httpx.Response], dict[str, Any]]
Values = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Impact", "High"),
        ("Urgency", "3-medium"),
        ("Risk Level", "Risk Level 6"),
        ("Timing", "Routine"),
        ("Change Type", "Normal"),
        ("Status", "New"),
    ],
)
def test_an_unknown_label_is_rejected_with_306(
    api: httpx.Client, ar_error: ErrorOf, change_values: Values, field: str, value: str
) -> None:
    response = api.post(CREATE, json={"values": change_values(**{field: value})})
    assert response.status_code == 400
    message = ar_error(response)
    assert message["messageNumber"] == 306
    assert message["messageAppendedText"].startswith(f"{field}: {value!r} is not one of: ")


def test_labels_are_what_comes_back(create_change: Callable[..., dict[str, Any]]) -> None:
    change = create_change(Impact="1-Extensive/Widespread", Urgency="2-High", Timing="Expedited")
    assert (change["Impact"], change["Urgency"], change["Timing"]) == (
        "1-Extensive/Widespread",
        "2-High",
        "Expedited",
    )
    assert change["Risk Level"] == "Risk Level 2"


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        ("1-Extensive/Widespread", "1-Critical", "Critical"),
        ("2-Significant/Large", "1-Critical", "Critical"),
        ("2-Significant/Large", "2-High", "High"),
        ("3-Moderate/Limited", "3-Medium", "Medium"),
        ("4-Minor/Localized", "4-Low", "Low"),
    ],
)
def test_priority_follows_impact_and_urgency(
    create_change: Callable[..., dict[str, Any]], impact: str, urgency: str, priority: str
) -> None:
    assert create_change(Impact=impact, Urgency=urgency, Priority="Low")["Priority"] == priority


def test_priority_changes_when_impact_changes(
    api: httpx.Client, sim: RemedySimulator, create_change: Callable[..., dict[str, Any]]
) -> None:
    change = create_change()
    api.put(f"{CHANGES}/{change['Request ID']}", json={"values": {"Impact": "1-Extensive/Widespread"}})
    assert sim.state.change(change["Request ID"])["Priority"] == "High"


@pytest.mark.parametrize(
    "sent",
    [
        "2030-01-28T11:19:29.000+0000",
        "2030-01-28T11:19:29Z",
        "2030-01-28T11:19:29",
        "2030-01-28 11:19:29",
        "2030-01-28T12:19:29.000+01:00",
        "1895829569",
        1895829569,
    ],
)
def test_date_times_are_read_generously_and_written_one_way(
    create_change: Callable[..., dict[str, Any]], sent: Any
) -> None:
    change = create_change(**{"Scheduled Start Date": sent})
    assert change["Scheduled Start Date"] == "2030-01-28T11:19:29.000+0000"
    assert change["Submit Date"].endswith(".000+0000")


def test_a_date_time_that_is_not_one_is_306(
    api: httpx.Client, ar_error: ErrorOf, change_values: Values
) -> None:
    response = api.post(CREATE, json={"values": change_values(**{"Scheduled Start Date": "next Tuesday"})})
    assert ar_error(response)["messageNumber"] == 306


def test_the_summary_is_at_most_100_characters(
    api: httpx.Client, ar_error: ErrorOf, change_values: Values
) -> None:
    assert api.post(CREATE, json={"values": change_values(Description="x" * 100)}).status_code == 201
    response = api.post(CREATE, json={"values": change_values(Description="x" * 101)})
    assert response.status_code == 400
    assert ar_error(response)["messageNumber"] == 306


@pytest.mark.parametrize(
    "missing",
    [
        "z1D_Action",
        "Description",
        "Status",
        "Impact",
        "Urgency",
        "Change Type",
        "Timing",
        "Risk Level",
        "Company",
        "Location Company",
        "First Name",
        "Last Name",
    ],
)
def test_required_values_on_create(
    api: httpx.Client, ar_error: ErrorOf, change_values: Values, missing: str
) -> None:
    values = change_values()
    del values[missing]
    response = api.post(CREATE, json={"values": values})
    assert response.status_code == 400
    message = ar_error(response)
    assert (message["messageNumber"], message["messageAppendedText"]) == (326, missing)


def test_an_empty_string_counts_as_missing(
    api: httpx.Client, ar_error: ErrorOf, change_values: Values
) -> None:
    response = api.post(CREATE, json={"values": change_values(Description="")})
    assert ar_error(response)["messageNumber"] == 326


def test_the_action_must_be_create(api: httpx.Client, ar_error: ErrorOf, change_values: Values) -> None:
    response = api.post(CREATE, json={"values": change_values(z1D_Action="MODIFY")})
    assert response.status_code == 400
    assert "CREATE" in ar_error(response)["messageText"]


def test_a_change_starts_in_draft_or_request_for_authorization(
    api: httpx.Client, ar_error: ErrorOf, change_values: Values
) -> None:
    response = api.post(CREATE, json={"values": change_values(Status="Scheduled")})
    assert response.status_code == 400
    assert "Allowed: Draft, Request For Authorization" in ar_error(response)["messageText"]


@pytest.mark.parametrize(
    ("values", "detail"),
    [
        ({"Company": "Globex"}, "Globex"),
        ({"First Name": "Nobody"}, "Nobody Integration"),
        ({"Support Group Name": "Galactic Ops"}, "Galactic Ops"),
        ({"Support Organization": "IT Support"}, "Release Coordinators"),  # group is in another organization
    ],
)
def test_foundation_references_must_exist(
    api: httpx.Client, ar_error: ErrorOf, change_values: Values, values: dict[str, str], detail: str
) -> None:
    response = api.post(CREATE, json={"values": change_values(**values)})
    assert response.status_code == 400
    assert detail in ar_error(response)["messageAppendedText"]

"""The encoded query language of sysparm_query, driven through the Table API."""

from __future__ import annotations

import httpx
import pytest

CHANGES = "/api/now/table/change_request"


@pytest.fixture
def releases(admin_api: httpx.Client) -> dict[str, str]:
    """Five changes made at known instants (clock frozen), numbered by correlation id."""
    # priorities 1, 2, 3, 4, 4 through the priority lookup (impact, urgency)
    rows = [
        ("2025-02-01 08:00:00", "REL-1", "Release Payments 1.0", "11", "Payments Platform"),
        ("2025-02-01 09:30:00", "REL-2", "Release payments 1.1", "12", "Payments Platform"),
        ("2025-02-02 10:00:00", "REL-3", "Hotfix storefront", "13", "Web Platform"),
        ("2025-02-03 11:00:00", "REL-4", "Release identity 3.0", "23", "Web Platform"),
        ("2025-02-04 12:00:00", "", "Quarterly database upgrade", "23", "Database Administration"),
    ]
    numbers = {}
    for moment, correlation, title, (impact, urgency), group in rows:
        admin_api.put("/_sim/clock", json={"now": moment})
        created = admin_api.post(
            CHANGES,
            json={
                "short_description": title,
                "correlation_id": correlation,
                "impact": impact,
                "urgency": urgency,
                "assignment_group": group,
            },
        ).json()["result"]
        numbers[correlation or "none"] = created["number"]
    return numbers


def query(api: httpx.Client, text: str, **params: str) -> list[str]:
    """Correlation ids of the bridgeline-made changes matching ``text``, in answer order."""
    response = api.get(
        CHANGES, params={"sysparm_query": text, "sysparm_fields": "correlation_id,number", **params}
    )
    assert response.status_code == 200, response.text
    return [r["correlation_id"] or r["number"] for r in response.json()["result"]]


def test_equality_and_text_operators(admin_api: httpx.Client, releases: dict[str, str]) -> None:
    assert query(admin_api, "correlation_id=REL-2") == ["REL-2"]
    assert query(admin_api, "correlation_idSTARTSWITHREL^correlation_id!=REL-2") == [
        "REL-1",
        "REL-3",
        "REL-4",
    ]
    assert query(admin_api, "short_descriptionLIKEpayments") == ["REL-1", "REL-2"]  # case-insensitive
    assert query(admin_api, "correlation_idSTARTSWITHREL^short_descriptionNOT LIKErelease") == ["REL-3"]
    assert query(admin_api, "short_descriptionENDSWITH3.0") == ["REL-4"]
    assert query(admin_api, "correlation_idISEMPTY^sys_created_on>=2025-01-31") == [releases["none"]]
    assert query(admin_api, "correlation_idISNOTEMPTY^ORDERBYDESCcorrelation_id") == [
        "REL-4",
        "REL-3",
        "REL-2",
        "REL-1",
    ]


def test_in_and_numeric_comparisons(admin_api: httpx.Client, releases: dict[str, str]) -> None:
    assert query(admin_api, "correlation_idINREL-1,REL-3,REL-9") == ["REL-1", "REL-3"]
    assert query(admin_api, "correlation_idSTARTSWITHREL^correlation_idNOT INREL-1,REL-3") == [
        "REL-2",
        "REL-4",
    ]
    assert query(admin_api, "correlation_idSTARTSWITHREL^priority<3") == ["REL-1", "REL-2"]
    assert query(admin_api, "correlation_idSTARTSWITHREL^priority>=3") == ["REL-3", "REL-4"]
    # state is an integer: -2 > -3 numerically even though "-2" < "-3" as text
    states = admin_api.get(
        CHANGES, params={"sysparm_query": "state>-3^ORDERBYstate", "sysparm_fields": "state"}
    ).json()["result"]
    assert [s["state"] for s in states] == ["-2", "-1", "0", "3"]


def test_or_new_query_and_ordering(admin_api: httpx.Client, releases: dict[str, str]) -> None:
    assert query(admin_api, "correlation_id=REL-1^ORcorrelation_id=REL-4^priority=4") == ["REL-4"]
    assert query(admin_api, "correlation_id=REL-1^NQcorrelation_id=REL-3^ORDERBYDESCcorrelation_id") == [
        "REL-3",
        "REL-1",
    ]
    both = query(admin_api, "correlation_idSTARTSWITHREL^ORDERBYDESCpriority^ORDERBYcorrelation_id")
    assert both == ["REL-4", "REL-3", "REL-2", "REL-1"]
    by_group = query(admin_api, "sys_created_on>=2025-02-01^ORDERBYassignment_group.name^ORDERBYDESCpriority")
    assert by_group == [releases["none"], "REL-2", "REL-1", "REL-4", "REL-3"]


def test_dot_walking_one_reference(admin_api: httpx.Client, releases: dict[str, str]) -> None:
    assert query(admin_api, "assignment_group.name=Web Platform^sys_created_on>=2025-02-01") == [
        "REL-3",
        "REL-4",
    ]
    tasks = admin_api.get(
        "/api/now/table/change_task",
        params={"sysparm_query": "change_request.number=CHG0030002", "sysparm_fields": "short_description"},
    ).json()["result"]
    assert [t["short_description"] for t in tasks] == ["Update CDN configuration", "Verify cache hit ratio"]


def test_date_time_literals_are_utc_and_between_is_inclusive(
    admin_api: httpx.Client, releases: dict[str, str]
) -> None:
    assert query(admin_api, "sys_updated_on>=2025-02-01 09:30:00^correlation_idISNOTEMPTY") == [
        "REL-2",
        "REL-3",
        "REL-4",
    ]
    # the same instant written with an offset
    assert query(admin_api, "sys_updated_on>2025-02-01T10:30:00+01:00^correlation_idISNOTEMPTY") == [
        "REL-3",
        "REL-4",
    ]
    assert query(admin_api, "sys_created_onBETWEEN2025-02-01 09:30:00@2025-02-02 10:00:00") == [
        "REL-2",
        "REL-3",
    ]
    assert query(
        admin_api,
        "sys_created_on>=javascript:gs.dateGenerate('2025-02-03','start')^sys_created_on<2025-02-04 00:00:00",
    ) == ["REL-4"]


def test_relative_dates_follow_the_simulator_clock(admin_api: httpx.Client, releases: dict[str, str]) -> None:
    admin_api.put("/_sim/clock", json={"now": "2025-02-04 12:30:00"})
    assert query(admin_api, "sys_created_on>=javascript:gs.minutesAgoStart(45)") == [releases["none"]]
    assert query(admin_api, "sys_created_on>=javascript:gs.daysAgoStart(2)") == [
        "REL-3",
        "REL-4",
        releases["none"],
    ]


def test_unknown_parts_are_ignored_like_an_instance_does(
    admin_api: httpx.Client, releases: dict[str, str]
) -> None:
    assert query(admin_api, "u_no_such_field=1^correlation_id=REL-3") == ["REL-3"]
    assert query(admin_api, "correlation_idSOUNDSLIKErel^correlation_id=REL-3^GROUPBYstate") == ["REL-3"]
    assert query(admin_api, "correlation_id=REL-3^ORDERBYu_nothing^EQ") == ["REL-3"]
    everything = admin_api.get(CHANGES, params={"sysparm_query": "u_nope=1"}).headers["X-Total-Count"]
    assert everything == "11"


def test_polling_for_changes_since_a_cursor(admin_api: httpx.Client, releases: dict[str, str]) -> None:
    admin_api.put("/_sim/clock", json={"now": "2025-02-05 09:00:00"})
    admin_api.patch(
        f"{CHANGES}/{_sys_id(admin_api, releases['REL-1'])}", json={"description": "moved to next week"}
    )
    polled = admin_api.get(
        CHANGES,
        params={
            "sysparm_query": "sys_updated_on>=2025-02-04 00:00:00^ORDERBYsys_updated_on",
            "sysparm_fields": "correlation_id,number,sys_updated_on,sys_mod_count",
        },
    ).json()["result"]
    assert [
        (p["correlation_id"] or p["number"], p["sys_updated_on"], p["sys_mod_count"]) for p in polled
    ] == [
        (releases["none"], "2025-02-04 12:00:00", "0"),
        ("REL-1", "2025-02-05 09:00:00", "1"),
    ]


def _sys_id(api: httpx.Client, number: str) -> str:
    [row] = api.get(CHANGES, params={"sysparm_query": f"number={number}", "sysparm_fields": "sys_id"}).json()[
        "result"
    ]
    return str(row["sys_id"])

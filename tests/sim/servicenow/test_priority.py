"""A change's priority comes from its impact and urgency, as the base instance's Priority Data Lookup
(``dl_u_priority``) sets it on insert and on update, replacing whatever priority was written."""

from __future__ import annotations

import httpx
import pytest

from bridgeline.sim.servicenow import ServiceNowSimulator

CHANGES = "/api/now/table/change_request"
CHANGE_API = "/api/sn_chg_rest/change"

# impact, urgency -> priority and its label, as ServiceNow documents the lookup
MATRIX = [
    ("1", "1", "1", "1 - Critical"),
    ("1", "2", "2", "2 - High"),
    ("1", "3", "3", "3 - Moderate"),
    ("2", "1", "2", "2 - High"),
    ("2", "2", "3", "3 - Moderate"),
    ("2", "3", "4", "4 - Low"),
    ("3", "1", "3", "3 - Moderate"),
    ("3", "2", "4", "4 - Low"),
    ("3", "3", "5", "5 - Planning"),
]


def _priority(api: httpx.Client, sys_id: str) -> tuple[str, str]:
    shown = api.get(
        f"{CHANGES}/{sys_id}", params={"sysparm_fields": "priority", "sysparm_display_value": "all"}
    ).json()["result"]["priority"]
    return shown["value"], shown["display_value"]


@pytest.mark.parametrize(("impact", "urgency", "priority", "label"), MATRIX)
def test_inserting_a_change_derives_its_priority(
    api: httpx.Client, impact: str, urgency: str, priority: str, label: str
) -> None:
    created = api.post(
        CHANGES, json={"short_description": "Release payments-api 2.4", "impact": impact, "urgency": urgency}
    )
    assert created.status_code == 201, created.text
    assert created.json()["result"]["priority"] == priority
    assert _priority(api, created.json()["result"]["sys_id"]) == (priority, label)


def test_updating_impact_or_urgency_recomputes_the_whole_matrix(api: httpx.Client) -> None:
    sys_id = api.post(CHANGES, json={"short_description": "Release web-26.3"}).json()["result"]["sys_id"]
    for impact, urgency, priority, label in MATRIX:
        answer = api.patch(f"{CHANGES}/{sys_id}", json={"impact": impact, "urgency": urgency})
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["priority"] == priority, (impact, urgency)
        assert _priority(api, sys_id) == (priority, label)
    api.patch(f"{CHANGES}/{sys_id}", json={"impact": "1", "urgency": "3"})
    assert api.patch(f"{CHANGES}/{sys_id}", json={"urgency": "1"}).json()["result"]["priority"] == "1"
    assert api.patch(f"{CHANGES}/{sys_id}", json={"impact": "3"}).json()["result"]["priority"] == "3"


def test_choice_labels_derive_the_same_priority(api: httpx.Client) -> None:
    created = api.post(
        CHANGES,
        params={"sysparm_input_display_value": "true"},
        json={"short_description": "Hotfix", "impact": "1 - High", "urgency": "2 - Medium"},
    ).json()["result"]
    assert (created["impact"], created["urgency"], created["priority"]) == ("1", "2", "2")


def test_a_priority_written_directly_gives_way_to_the_lookup(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    created = api.post(
        CHANGES, json={"short_description": "Emergency", "impact": "1", "urgency": "1", "priority": "4"}
    ).json()["result"]
    assert created["priority"] == "1"
    mod_count = created["sys_mod_count"]
    unchanged = api.patch(f"{CHANGES}/{created['sys_id']}", json={"priority": "5"}).json()["result"]
    # the lookup puts the priority back, so the write changes nothing and saves nothing
    assert unchanged["priority"] == "1" and unchanged["sys_mod_count"] == mod_count
    assert snow.state.get("change_request", created["sys_id"])["priority"] == "1"


def test_a_new_change_without_impact_or_urgency_is_planning(api: httpx.Client) -> None:
    created = api.post(CHANGES, json={"short_description": "Quarterly review"}).json()["result"]
    assert (created["impact"], created["urgency"], created["priority"]) == ("3", "3", "5")


def test_a_pair_without_a_lookup_row_keeps_the_priority_written(api: httpx.Client) -> None:
    created = api.post(
        CHANGES, json={"short_description": "Odd", "impact": "4", "urgency": "1", "priority": "2"}
    ).json()["result"]
    assert (created["impact"], created["priority"]) == ("4", "2")


def test_the_change_management_api_derives_priority_too(api: httpx.Client) -> None:
    created = api.post(f"{CHANGE_API}/emergency", json={"short_description": "Hotfix", "impact": "1"})
    assert created.status_code == 200, created.text
    result = created.json()["result"]
    assert result["priority"]["display_value"] == "3 - Moderate"  # urgency stays 3 - Low
    sys_id = result["sys_id"]["value"]
    patched = api.patch(f"{CHANGE_API}/{sys_id}", json={"urgency": "1"}).json()["result"]
    assert patched["priority"]["display_value"] == "1 - Critical"


def test_the_lookup_can_be_switched_off_like_any_data_lookup(
    api: httpx.Client, admin_api: httpx.Client
) -> None:
    admin_api.put("/_sim/settings", json={"priority_lookup": False}).raise_for_status()
    created = api.post(
        CHANGES, json={"short_description": "Manual", "impact": "1", "urgency": "1", "priority": "4"}
    ).json()["result"]
    assert created["priority"] == "4"

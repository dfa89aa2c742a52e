"""The Table API as documented: envelope, string values, references, display values, paging, writes."""

from __future__ import annotations

import re

import httpx

from bridgeline.sim.servicenow import ServiceNowSimulator

CHANGES = "/api/now/table/change_request"


def _create(api: httpx.Client, **fields: str) -> dict:
    response = api.post(CHANGES, json={"short_description": "Release storefront-web 5.1", **fields})
    assert response.status_code == 201, response.text
    return response.json()["result"]


def test_calls_without_valid_credentials_get_401_in_the_error_envelope(url: str) -> None:
    anonymous = httpx.get(url + CHANGES)
    wrong = httpx.get(url + CHANGES, auth=("admin", "not-the-password"))
    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert response.json() == {
            "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
            "status": "failure",
        }
    assert "basic" in anonymous.headers["www-authenticate"].lower()


def test_values_are_strings_and_references_carry_a_link_that_resolves(api: httpx.Client) -> None:
    response = api.get(CHANGES, params={"sysparm_query": "number=CHG0030003"})
    [change] = response.json()["result"]
    assert change["state"] == "-4" and change["sys_mod_count"] == "1" and change["active"] == "true"
    assert all(isinstance(v, str | dict) for v in change.values())
    group = change["assignment_group"]
    assert set(group) == {"link", "value"} and re.fullmatch(r"[0-9a-f]{32}", group["value"])
    followed = api.get(group["link"]).json()["result"]
    assert followed["name"] == "Network Operations" and followed["sys_id"] == group["value"]
    assert change["assigned_to"] == ""  # an empty reference is a plain empty string
    assert change["work_notes"] == ""  # journal fields read back empty


def test_display_values_true_all_and_without_reference_links(api: httpx.Client) -> None:
    base = {"sysparm_query": "number=CHG0030003", "sysparm_fields": "state,assignment_group,impact"}
    shown = api.get(CHANGES, params={**base, "sysparm_display_value": "true"}).json()["result"][0]
    assert shown["state"] == "Assess" and shown["impact"] == "1 - High"
    assert (
        shown["assignment_group"]["display_value"] == "Network Operations"
        and "link" in shown["assignment_group"]
    )
    both = api.get(CHANGES, params={**base, "sysparm_display_value": "all"}).json()["result"][0]
    assert both["state"] == {"display_value": "Assess", "value": "-4"}
    assert set(both["assignment_group"]) == {"display_value", "value", "link"}
    bare = api.get(
        CHANGES, params={**base, "sysparm_display_value": "True", "sysparm_exclude_reference_link": "True"}
    ).json()["result"][0]
    assert bare == {"state": "Assess", "assignment_group": "Network Operations", "impact": "1 - High"}


def test_fields_may_be_dot_walked(api: httpx.Client) -> None:
    params = {
        "sysparm_query": "number=CHG0030003",
        "sysparm_fields": "number,assignment_group.name,nonexistent",
    }
    [row] = api.get(CHANGES, params=params).json()["result"]
    assert row == {"number": "CHG0030003", "assignment_group.name": "Network Operations"}


def test_pagination_headers_and_following_next_links(api: httpx.Client) -> None:
    response = api.get("/api/now/table/sys_user", params={"sysparm_limit": 5, "sysparm_fields": "user_name"})
    total = int(response.headers["X-Total-Count"])
    assert total == 12 and len(response.json()["result"]) == 5
    rels = dict((rel, href) for href, rel in re.findall(r'<([^>]+)>;rel="(\w+)"', response.headers["Link"]))
    assert set(rels) == {"first", "next", "last"}
    assert "sysparm_offset=10" in rels["last"] and "sysparm_limit=5" in rels["last"]
    names = [u["user_name"] for u in response.json()["result"]]
    while "next" in rels:
        response = api.get(rels["next"])
        names += [u["user_name"] for u in response.json()["result"]]
        rels = dict(
            (rel, href) for href, rel in re.findall(r'<([^>]+)>;rel="(\w+)"', response.headers["Link"])
        )
    assert "prev" in rels and len(names) == len(set(names)) == total


def test_pagination_header_and_count_can_be_switched_off(api: httpx.Client) -> None:
    quiet = api.get(CHANGES, params={"sysparm_limit": 2, "sysparm_suppress_pagination_header": "true"})
    assert "Link" not in quiet.headers and quiet.headers["X-Total-Count"] == "6"
    uncounted = api.get(CHANGES, params={"sysparm_limit": 2, "sysparm_no_count": "true"})
    assert "X-Total-Count" not in uncounted.headers and 'rel="next"' in uncounted.headers["Link"]


def test_empty_results_v1_answers_404_v2_and_unversioned_an_empty_list(api: httpx.Client) -> None:
    params = {"sysparm_query": "number=CHG9999999"}
    v1 = api.get("/api/now/v1/table/change_request", params=params)
    assert v1.status_code == 404 and v1.json()["error"]["message"] == "No Record found"
    for path in ("/api/now/v2/table/change_request", CHANGES):
        response = api.get(path, params=params)
        assert response.status_code == 200 and response.json() == {"result": []}


def test_insert_answers_201_with_location_and_resolves_display_values(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    response = api.post(
        CHANGES,
        json={
            "short_description": "Release payments-api 2.4.0",
            "assignment_group": "Payments Platform",
            "assigned_to": "marco.silva",
            "cmdb_ci": "payments-api",
            "start_date": "2025-03-01T22:00:00+01:00",
            "no_such_field": "ignored",
            "impact": 2,
        },
    )
    assert response.status_code == 201
    created = response.json()["result"]
    assert response.headers["Location"] == f"{api.base_url}{CHANGES}/{created['sys_id']}"
    assert api.get(response.headers["Location"]).json()["result"]["number"] == created["number"]
    assert re.fullmatch(r"CHG\d{7}", created["number"]) and created["state"] == "-5"
    assert created["approval"] == "not requested" and created["impact"] == "2"
    assert created["start_date"] == "2025-03-01 21:00:00"  # stored as UTC
    assert created["sys_created_by"] == created["sys_updated_by"] == "bridgeline.integration"
    stored = snow.state.get("change_request", created["sys_id"])
    assert "no_such_field" not in stored
    marco = snow.state.find("sys_user", user_name="marco.silva")[0]
    assert stored["assigned_to"] == marco["sys_id"]
    assert (
        api.get(f"{CHANGES}/{created['sys_id']}", params={"sysparm_display_value": "true"}).json()["result"][
            "cmdb_ci"
        ]["display_value"]
        == "payments-api"
    )


def test_update_with_patch_and_put_then_delete(api: httpx.Client) -> None:
    created = _create(api)
    path = f"{CHANGES}/{created['sys_id']}"
    patched = api.patch(path, json={"short_description": "Release storefront-web 5.1.1"})
    assert patched.status_code == 200 and patched.json()["result"]["sys_mod_count"] == "1"
    put = api.put(path, json={"description": "Rolling deploy"})
    assert put.status_code == 200 and put.json()["result"]["sys_mod_count"] == "2"
    unchanged = api.patch(path, json={"description": "Rolling deploy"})
    assert unchanged.json()["result"]["sys_mod_count"] == "2"  # nothing changed, nothing saved
    deleted = api.delete(path)
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.get(path).status_code == 404


def test_errors_use_the_envelope(api: httpx.Client) -> None:
    unknown_table = api.get("/api/now/table/u_no_such_table")
    assert unknown_table.status_code == 400
    assert unknown_table.json()["error"]["message"] == "Invalid table u_no_such_table"
    bad_json = api.post(CHANGES, content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["status"] == "failure"
    missing = api.patch(f"{CHANGES}/{'0' * 32}", json={"description": "x"})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "No Record found"
    nowhere = api.get("/api/now/nowhere")
    assert nowhere.status_code == 400
    assert nowhere.json()["error"]["message"] == "Requested URI does not represent any resource"


def test_journal_fields_append_entries_and_read_back_empty(
    api: httpx.Client, snow: ServiceNowSimulator
) -> None:
    created = _create(api, work_notes="Created from Jira release 5.1")
    path = f"{CHANGES}/{created['sys_id']}"
    api.patch(path, json={"work_notes": "3 issues added"})
    answer = api.patch(path, json={"comments": "Customer-visible note"}).json()["result"]
    assert answer["work_notes"] == "" and answer["comments"] == ""
    assert answer["sys_mod_count"] == "2"  # a journal entry is a change of its own
    entries = api.get(
        "/api/now/table/sys_journal_field",
        params={"sysparm_query": f"element_id={created['sys_id']}^ORDERBYsys_created_on"},
    ).json()["result"]
    assert [(e["element"], e["value"]) for e in entries] == [
        ("work_notes", "Created from Jira release 5.1"),
        ("work_notes", "3 issues added"),
        ("comments", "Customer-visible note"),
    ]
    assert {e["name"] for e in entries} == {"change_request"}
    assert {e["sys_created_by"] for e in entries} == {"bridgeline.integration"}
    assert len(snow.state.journal(created["sys_id"], element="work_notes")) == 2


def test_change_tasks_reference_their_change_request(api: httpx.Client) -> None:
    change = _create(api)
    task = api.post(
        "/api/now/table/change_task",
        json={
            "change_request": change["sys_id"],
            "short_description": "Deploy PAY-101",
            "correlation_id": "PAY-101",
        },
    )
    assert task.status_code == 201
    created = task.json()["result"]
    assert re.fullmatch(r"CTASK\d{7}", created["number"]) and created["state"] == "1"
    assert created["change_request"]["value"] == change["sys_id"]
    listed = api.get(
        "/api/now/table/change_task",
        params={"sysparm_query": f"change_request={change['sys_id']}", "sysparm_display_value": "true"},
    ).json()["result"]
    assert [t["change_request"]["display_value"] for t in listed] == [change["number"]]
    assert listed[0]["state"] == "Open"


def test_configuration_item_classes_share_the_cmdb_ci_table(api: httpx.Client) -> None:
    everything = api.get("/api/now/table/cmdb_ci", params={"sysparm_fields": "name,sys_class_name"}).json()
    services = api.get(
        "/api/now/table/cmdb_ci_service", params={"sysparm_fields": "name,sys_class_name,sys_id"}
    )
    classes = {c["sys_class_name"] for c in everything["result"]}
    assert classes == {"cmdb_ci_service", "cmdb_ci_appl"} and len(everything["result"]) == 10
    names = [s["name"] for s in services.json()["result"]]
    assert names == ["Payments Gateway", "Online Storefront", "Customer Identity", "Corporate Network"]
    app = api.get("/api/now/table/cmdb_ci_appl", params={"sysparm_query": "name=orders-db"}).json()["result"][
        0
    ]
    assert api.get(f"/api/now/table/cmdb_ci_service/{app['sys_id']}").status_code == 404
    assert api.get(f"/api/now/table/cmdb_ci/{app['sys_id']}").status_code == 200
    created = api.post("/api/now/v2/table/cmdb_ci_service", json={"name": "Loyalty"})
    assert created.headers["Location"].endswith(
        f"/api/now/v2/table/cmdb_ci_service/{created.json()['result']['sys_id']}"
    )
    assert created.json()["result"]["sys_class_name"] == "cmdb_ci_service"

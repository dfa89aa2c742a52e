"""The Change Management API: creates, reads, updates, tasks, standard templates."""

from __future__ import annotations

import httpx

from bridgeline.sim.servicenow import ServiceNowSimulator

API = "/api/sn_chg_rest/change"


def test_create_normal_from_url_and_body_values(api: httpx.Client, snow: ServiceNowSimulator) -> None:
    response = api.post(
        f"{API}/normal",
        params={"short_description": "from the URL", "no_such_field": "x"},
        json={
            "short_description": "Release payments-api 2.6",
            "state": "-2",
            "assignment_group": "Payments Platform",
        },
    )
    assert response.status_code == 200
    change = response.json()["result"]
    assert change["state"] == {"display_value": "New", "value": -5.0}
    assert change["type"] == {"display_value": "Normal", "value": "normal"}
    assert change["short_description"]["value"] == "Release payments-api 2.6"  # the body wins
    assert change["assignment_group"]["display_value"] == "Payments Platform"
    assert change["active"] == {"display_value": "true", "value": True}
    assert set(change["sys_created_on"]) == {"display_value", "value", "display_value_internal"}
    assert sorted(change["__meta"]["ignoredFields"]) == ["no_such_field", "state"]
    assert snow.state.change(change["number"]["value"])["state"] == "-5"


def test_values_can_be_plain_strings(api: httpx.Client, admin_api: httpx.Client) -> None:
    admin_api.put("/_sim/settings", json={"change_api_typed_values": False})
    change = api.post(f"{API}/emergency", json={"short_description": "Hotfix"}).json()["result"]
    assert change["state"] == {"display_value": "New", "value": "-5"}
    assert change["type"]["value"] == "emergency" and change["active"]["value"] == "true"


def test_standard_change_from_a_template(api: httpx.Client) -> None:
    templates = api.get(f"{API}/standard/template").json()["result"]
    rotate = next(t for t in templates if t["name"]["value"].startswith("Rotate TLS"))
    template_id = rotate["sys_id"]["value"]
    assert api.get(f"{API}/standard/template/{template_id}").json()["result"]["name"] == rotate["name"]
    created = api.post(
        f"{API}/standard/{template_id}",
        json={
            "description": "my own words",
            "assignment_group": "Network Operations",
            "cmdb_ci": "Corporate Network",
        },
    ).json()["result"]
    assert created["type"]["value"] == "standard" and created["state"]["value"] == -5.0
    assert created["short_description"]["value"] == "Rotate TLS certificate on a load balancer"
    assert created["description"]["value"] == "Replace an expiring certificate"
    assert created["implementation_plan"]["value"].startswith("Upload the new certificate")
    assert created["std_change_producer_version"]["display_value"] == f"{rotate['name']['value']} - 1"
    assert created["__meta"]["ignoredFields"] == ["description"]
    scheduled = api.patch(f"{API}/standard/{created['sys_id']['value']}", json={"state": "-2"}).json()[
        "result"
    ]
    assert scheduled["approval"]["value"] == "approved"
    assert api.post(f"{API}/standard/{'f' * 32}").status_code == 404


def test_list_with_query_name_value_pairs_and_paging(api: httpx.Client) -> None:
    everything = api.get(API)
    assert everything.headers["X-Total-Count"] == "6"
    numbers = [c["number"]["value"] for c in everything.json()["result"]]
    assert numbers == sorted(numbers)  # ordered by number unless asked otherwise
    assessed = api.get(API, params={"state": "Assess"}).json()["result"]
    assert [c["number"]["value"] for c in assessed] == ["CHG0030003"]
    normal_closed = api.get(f"{API}/normal", params={"sysparm_query": "active=false"}).json()["result"]
    assert [c["number"]["value"] for c in normal_closed] == ["CHG0030001"]
    page = api.get(
        API, params={"sysparm_limit": 2, "sysparm_offset": 4, "sysparm_query": "ORDERBYDESCnumber"}
    )
    assert [c["number"]["value"] for c in page.json()["result"]] == ["CHG0030002", "CHG0030001"]
    by_title = api.get(API, params={"order": "short_description", "sysparm_limit": 1}).json()["result"]
    assert by_title[0]["short_description"]["value"] == "Decommission identity-service v1"


def test_read_update_and_delete_one_change(api: httpx.Client, snow: ServiceNowSimulator) -> None:
    emergency = snow.state.change("CHG0030005")
    assert api.get(f"{API}/{emergency['sys_id']}").json()["result"]["number"]["value"] == "CHG0030005"
    assert api.get(f"{API}/emergency/{emergency['sys_id']}").status_code == 200
    assert api.get(f"{API}/normal/{emergency['sys_id']}").status_code == 404
    updated = api.patch(f"{API}/{emergency['sys_id']}", json={"close_notes": "Hotfix held", "u_nope": 1})
    assert updated.status_code == 200
    assert updated.json()["result"]["close_notes"]["value"] == "Hotfix held"
    assert updated.json()["result"]["__meta"]["ignoredFields"] == ["u_nope"]
    deleted = api.delete(f"{API}/{emergency['sys_id']}")
    assert deleted.status_code == 200 and deleted.json()["result"]["number"]["value"] == "CHG0030005"
    assert api.get(f"{API}/{emergency['sys_id']}").status_code == 404
    assert api.get(f"{API}/{emergency['sys_id']}/nextstates").status_code == 404


def test_change_tasks(api: httpx.Client, snow: ServiceNowSimulator) -> None:
    change = api.post(f"{API}/normal", json={"short_description": "Release web 7"}).json()["result"]
    change_id = change["sys_id"]["value"]
    task = api.post(
        f"{API}/{change_id}/task", json={"short_description": "Deploy WEB-7", "correlation_id": "WEB-7"}
    )
    assert task.status_code == 200
    created = task.json()["result"]
    assert created["change_request"] == {"display_value": change["number"]["value"], "value": change_id}
    assert created["state"] == {"display_value": "Open", "value": 1.0}
    task_id = created["sys_id"]["value"]
    listed = api.get(f"{API}/{change_id}/task").json()["result"]
    assert [t["correlation_id"]["value"] for t in listed] == ["WEB-7"]
    done = api.patch(f"{API}/{change_id}/task/{task_id}", json={"state": "3", "close_notes": "done"}).json()[
        "result"
    ]
    assert done["state"]["display_value"] == "Closed Complete" and done["active"]["value"] is False
    other = snow.state.change("CHG0030002")
    assert api.patch(f"{API}/{other['sys_id']}/task/{task_id}", json={"state": "2"}).status_code == 404
    assert api.delete(f"{API}/{change_id}/task/{task_id}").status_code == 200
    assert api.get(f"{API}/{change_id}/task").json()["result"] == []


def test_unknown_resources(api: httpx.Client) -> None:
    assert api.get(f"{API}/{'a' * 32}").status_code == 404
    seeded = api.get(API, params={"sysparm_limit": 1}).json()["result"][0]["sys_id"]["value"]
    nowhere = api.get(f"{API}/{seeded}/conflict/elsewhere")
    assert nowhere.status_code == 400 and nowhere.json()["status"] == "failure"
    assert api.get("/api/sn_chg_rest/v1/nothing").status_code == 400


def test_generic_create_takes_the_type_from_the_body(api: httpx.Client) -> None:
    created = api.post(API, json={"type": "emergency", "short_description": "Hotfix", "approval": "approved"})
    change = created.json()["result"]
    assert change["type"]["value"] == "emergency" and change["approval"]["value"] == "not requested"
    assert change["__meta"]["ignoredFields"] == ["approval"]

"""ServiceNow's own Python client (pysnc) against the simulator, over TLS with a throwaway CA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pysnc import ServiceNowClient
from pysnc.auth import ServiceNowPasswordGrantFlow

from bridgeline.sim import ServedApp
from bridgeline.sim.servicenow import ServiceNowSimulator

from .conftest import ADMIN, TLSFiles


@pytest.fixture(scope="module")
def https_sim(tls: TLSFiles) -> Iterator[tuple[ServiceNowSimulator, ServedApp]]:
    sim = ServiceNowSimulator(seed=7)
    with sim.serve(certfile=tls.cert, keyfile=tls.key) as server:
        yield sim, server
    sim.close()


@pytest.fixture(autouse=True)
def _trust_only_the_test_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    # pysnc passes verify=None per request, so requests lets these variables override verify=<ca>.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def client(https_sim: tuple[ServiceNowSimulator, ServedApp], tls: TLSFiles) -> Iterator[ServiceNowClient]:
    sim, server = https_sim
    sim.reset()
    assert server.url.startswith("https://")
    client = ServiceNowClient(server.url, ADMIN, verify=tls.ca)
    yield client
    client.session.close()


def test_query_pages_through_results_with_offset_and_limit(client: ServiceNowClient, https_sim) -> None:
    sim, _ = https_sim
    expected = sorted(r["number"] for r in sim.state.records("change_request", "active=true"))
    gr = client.GlideRecord("change_request", batch_size=2)
    gr.add_query("active", "true")
    gr.query()
    numbers = sorted(record.get_value("number") for record in gr)
    assert numbers == expected and len(numbers) > 2
    lists = [c for c in sim.state.calls if c["route"] == "/api/now/table/change_request"]
    assert len(lists) == (len(expected) + 1) // 2  # one call per page of two


def test_get_by_sys_id_and_by_field_returns_display_values(client: ServiceNowClient, https_sim) -> None:
    sim, _ = https_sim
    seeded = sim.state.change("CHG0030003")
    gr = client.GlideRecord("change_request")
    assert gr.get(seeded["sys_id"])
    assert gr.get_value("state") == "-4" and gr.get_display_value("state") == "Assess"
    assert gr.get_display_value("assignment_group") == "Network Operations"
    by_number = client.GlideRecord("change_request")
    assert by_number.get("number", "CHG0030003")
    assert by_number.get_value("sys_id") == seeded["sys_id"]


def test_insert_update_delete(client: ServiceNowClient, https_sim) -> None:
    sim, _ = https_sim
    gr = client.GlideRecord("change_request")
    gr.initialize()
    gr.short_description = "Release payments-api 2.4.0"
    gr.correlation_id = "jira:version:10042"
    gr.assignment_group = "Payments Platform"  # a display value the instance resolves
    sys_id = gr.insert()
    assert sys_id
    stored = sim.state.get("change_request", str(sys_id))
    assert stored["number"].startswith("CHG") and stored["state"] == "-5"
    group = sim.state.find("sys_user_group", name="Payments Platform")[0]
    assert stored["assignment_group"] == group["sys_id"]

    gr = client.GlideRecord("change_request")
    assert gr.get(str(sys_id))
    gr.short_description = "Release payments-api 2.4.1"
    gr.state = "-4"
    assert gr.update()
    updated = sim.state.get("change_request", str(sys_id))
    assert updated["short_description"] == "Release payments-api 2.4.1"
    assert updated["state"] == "-4" and updated["approval"] == "requested"
    assert updated["sys_mod_count"] == "1" and updated["sys_updated_by"] == "admin"
    assert [c["method"] for c in sim.state.calls if c["route"] == "/api/now/table/change_request/{sys_id}"][
        -1:
    ] == ["PATCH"]

    assert gr.delete()
    assert sim.state.get("change_request", str(sys_id)) is None


def test_priority_follows_impact_and_urgency_for_the_whole_matrix(client: ServiceNowClient) -> None:
    expected = {
        ("1", "1"): "1 - Critical",
        ("1", "2"): "2 - High",
        ("1", "3"): "3 - Moderate",
        ("2", "1"): "2 - High",
        ("2", "2"): "3 - Moderate",
        ("2", "3"): "4 - Low",
        ("3", "1"): "3 - Moderate",
        ("3", "2"): "4 - Low",
        ("3", "3"): "5 - Planning",
    }
    created = {}
    for impact, urgency in expected:
        gr = client.GlideRecord("change_request")
        gr.initialize()
        gr.short_description = f"Impact {impact} urgency {urgency}"
        gr.impact, gr.urgency = impact, urgency
        created[(impact, urgency)] = str(gr.insert())
    for pair, sys_id in created.items():
        gr = client.GlideRecord("change_request")
        assert gr.get(sys_id)
        assert gr.get_display_value("priority") == expected[pair], pair
    # an update of either one moves the priority with it
    gr = client.GlideRecord("change_request")
    assert gr.get(created[("3", "3")])
    gr.impact = "1"
    assert gr.update()
    again = client.GlideRecord("change_request")
    assert again.get(created[("3", "3")])
    assert again.get_display_value("priority") == "3 - Moderate"


def test_oauth_password_grant(https_sim, tls: TLSFiles) -> None:
    sim, server = https_sim
    flow = ServiceNowPasswordGrantFlow(
        "bridgeline.integration", "snow-pw-4Kd9Vq7z", "bridgeline-client", "bridgeline-secret"
    )
    client = ServiceNowClient(server.url, flow, verify=tls.ca)
    gr = client.GlideRecord("sys_user_group")
    gr.add_query("name", "CAB Approval")
    gr.query()
    assert [r.get_value("name") for r in gr] == ["CAB Approval"]
    assert sim.state.calls[-1]["user"] == "bridgeline.integration"
    client.session.close()

"""One Remedy simulator served on a loopback port per test module, reset to its seed before each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bridgeline.sim import FaultConfig, ServedApp, serve_in_thread
from bridgeline.sim.remedy import RemedySimulator

CHANGE_FORM = "CHG:Infrastructure Change"
LOGIN = {"username": "bridgeline", "password": "remedy-pw-2Tx5Jm8c"}  # the integration account


def new_change_values(**extra: Any) -> dict[str, Any]:
    """The values a release becomes on CHG:ChangeInterface_Create."""
    values: dict[str, Any] = {
        "z1D_Action": "CREATE",
        "Description": "Release 2.4.0 of Payments",
        "Detailed Description": "Jira release PAY 2.4.0 (10042)",
        "Status": "Draft",
        "Impact": "3-Moderate/Limited",
        "Urgency": "3-Medium",
        "Change Type": "Release",
        "Timing": "Normal",
        "Risk Level": "Risk Level 2",
        "Company": "Calbro Services",
        "Location Company": "Calbro Services",
        "First Name": "Bridgeline",
        "Last Name": "Integration",
        "Support Company": "Calbro Services",
        "Support Organization": "Release Management",
        "Support Group Name": "Release Coordinators",
        "Vendor Ticket Number": "jira:version:10042",
        "Scheduled Start Date": "2030-01-28T11:00:00.000+0000",
        "Scheduled End Date": "2030-01-28T13:00:00.000+0000",
    }
    values.update(extra)
    return values


@pytest.fixture(scope="module")
def served_sim() -> Iterator[tuple[RemedySimulator, ServedApp]]:
    sim = RemedySimulator(seed=42)
    with serve_in_thread(sim.app) as served:
        yield sim, served


@pytest.fixture
def sim(served_sim: tuple[RemedySimulator, ServedApp]) -> RemedySimulator:
    simulator = served_sim[0]
    simulator.reset()
    simulator.faults.update(FaultConfig().as_dict())
    simulator.clock.unfreeze()
    simulator.clock.set_offset(0)
    return simulator


@pytest.fixture
def url(served_sim: tuple[RemedySimulator, ServedApp]) -> str:
    return served_sim[1].url


@pytest.fixture(scope="module")
def _clients(served_sim: tuple[RemedySimulator, ServedApp]) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    url = served_sim[1].url
    with httpx.Client(base_url=url, timeout=10) as plain, httpx.Client(base_url=url, timeout=10) as logged_in:
        yield plain, logged_in


@pytest.fixture
def client(_clients: tuple[httpx.Client, httpx.Client]) -> httpx.Client:
    """A client without credentials."""
    return _clients[0]


@pytest.fixture
def login(client: httpx.Client, sim: RemedySimulator) -> Callable[[str, str], str]:
    def do(username: str = LOGIN["username"], password: str = LOGIN["password"]) -> str:
        response = client.post("/api/jwt/login", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response.text

    return do


@pytest.fixture
def api(_clients: tuple[httpx.Client, httpx.Client], login: Callable[[str, str], str]) -> httpx.Client:
    """A client logged in as the integration user ``bridgeline``."""
    http = _clients[1]
    http.headers["Authorization"] = f"AR-JWT {login('bridgeline', 'remedy-pw-2Tx5Jm8c')}"
    return http


@pytest.fixture
def create_change(api: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Create a change through the interface form; returns the created CHG:Infrastructure Change entry."""

    def create(**extra: Any) -> dict[str, Any]:
        response = api.post(
            "/api/arsys/v1/entry/CHG:ChangeInterface_Create",
            params={"fields": "values(Infrastructure Change Id,Change_Entry_ID)"},
            json={"values": new_change_values(**extra)},
        )
        assert response.status_code == 201, response.text
        request_id = response.json()["values"]["Change_Entry_ID"]
        found = api.get(f"/api/arsys/v1/entry/{CHANGE_FORM}/{request_id}")
        assert found.status_code == 200, found.text
        values: dict[str, Any] = found.json()["values"]
        return values

    return create


def ar_error(response: httpx.Response) -> dict[str, Any]:
    """The single message of a Remedy error array."""
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    message: dict[str, Any] = body[0]
    assert message["messageType"] == "ERROR"
    assert set(message) == {"messageType", "messageNumber", "messageText", "messageAppendedText"}
    return message


@pytest.fixture(name="ar_error")
def ar_error_fixture() -> Callable[[httpx.Response], dict[str, Any]]:
    return ar_error


@pytest.fixture(name="change_values")
def change_values_fixture() -> Callable[..., dict[str, Any]]:
    return new_change_values

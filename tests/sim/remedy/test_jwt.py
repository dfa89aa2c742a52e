"""AR-JWT: login hands out a raw token; it expires, can be logged out, and bad ones answer 401 / 623."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bridgeline.sim import serve_in_thread
from bridgeline.sim.remedy import RemedySimulator

from .conftest import LOGIN

CHANGES = "/api/arsys/v1/entry/CHG:Infrastructure Change"


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def test_login_answers_the_token_as_plain_text(client: httpx.Client, sim: RemedySimulator) -> None:
    response = client.post("/api/jwt/login", data={"username": "Demo", "password": "demo"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = claims(response.text)
    assert body["sub"] == "Demo"
    assert body["exp"] - body["iat"] == 3600
    assert body["nbf"] == body["iat"] - 120


@pytest.mark.parametrize(
    ("username", "password"), [("bridgeline", "wrong"), ("nobody", "remedy-pw-2Tx5Jm8c"), ("", "")]
)
def test_a_failed_login_is_401_with_error_623(
    client: httpx.Client,
    sim: RemedySimulator,
    ar_error: Callable[[httpx.Response], dict[str, Any]],
    username: str,
    password: str,
) -> None:
    response = client.post("/api/jwt/login", data={"username": username, "password": password})
    assert response.status_code == 401
    message = ar_error(response)
    assert (message["messageNumber"], message["messageText"]) == (623, "Authentication failed")
    assert message["messageAppendedText"] == username


@pytest.mark.parametrize("header", [None, "Bearer abc", "AR-JWT", "AR-JWT not-a-token"])
def test_calls_without_a_valid_token_are_401(
    client: httpx.Client,
    sim: RemedySimulator,
    ar_error: Callable[[httpx.Response], dict[str, Any]],
    header: str | None,
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.get(CHANGES, headers=headers)
    assert response.status_code == 401
    assert ar_error(response)["messageNumber"] == 623


def test_the_scheme_is_case_insensitive(client: httpx.Client, login: Callable[[str, str], str]) -> None:
    token = login("bridgeline", "remedy-pw-2Tx5Jm8c")
    assert client.get(CHANGES, headers={"Authorization": f"ar-jwt {token}"}).status_code == 200


def test_logout_is_204_and_the_token_stops_working(
    client: httpx.Client,
    login: Callable[[str, str], str],
    ar_error: Callable[[httpx.Response], dict[str, Any]],
) -> None:
    token = login("bridgeline", "remedy-pw-2Tx5Jm8c")
    headers = {"Authorization": f"AR-JWT {token}"}
    assert client.get(CHANGES, headers=headers).status_code == 200
    response = client.post("/api/jwt/logout", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    refused = client.get(CHANGES, headers=headers)
    assert refused.status_code == 401
    assert "logged-out" in ar_error(refused)["messageAppendedText"]


def test_a_token_expires_after_its_lifetime(
    client: httpx.Client,
    sim: RemedySimulator,
    login: Callable[[str, str], str],
    ar_error: Callable[[httpx.Response], dict[str, Any]],
) -> None:
    token = login("bridgeline", "remedy-pw-2Tx5Jm8c")
    headers = {"Authorization": f"AR-JWT {token}"}
    sim.clock.advance(3599)
    assert client.get(CHANGES, headers=headers).status_code == 200
    sim.clock.advance(1)
    expired = client.get(CHANGES, headers=headers)
    assert expired.status_code == 401
    assert ar_error(expired)["messageAppendedText"] == "token expired"
    assert client.get(
        CHANGES, headers={"Authorization": f"AR-JWT {login('bridgeline', 'remedy-pw-2Tx5Jm8c')}"}
    ).is_success


def test_token_lifetime_is_configurable() -> None:
    sim = RemedySimulator(token_lifetime=2)
    with serve_in_thread(sim.app) as served, httpx.Client(base_url=served.url) as http:
        token = http.post("/api/jwt/login", data=LOGIN).text
        assert claims(token)["exp"] - claims(token)["iat"] == 2
        sim.clock.advance(2)
        assert http.get(CHANGES, headers={"Authorization": f"AR-JWT {token}"}).status_code == 401

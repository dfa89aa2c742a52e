"""OAuth 2 at /oauth_token.do (grants, expiry, refresh), Basic auth, and rate limit rules."""

from __future__ import annotations

import time

import httpx

CLIENT = {"client_id": "bridgeline-client", "client_secret": "bridgeline-secret"}
CHANGES = "/api/now/table/change_request"


def _token(url: str, **form: str) -> httpx.Response:
    return httpx.post(f"{url}/oauth_token.do", data={**CLIENT, **form})


def test_password_grant_gives_a_bearer_token_for_every_api(url: str, admin_api: httpx.Client) -> None:
    response = _token(
        url, grant_type="password", username="bridgeline.integration", password="snow-pw-4Kd9Vq7z"
    )
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 1799 and token["refresh_token"]
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(f"{url}{CHANGES}?sysparm_limit=1", headers=bearer).status_code == 200
    assert httpx.get(f"{url}/api/sn_chg_rest/change?sysparm_limit=1", headers=bearer).status_code == 200
    calls = admin_api.get("/_sim/calls", params={"limit": 2}).json()["recent"]
    assert [c["user"] for c in calls] == ["bridgeline.integration", "bridgeline.integration"]


def test_token_requests_that_do_not_check_out(url: str) -> None:
    bad_secret = httpx.post(
        f"{url}/oauth_token.do",
        data={
            "grant_type": "password",
            "client_id": "bridgeline-client",
            "client_secret": "nope",
            "username": "admin",
            "password": "admin",
        },
    )
    bad_password = _token(url, grant_type="password", username="admin", password="nope")
    for response in (bad_secret, bad_password):
        assert response.status_code == 401
        assert response.json() == {"error_description": "access_denied", "error": "server_error"}
    assert _token(url, grant_type="authorization_code").status_code == 400
    assert _token(url, grant_type="refresh_token", refresh_token="made-up").status_code == 401


def test_client_credentials_grant_acts_as_the_integration_user(url: str, admin_api: httpx.Client) -> None:
    token = _token(url, grant_type="client_credentials").json()
    assert "refresh_token" not in token
    created = httpx.post(
        f"{url}{CHANGES}",
        json={"short_description": "via client credentials"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert created.json()["result"]["sys_created_by"] == "bridgeline.integration"


def test_tokens_expire_and_refresh_tokens_renew_them(url: str, admin_api: httpx.Client) -> None:
    admin_api.put("/_sim/settings", json={"token_lifetime": 60})
    token = _token(url, grant_type="password", username="admin", password="admin").json()
    assert token["expires_in"] == 60
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(f"{url}{CHANGES}?sysparm_limit=1", headers=bearer).status_code == 200
    admin_api.put("/_sim/clock", json={"advance_seconds": 61})
    expired = httpx.get(f"{url}{CHANGES}?sysparm_limit=1", headers=bearer)
    assert expired.status_code == 401 and expired.json()["error"]["message"] == "User Not Authenticated"
    renewed = _token(url, grant_type="refresh_token", refresh_token=token["refresh_token"]).json()
    assert renewed["access_token"] != token["access_token"]
    fresh = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert httpx.get(f"{url}{CHANGES}?sysparm_limit=1", headers=fresh).status_code == 200


def test_users_without_a_password_cannot_log_in(url: str) -> None:
    assert httpx.get(f"{url}{CHANGES}", auth=("marco.silva", "")).status_code == 401


def test_rate_limit_rule_answers_429_with_retry_after_and_rate_limit_headers(
    url: str, api: httpx.Client, admin_api: httpx.Client
) -> None:
    admin_api.put("/_sim/settings", json={"rate_limit": 3, "rate_limit_window": 3600})
    allowed = [api.get(CHANGES, params={"sysparm_limit": 1}) for _ in range(3)]
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert allowed[0].headers["X-RateLimit-Limit"] == "3" and allowed[0].headers["X-RateLimit-Rule"]
    denied = api.get(CHANGES, params={"sysparm_limit": 1})
    assert denied.status_code == 429
    assert denied.json()["error"]["message"] == "Rate limit exceeded"
    retry_after = int(denied.headers["Retry-After"])
    reset = int(denied.headers["X-RateLimit-Reset"])
    assert 1 <= retry_after <= 3600 and time.time() < reset <= time.time() + 3601
    assert api.post(CHANGES, json={"short_description": "x"}).status_code == 429  # writes count too
    # the rule counts per user, and the simulator's own endpoints are never limited
    assert admin_api.get(CHANGES, params={"sysparm_limit": 1}).status_code == 200
    assert api.get(f"{url}/_sim/calls").status_code == 200

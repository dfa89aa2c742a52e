"""Fault injection in Jira's error shape, and Jira's own rate limiting with its headers."""

from __future__ import annotations

import re

import httpx

from .conftest import ADMIN, Served


def test_injected_errors_use_jira_bodies_and_spare_the_admin_paths(cloud: Served, api: httpx.Client) -> None:
    admin = httpx.Client(base_url=cloud.url)
    assert admin.put("/_sim/faults", json={"error_rate": 1.0, "seed": 3}).status_code == 200
    failed = api.get("/rest/api/3/issue/PAY-1")
    assert failed.status_code in (500, 502, 503)
    assert failed.json() == {"errorMessages": ["simulated server error"], "errors": {}}
    assert admin.get("/_sim/faults").json()["counters"]["errors"] >= 1
    assert admin.get("/_sim/clock").status_code == 200
    admin.put("/_sim/faults", json={"error_rate": 0.0})
    assert api.get("/rest/api/3/issue/PAY-1").status_code == 200
    admin.put("/_sim/faults", json={"rate_limit_rate": 1.0, "retry_after_seconds": 7})
    limited = api.get("/rest/api/3/issue/PAY-1")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert admin.put("/_sim/faults", json={"no_such_knob": 1}).status_code == 400


def test_cloud_rate_limit_headers_and_refusal(cloud: Served) -> None:
    admin = httpx.Client(base_url=cloud.url)
    admin.put("/_sim/rate-limit", json={"limit": 5, "interval_seconds": 60})
    with cloud.client() as api, cloud.client(auth=ADMIN) as other:
        remaining = []
        for _ in range(5):
            ok = api.get("/rest/api/3/myself")
            assert ok.status_code == 200 and ok.headers["x-ratelimit-limit"] == "5"
            remaining.append(int(ok.headers["x-ratelimit-remaining"]))
            near = ok.headers.get("x-ratelimit-nearlimit")
            assert near == ("true" if remaining[-1] < 1 else None)
        assert remaining == [4, 3, 2, 1, 0]
        refused = api.get("/rest/api/3/myself")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z", refused.headers["x-ratelimit-reset"])
        assert refused.headers["ratelimit-reason"] == "jira-burst-based"
        assert refused.headers["x-ratelimit-nearlimit"] == "true"
        assert refused.json()["errorMessages"] == ["Rate limit exceeded."]
        assert other.get("/rest/api/3/myself").status_code == 200, "each credential has its own budget"
        assert admin.get("/_sim/rate-limit").json()["refused"] == 1


def test_data_center_token_bucket_headers(dc: Served) -> None:
    httpx.put(dc.url + "/_sim/rate-limit", json={"limit": 3, "fill_rate": 1, "interval_seconds": 30})
    with dc.client(auth=None, headers={"Authorization": "Bearer jira-pat-5Nw8Td3k"}) as api:
        first = api.get("/rest/api/2/myself")
        assert first.headers["x-ratelimit-interval-seconds"] == "30"
        assert first.headers["x-ratelimit-fillrate"] == "1"
        assert first.headers["retry-after"] == "0"
        api.get("/rest/api/2/myself")
        api.get("/rest/api/2/myself")
        refused = api.get("/rest/api/2/myself")
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 30

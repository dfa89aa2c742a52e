"""State files, the settable clock, reset and reseed, the admin views and the HTML pages."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bridgeline.sim import serve_in_thread
from bridgeline.sim.jira import JiraSimulator

from .conftest import BRIDGELINE, Served


def test_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "jira.json"
    sim = JiraSimulator(state_path=path)
    assert path.exists(), "a missing state file is seeded and written"
    with serve_in_thread(sim.app) as served, httpx.Client(base_url=served.url, auth=BRIDGELINE) as api:
        api.put("/rest/api/3/issue/PAY-4", json={"update": {"labels": [{"add": "persisted"}]}})
        api.post("/rest/api/2/issue/PAY-4/comment", json={"body": "kept"})
        api.post("/rest/webhooks/1.0/webhook", json={"name": "w", "url": "http://127.0.0.1:9/", "events": []})
        created = api.post(
            "/rest/api/3/issue",
            json={"fields": {"project": {"key": "PAY"}, "summary": "New", "issuetype": {"name": "Bug"}}},
        ).json()
        httpx.put(served.url + "/_sim/users/bridgeline", json={"timeZone": "Asia/Tokyo"})
    saved = json.loads(path.read_text())
    assert saved["format"] == "bridgeline-jira-sim/1"

    again = JiraSimulator.load(path)
    with serve_in_thread(again.app) as served, httpx.Client(base_url=served.url, auth=BRIDGELINE) as api:
        issue = api.get("/rest/api/2/issue/PAY-4", params={"fields": "labels,comment"}).json()["fields"]
        assert "persisted" in issue["labels"]
        assert issue["comment"]["comments"][-1]["body"] == "kept"
        assert api.get(f"/rest/api/3/issue/{created['key']}").status_code == 200
        assert len(api.get("/rest/webhooks/1.0/webhook").json()) == 1
        assert api.get("/rest/api/3/myself").json()["timeZone"] == "Asia/Tokyo"
        newer = api.post(
            "/rest/api/3/issue",
            json={"fields": {"project": {"key": "PAY"}, "summary": "Newer", "issuetype": {"name": "Bug"}}},
        ).json()
        assert int(newer["id"]) > int(created["id"]) and newer["key"] != created["key"]


def test_clock_controls_and_setting_updated(cloud: Served, api: httpx.Client) -> None:
    admin = httpx.Client(base_url=cloud.url)
    frozen = admin.put("/_sim/clock", json={"freeze": True, "at": "2031-01-15T09:30:00.000+0000"}).json()
    assert frozen["frozen"] is True and frozen["nowMillis"] == 1926235800000
    api.put("/rest/api/3/issue/OPS-1", json={"fields": {"summary": "At a known instant"}})
    assert api.get("/rest/api/3/issue/OPS-1", params={"fields": "updated"}).json()["fields"]["updated"] == (
        "2031-01-15T10:30:00.000+0100"
    )
    assert admin.put("/_sim/clock", json={"advanceMs": 61_000}).json()["nowMillis"] == 1926235861000
    moved = admin.put("/_sim/issues/OPS-1/updated", json={"updated": "2031-01-15T09:29:59.999Z"}).json()
    assert moved["updated"] == 1926235799999
    with cloud.sim.state.lock:
        assert cloud.sim.state.issue("OPS-1").updated == 1926235799999  # type: ignore[union-attr]
    running = admin.put("/_sim/clock", json={"freeze": False}).json()
    assert running["frozen"] is False and running["nowMillis"] >= 1926235861000
    assert admin.put("/_sim/clock", json={"reset": True}).json()["offsetMillis"] == 0
    assert admin.put("/_sim/issues/NOPE-1/updated", json={"updated": 0}).status_code == 404


def test_reset_reseeds_deterministically(cloud: Served) -> None:
    admin = httpx.Client(base_url=cloud.url)

    def fingerprint() -> list[tuple[str, str, str, tuple[str, ...]]]:
        with cloud.sim.state.lock:
            state = cloud.sim.state
            return sorted(
                (i.key, i.summary, i.status, tuple(state.versions[v].name for v in i.fix_versions))
                for i in state.issues.values()
            )

    original = fingerprint()
    assert admin.post("/_sim/reset", json={"seed": 7}).json()["issues"] == 300
    assert fingerprint() != original
    assert admin.post("/_sim/reset", json={"seed": 42}).status_code == 200
    assert fingerprint() == original
    bigger = admin.post("/_sim/reset", json={"scale": {"projects": 5, "versions": 20, "issues": 1000}}).json()
    assert (bigger["issues"], bigger["versions"]) == (1000, 20)
    assert {p.key for p in cloud.sim.state.projects.values()} == {"PAY", "WEB", "OPS", "IDN", "MOB"}


def test_admin_views_and_settings(cloud: Served) -> None:
    admin = httpx.Client(base_url=cloud.url)
    assert "/_sim/clock" in admin.get("/_sim/").json()["endpoints"]
    dump = admin.get("/_sim/state").json()
    assert len(dump["issues"]) == 300 and dump["mode"] == "cloud"
    assert admin.put("/_sim/settings", json={"server_time_zone": "Mars/Olympus"}).status_code == 400
    assert admin.put("/_sim/settings", json={"nope": 1}).status_code == 400
    assert admin.put("/_sim/settings", json={"search_lag_ms": 250}).json()["search_lag_ms"] == 250
    assert admin.put("/_sim/users/nobody", json={"timeZone": "UTC"}).status_code == 404
    assert admin.post("/_sim/save").status_code == 409, "no state file configured"


def test_html_pages(cloud: Served) -> None:
    index = httpx.get(cloud.url + "/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "PAY &middot; Payments" in index.text and "/browse/PAY-" in index.text
    page = httpx.get(cloud.url + "/browse/PAY-2")
    assert page.status_code == 200 and "PAY-2" in page.text
    assert httpx.get(cloud.url + "/browse/PAY-99999").status_code == 404


def test_a_state_file_with_the_former_secrets_signs_in_with_the_current_ones(tmp_path: Path) -> None:
    path = tmp_path / "jira.json"
    JiraSimulator(state_path=path)
    data = json.loads(path.read_text())
    [account] = [u for u in data["users"] if u["name"] == "bridgeline"]
    account.update(api_token="bridgeline-token", pat="bridgeline-pat", password="bridgeline")
    path.write_text(json.dumps(data))

    cloud = JiraSimulator(mode="cloud", state_path=path)
    with serve_in_thread(cloud.app) as served:
        me = served.url + "/rest/api/2/myself"
        assert httpx.get(me, auth=BRIDGELINE).status_code == 200
        assert httpx.get(me, auth=("bridgeline@example.com", "bridgeline-token")).status_code == 401
    datacenter = JiraSimulator(mode="datacenter", state_path=path)
    with serve_in_thread(datacenter.app) as served:
        me = served.url + "/rest/api/2/myself"
        assert httpx.get(me, headers={"Authorization": "Bearer jira-pat-5Nw8Td3k"}).status_code == 200
        assert httpx.get(me, auth=("bridgeline", "jira-pw-9Lc6Rt1m")).status_code == 200
        assert httpx.get(me, auth=("bridgeline", "bridgeline")).status_code == 401

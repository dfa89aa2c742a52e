"""Dead letters on the status page and the API: shown, replayed and dropped only with the admin token."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from .conftest import Daemon


def replays(metrics_text: str) -> float:
    found = re.search(r'bridgeline_dead_letter_actions_total\{action="replay"\} (\S+)', metrics_text)
    return float(found.group(1)) if found else 0.0


TOKEN = "status-admin-token-0f3c9a"
BROKEN = "jira:version:10004"


async def daemon_with_a_dead_letter(start_daemon: Any, sims: Any, **extra: Any) -> Daemon:
    sims.set_version_description("10004", "")  # the mapping requires a description
    daemon: Daemon = await start_daemon(**extra)
    await daemon.wait_for(lambda s: s["queue"]["dead"] == 1 and s["links_total"] == 1)
    return daemon


async def test_without_an_admin_token_the_page_and_the_api_are_closed(start_daemon: Any, sims: Any) -> None:
    sims.set_version_description("10004", "")
    daemon: Daemon = await start_daemon(server={"admin_token": None})
    await wait_dead(daemon, BROKEN)
    async with daemon.stranger() as http:
        page = await http.get("/status")
        api = await http.post(f"/api/dead-letters/{BROKEN}/replay", headers={"Authorization": "Bearer x"})
        form = await http.post("/status/dead-letters/replay", data={"entity": BROKEN})
        login = await http.post("/status/login", data={"admin_token": "anything"})
        listed = await http.get("/api/dead-letters")
    for refused in (page, api, form, login, listed):
        assert refused.status_code == 403
        assert BROKEN not in refused.text
    assert "This status page is closed" in page.text and "server.admin_token" in page.text
    assert "server.admin_token" in api.json()["detail"]
    assert (await daemon.service.store.inbox_row(BROKEN)).state == "dead"  # type: ignore[union-attr]


async def wait_dead(daemon: Daemon, entity: str, timeout: float = 15.0) -> None:
    """Until ``entity`` is a dead letter (read from the store: the page may be closed)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (row := await daemon.service.store.inbox_row(entity)) is None or row.state != "dead":
        assert asyncio.get_running_loop().time() < deadline, f"{entity} did not become a dead letter"
        await asyncio.sleep(0.05)


async def test_the_api_replays_with_the_token_and_the_fixed_release_syncs(
    start_daemon: Any, sims: Any
) -> None:
    daemon = await daemon_with_a_dead_letter(
        start_daemon, sims, server={"admin_token": TOKEN}, jira={"poll_interval": 3600}
    )  # one poll only: the fix below reaches bridgeline through the replay, not through a later poll
    async with daemon.client() as http:
        listed = (await http.get("/api/dead-letters")).json()["dead_letters"]
        assert [d["entity"] for d in listed] == [BROKEN]
        assert "description" in listed[0]["error"]
        before = (await http.get("/metrics")).text
        assert "bridgeline_dead_letters 1.0" in before
        assert re.search(r'bridgeline_events_processed_total\{[^}]*outcome="dead"[^}]*\} [1-9]', before)
        assert re.search(r'bridgeline_sync_failures_total\{[^}]*error="permanent"[^}]*\} [1-9]', before)
        async with daemon.stranger() as stranger:
            anonymous = await stranger.post(f"/api/dead-letters/{BROKEN}/replay")
            wrong = await stranger.post(
                f"/api/dead-letters/{BROKEN}/replay", headers={"Authorization": "Bearer nope"}
            )
        assert anonymous.status_code == wrong.status_code == 401
        sims.set_version_description("10004", "Card tokenisation")
        ok = await http.post(
            f"/api/dead-letters/{BROKEN}/replay", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert ok.status_code == 200 and ok.json()["done"] == [BROKEN]
        again = await http.post(
            f"/api/dead-letters/{BROKEN}/replay", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert again.status_code == 404  # not a dead letter any more
        after = (await http.get("/metrics")).text
        assert replays(after) == replays(before) + 1
    status = await daemon.wait_for(lambda s: s["links_total"] == 2 and s["queue"]["dead"] == 0)
    (replay,) = [a for a in status["audit"] if a["action"] == "replay" and a["entity"] == BROKEN]
    assert replay["detail"] == "replay asked by admin token from 127.0.0.1"
    assert len(sims.change_requests()) == 2


async def test_the_page_drops_after_sign_in_and_refuses_cross_site_posts(
    start_daemon: Any, sims: Any
) -> None:
    daemon = await daemon_with_a_dead_letter(start_daemon, sims, server={"admin_token": TOKEN})
    async with daemon.stranger() as http:
        bad = await http.post("/status/login", data={"admin_token": "guess"})
        assert bad.status_code == 401 and "that admin token is not right" in bad.text
        assert BROKEN not in bad.text
        unsigned = await http.post("/status/dead-letters/drop", data={"entity": BROKEN})
        assert unsigned.status_code == 401
        signed = await http.post("/status/login", data={"admin_token": TOKEN, "name": "Alex Mercer"})
        assert "signed in as Alex Mercer" in signed.text and "Replay all" in signed.text
        cookie = http.cookies.get("bridgeline_session")
        assert cookie and TOKEN not in cookie
        forged = await http.post(
            "/status/dead-letters/drop", data={"entity": BROKEN}, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 403
        dropped = await http.post(
            "/status/dead-letters/drop", data={"entity": BROKEN}, headers={"Origin": daemon.url}
        )
        assert dropped.status_code == 200 and f"{BROKEN} dropped" in dropped.text
    row = await daemon.service.store.inbox_row(BROKEN)
    assert row is not None and row.state == "done" and row.last_error  # dropped, its last error kept
    (drop,) = [a for a in await daemon.service.store.recent_audit(entity=BROKEN) if a.action == "drop"]
    assert drop.detail == "drop asked by session:Alex Mercer from 127.0.0.1"


async def test_the_preview_renders_pasted_jira_json(start_daemon: Any, sims: Any) -> None:
    daemon: Daemon = await start_daemon()
    with sims.jira_api() as api:
        version = api.get("/version/10003").json()
        project = api.get("/project/PAY").json()
        issues = api.get("/search/jql", params={"jql": "fixVersion = 10003", "fields": "summary"}).json()[
            "issues"
        ]
    async with daemon.client() as http:
        body = {"mapping": "ops-release", "input": {"version": version, "project": project, "issues": issues}}
        rendered = (await http.post("/api/preview", json=body)).json()
        bare = (await http.post("/api/preview", json={"mapping": "ops-release", "input": version})).json()
        missing = await http.post("/api/preview", json={"mapping": "nope", "input": {}})
        form = await http.post("/status/preview", data={"mapping": "ops-release", "payload": "{not json"})
    fields = {f["name"]: f for f in rendered["fields"]}
    assert fields["short_description"]["value"] == f"Release PAY {version['name']}"
    assert fields["short_description"]["provenance"]
    assert rendered["identity"] == "jira:PAY:version:10003"
    assert len(rendered["children"]) == len(issues) > 0
    # a bare version names no project key, so the mapping's `projects: [PAY]` filter skips it
    assert bare["error"] is None
    assert bare["skipped"].startswith("source.projects is [PAY] and the input names no project: add")
    assert missing.status_code == 422 and "no mapping named 'nope'" in missing.json()["error"]
    assert "not valid JSON" in form.text

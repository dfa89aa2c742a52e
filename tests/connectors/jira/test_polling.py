"""Polling Jira: versions by snapshot hash, issues by an epoch-ms cursor with ``(id, updated)`` marks,
through the real poller and store, against Cloud (``/search/jql``, tokens) and Data Center
(``/search``, offsets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridgeline.connectors.jira import JiraClient
from bridgeline.connectors.jira.changes import issue_mark, issues_cursor_name, jira_time_ms
from bridgeline.sim import serve_in_thread
from bridgeline.store import Store

from .conftest import FAST, PROJECTS, Jira, make_poller, settle, write_mappings


def project_issues(jira: Jira) -> dict[str, dict[str, Any]]:
    """Every issue of the configured projects, by id, as an administrator sees it now."""
    with jira.admin() as api:
        jql = "project in (PAY, WEB, OPS) ORDER BY key"
        params: dict[str, Any] = {"jql": jql, "fields": "updated,fixVersions", "maxResults": 100}
        found: dict[str, dict[str, Any]] = {}
        if jira.mode == "cloud":
            while True:
                body = api.get("/search/jql", params=params).json()
                found.update({i["id"]: i for i in body["issues"]})
                if body.get("isLast", True):
                    return found
                params["nextPageToken"] = body["nextPageToken"]
        start = 0
        while True:
            body = api.get("/search", params={**params, "startAt": start}).json()
            found.update({i["id"]: i for i in body["issues"]})
            start += len(body["issues"])
            if start >= body["total"]:
                return found


async def assert_every_issue_marked(store: Store, jira: Jira, project: str = "") -> None:
    """None missed: the poller's mark of every issue is the issue's current (updated, releases)."""
    issues = {k: v for k, v in project_issues(jira).items() if v["key"].startswith(project)}
    marks = await store.get_marks_for([f"jira:issue:{i}" for i in issues])
    for issue_id, issue in issues.items():
        fields = issue["fields"]
        expected = issue_mark(jira_time_ms(fields["updated"]), [v["id"] for v in fields["fixVersions"]])
        mark = marks.get(f"jira:issue:{issue_id}") or ""
        assert mark.removesuffix("|i") == expected, issue["key"]  # (|i: an issue mapping wanted it)


async def test_versions_created_changed_released_archived_and_deleted(
    jira: Jira, client: JiraClient, store: Store, tmp_path: Path
) -> None:
    poller = make_poller(client, store, write_mappings(tmp_path, issues=False))
    await poller.poll()
    await settle(store)
    versions = await client.project_versions("WEB")
    changed, released = [v for v in versions if not v["released"] and not v["archived"]][:2]
    archived = next(v for v in versions if v["released"] and not v["archived"])
    deleted = next(v for v in versions if v["archived"])
    with jira.admin() as api:
        project_id = api.get("/project/WEB").json()["id"]
        created = api.post("/version", json={"name": "web-next", "projectId": int(project_id)}).json()
        api.put(f"/version/{changed['id']}", json={"description": "Scope frozen"}).raise_for_status()
        api.put(f"/version/{released['id']}", json={"released": True}).raise_for_status()
        api.put(f"/version/{archived['id']}", json={"archived": True}).raise_for_status()
        api.delete(f"/version/{deleted['id']}").raise_for_status()
    await poller.poll()
    expected = {created["id"], changed["id"], released["id"], archived["id"], deleted["id"]}
    assert {e.split(":")[2] for e in await settle(store, "version")} == expected
    await poller.poll()
    assert await settle(store) == set(), "nothing changed since: nothing enqueued"


async def test_the_first_poll_reads_every_issue_across_pages(
    jira: Jira, client: JiraClient, store: Store, tmp_path: Path
) -> None:
    poller = make_poller(client, store, write_mappings(tmp_path, issues=True), page_size=17)
    await poller.poll()
    issues = project_issues(jira)
    assert len(issues) > 17 * 3, "several pages"
    taken = await settle(store)
    assert {e for e in taken if e.startswith("jira:issue:")} == {f"jira:issue:{i}" for i in issues}
    releases = {v["id"] for i in issues.values() for v in i["fields"]["fixVersions"]}
    assert releases <= {e.split(":")[2] for e in taken if e.startswith("jira:version:")}
    await assert_every_issue_marked(store, jira)
    cursor = await store.get_cursor(issues_cursor_name(PROJECTS))
    newest = max(jira_time_ms(i["fields"]["updated"]) for i in issues.values())
    assert cursor == str(newest)


async def test_an_issue_moving_between_releases_resyncs_both(
    jira: Jira, client: JiraClient, store: Store, tmp_path: Path
) -> None:
    poller = make_poller(client, store, write_mappings(tmp_path, issues=False))
    await poller.poll()
    await settle(store)
    issue = next(i for i in project_issues(jira).values() if len(i["fields"]["fixVersions"]) == 1)
    old = issue["fields"]["fixVersions"][0]["id"]
    project = next(p for p in PROJECTS if issue["key"].startswith(p + "-"))
    new = next(v["id"] for v in await client.project_versions(project) if v["id"] != old)
    await client.edit_issue(issue["key"], fields={"fixVersions": [{"id": new}]})
    await poller.poll()
    assert await settle(store) == {f"jira:version:{old}", f"jira:version:{new}"}, (
        "no issue mapping: only the releases, both of them"
    )


async def test_an_issue_edited_while_the_poll_pages_is_not_missed(
    jira: Jira, store: Store, tmp_path: Path
) -> None:
    """Editing the first issue of the result between two page reads shifts every issue behind it one
    place forward: the first issue of the next page slips onto the page already read."""
    ordered = sorted(
        project_issues(jira).values(), key=lambda i: (jira_time_ms(i["fields"]["updated"]), i["id"])
    )
    mover = jira.sim.state.issue(ordered[0]["key"])
    assert mover is not None
    searches = 0

    async def edit_between_pages(scope: Any, receive: Any, send: Any) -> None:
        nonlocal searches
        if scope["type"] == "http" and scope["path"].endswith(("/search", "/search/jql")):
            searches += 1
            if searches == 2:  # someone edits the issue while bridgeline reads page 2
                with jira.sim.state.lock:
                    jira.sim.state.set_updated(mover, jira.sim.state.clock.now_ms())
        await jira.sim.app(scope, receive, send)

    with serve_in_thread(edit_between_pages) as served:
        settings = jira.settings().model_copy(update={"url": served.url})
        client = JiraClient.from_settings(settings, retry=FAST)
        poller = make_poller(client, store, write_mappings(tmp_path, issues=True), page_size=10)
        await poller.poll()
        first = {e for e in await settle(store, "issue")}
        slipped = f"jira:issue:{ordered[10]['id']}"
        assert slipped not in first, "the simulator pages by offset, as Jira does: the issue slipped"
        await poller.poll()
        second = await settle(store, "issue")
        await client.aclose()
    assert slipped in second
    assert first & second == set(), "each change enqueued once"
    await assert_every_issue_marked(store, jira)


async def test_the_overlap_catches_changes_the_search_index_showed_late(
    jira: Jira, client: JiraClient, store: Store, tmp_path: Path
) -> None:
    poller = make_poller(client, store, write_mappings(tmp_path, issues=True), overlap=5)
    jira.control("clock", {"freeze": True})
    await poller.poll()
    await settle(store)
    late, prompt = list(project_issues(jira).values())[:2]
    jira.control("settings", {"search_lag_ms": 2000})
    await client.edit_issue(late["key"], fields={"summary": "Indexed late"})
    jira.control("settings", {"search_lag_ms": 0})
    jira.control("clock", {"advanceMs": 1000})
    await client.edit_issue(prompt["key"], fields={"summary": "Indexed at once"})
    await poller.poll()
    assert await settle(store, "issue") == {f"jira:issue:{prompt['id']}"}, (
        "the search still shows the old one"
    )
    jira.control("clock", {"advanceMs": 2500})  # the index catches up
    await poller.poll()
    assert await settle(store, "issue") == {f"jira:issue:{late['id']}"}
    await assert_every_issue_marked(store, jira)


async def test_a_project_bridgeline_cannot_see_is_skipped_not_fatal(
    jira: Jira, client: JiraClient, store: Store, tmp_path: Path
) -> None:
    poller = make_poller(client, store, write_mappings(tmp_path, issues=False), projects=["PAY", "GONE"])
    stored = await poller.poll()
    assert stored > 0
    assert poller.changes.unavailable == {"GONE"}
    taken = await settle(store, "version")
    pay = {f"jira:version:{v['id']}" for v in await client.project_versions("PAY")}
    assert pay <= taken


@pytest.mark.parametrize("page_size", [1, 1000])
async def test_page_size_does_not_change_what_is_found(
    cloud: Jira, store: Store, tmp_path: Path, page_size: int
) -> None:
    client = JiraClient.from_settings(cloud.settings(projects=["OPS"]), retry=FAST)
    poller = make_poller(
        client, store, write_mappings(tmp_path, issues=True), projects=["OPS"], page_size=page_size
    )
    await poller.poll()
    ops = {i for i, v in project_issues(cloud).items() if v["key"].startswith("OPS-")}
    assert {e.split(":")[2] for e in await settle(store, "issue")} == ops
    await client.aclose()


LABELLED_ISSUE_MAPPING = """\
apiVersion: bridgeline/v1
kind: Mapping
metadata:
  name: hotfix
source:
  system: jira
  entity: issue
  labels: [hotfix]
target:
  system: servicenow
  record: change_request
  type: emergency
identity: "jira:{{ project.key }}:issue:{{ issue.id }}:hotfix"
fields:
  short_description: "{{ issue.key }}"
"""


async def test_issue_mappings_filters_decide_which_issues_are_read_and_a_leaver_is_sent_once(
    jira: Jira, client: JiraClient, store: Store, tmp_path: Path
) -> None:
    root = write_mappings(tmp_path / "m", issues=False)
    (root / "hotfix.yaml").write_text(LABELLED_ISSUE_MAPPING)
    poller = make_poller(client, store, root)
    await poller.poll()
    issues = await settle(store, "issue")
    hotfixes = {i.id for i in jira.sim.state.issues.values() if "hotfix" in i.labels}
    assert hotfixes and issues == {f"jira:issue:{i}" for i in hotfixes}  # only what the filter wants
    plain = next(i for i in jira.sim.state.issues.values() if "hotfix" not in i.labels)
    fixed = next(i for i in jira.sim.state.issues.values() if "hotfix" in i.labels)
    with jira.admin() as api:
        for key, op in ((plain.key, "add"), (fixed.key, "remove")):
            r = api.put(f"/issue/{key}", json={"update": {"labels": [{op: "hotfix"}]}})
            assert r.status_code == 204, r.text
    await poller.poll()
    # the new hotfix is read; the former one is read once more, so its mapping can tell it left
    assert await settle(store, "issue") == {f"jira:issue:{plain.id}", f"jira:issue:{fixed.id}"}
    with jira.admin() as api:
        assert (
            api.put(f"/issue/{fixed.key}", json={"fields": {"summary": "Still not a hotfix"}}).status_code
            == 204
        )
    await poller.poll()
    assert await settle(store, "issue") == set()

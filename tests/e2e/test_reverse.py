"""The CAB's answer comes back to Jira: transitions, comments, labels, links, a released version."""

from __future__ import annotations

from typing import Any

from bridgeline.model import EntityRef, Event
from bridgeline.sync.service import Service

from .conftest import Sims
from .test_release_to_change import issues_of, open_versions, snow_records


def _issue(sims: Sims, key: str) -> dict[str, Any]:
    with sims.jira_api() as api:
        return api.get(f"/issue/{key}", params={"fields": "status,labels,comment"}).json()


def _remote_links(sims: Sims, key: str) -> list[dict[str, Any]]:
    with sims.jira_api() as api:
        return api.get(f"/issue/{key}/remotelink").json()


def _comments(sims: Sims, key: str) -> list[str]:
    with sims.jira_api() as api:
        body = api.get(f"/issue/{key}/comment").json()
    texts = []
    for c in body["comments"]:
        doc = c["body"]
        texts.append(
            " ".join(n.get("text", "") for p in doc.get("content", []) for n in p.get("content", []))
        )
    return texts


async def _ask_cab(service: Service, sims: Sims, version: dict[str, Any]) -> dict[str, Any]:
    key = version["projectId"]
    [change] = snow_records(sims, "change_request", f"correlation_idENDSWITH:version:{version['id']}")
    with sims.snow_api() as api:
        r = api.patch(f"/change_request/{change['sys_id']}", json={"state": "-4"})
        assert r.status_code == 200, r.text
    assert key
    return change


async def _changed(service: Service, change: dict[str, Any]) -> None:
    # what the ServiceNow poller or webhook does: note that the change request changed
    await service.store.enqueue([Event(EntityRef("servicenow", "change_request", change["sys_id"]))])


async def test_approval_transitions_comments_and_links_issues_once(service: Service, sims: Sims) -> None:
    await service.converge()
    _pkey, version = open_versions(sims)[0]
    issues = issues_of(sims, version["id"])
    keys = [i["key"] for i in issues]
    in_review = [k for k in keys if _issue(sims, k)["fields"]["status"]["name"] == "In Review"]
    change = await _ask_cab(service, sims, version)
    sims.snow.approve(change["number"])
    await _changed(service, change)
    report = await service.converge()
    assert report.dead == 0
    for key in keys:
        status = _issue(sims, key)["fields"]["status"]["name"]
        comments = _comments(sims, key)
        if key in in_review:
            assert status == "Ready for Release"
            assert comments.count(f"CAB approved {change['number']}.") == 1
        else:
            assert not any("CAB approved" in c for c in comments)
        # one link per change request (an issue in two releases links to both)
        links = [k for k in _remote_links(sims, key) if k["globalId"].endswith(change["number"])]
        assert len(links) == 1 and links[0]["object"]["title"].startswith(change["number"])
    # the same news again (a duplicate webhook, a replay): nothing more is written to Jira
    sims.jira_calls.clear()
    await _changed(service, change)
    await service.converge()
    assert [c for c in sims.jira_calls.writes("/rest/") if c["method"] != "GET"] == []


async def test_rejection_comments_and_labels_without_transitions(service: Service, sims: Sims) -> None:
    await service.converge()
    _pkey, version = open_versions(sims)[1]
    keys = [i["key"] for i in issues_of(sims, version["id"])]
    before = {k: _issue(sims, k)["fields"]["status"]["name"] for k in keys}
    change = await _ask_cab(service, sims, version)
    sims.snow.reject(change["number"], reason="No rollback plan for the schema migration")
    await _changed(service, change)
    await service.converge()
    for key in keys:
        issue = _issue(sims, key)
        assert issue["fields"]["status"]["name"] == before[key]
        assert "cab-rejected" in issue["fields"]["labels"]
        assert any(c.startswith(f"CAB rejected {change['number']}") for c in _comments(sims, key))


async def test_the_way_back_of_a_new_change_uses_the_release_its_creation_read(
    service: Service, sims: Sims
) -> None:
    """A change request just created is evaluated by its own queued event, under that event's claim,
    but with the release the forward pass read moments before: Jira is not read twice for it."""
    report = await service.sync_once()
    assert report.dead == 0 and report.pending == 0
    created = [
        m.outcome
        for r in report.reports
        for m in r.results
        if m.outcome is not None and m.outcome.action == "create" and m.outcome.link.parent_id is None
    ]
    assert created and service.engine.handoff.used == len(created)
    for outcome in created:
        row = await service.store.inbox_row(f"servicenow:change_request:{outcome.link.target.id}")
        assert row is not None and row.state == "done"  # processed as an event of its own
    for _pkey, version in open_versions(sims):
        [change] = snow_records(sims, "change_request", f"correlation_idENDSWITH:version:{version['id']}")
        for issue in issues_of(sims, version["id"]):
            links = [k for k in _remote_links(sims, issue["key"]) if k["globalId"].endswith(change["number"])]
            assert len(links) == 1
    # a later answer of the CAB is judged against Jira read fresh: nothing is left to take
    assert service.engine.handoff.take("servicenow", created[0].link.target.id) is None

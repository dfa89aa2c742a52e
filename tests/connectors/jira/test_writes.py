"""The writes the CAB's decisions turn into, against the Cloud and the Data Center simulator alike."""

from __future__ import annotations

from typing import Any

import pytest

from bridgeline.connectors.jira import METADATA_PROPERTY, JiraClient, adf_to_text
from bridgeline.errors import PermanentError, TransitionRefused

from .conftest import Jira


def first_issue(jira: Jira, jql: str) -> dict[str, Any]:
    with jira.admin() as api:
        if jira.mode == "cloud":
            body = api.get(
                "/search/jql", params={"jql": jql, "fields": "status,labels", "maxResults": 1}
            ).json()
        else:
            body = api.get("/search", params={"jql": jql, "fields": "status,labels", "maxResults": 1}).json()
    assert body["issues"], f"the seed has an issue for {jql!r}"
    result: dict[str, Any] = body["issues"][0]
    return result


def read_issue(jira: Jira, key: str, fields: str) -> dict[str, Any]:
    with jira.admin() as api:
        result: dict[str, Any] = api.get(f"/issue/{key}", params={"fields": fields}).json()["fields"]
        return result


async def test_transition_by_status_name_and_again_is_a_no_op(jira: Jira, client: JiraClient) -> None:
    key = first_issue(jira, 'project = PAY AND status = "In Review"')["key"]
    assert await client.transition(key, "Ready for Release") is True
    assert read_issue(jira, key, "status")["status"]["name"] == "Ready for Release"
    assert await client.transition(key, "ready for release") is False, "already there: nothing to do"


async def test_a_refused_transition_names_the_current_status_and_the_ways_out(
    jira: Jira, client: JiraClient
) -> None:
    key = first_issue(jira, 'project = PAY AND status = "In Review"')["key"]
    with pytest.raises(TransitionRefused) as info:
        await client.transition(key, "Done")
    message = str(info.value)
    assert key in message and "'In Review'" in message
    assert "'Ready for Release' (to 'Ready for Release')" in message and "'In Progress'" in message
    assert read_issue(jira, key, "status")["status"]["name"] == "In Review"


async def test_a_transition_can_carry_a_comment(jira: Jira, client: JiraClient) -> None:
    key = first_issue(jira, 'project = WEB AND status = "To Do"')["key"]
    assert await client.transition(key, "In Progress", comment="CAB approved CHG0030001")
    texts = [adf_to_text(c["body"]) for c in await client.comments(key)]
    assert "CAB approved CHG0030001" in texts


async def test_comments_are_adf_on_cloud_and_wiki_text_on_data_center(jira: Jira, client: JiraClient) -> None:
    key = first_issue(jira, "project = OPS")["key"]
    created = await client.add_comment(key, "CAB approved.\n\nWindow: Saturday 02:00-04:00")
    with jira.admin() as api:
        stored = api.get(f"/issue/{key}/comment/{created['id']}").json()["body"]
    if jira.mode == "cloud":
        assert stored["type"] == "doc" and len(stored["content"]) == 2
    else:
        assert isinstance(stored, str)
    assert adf_to_text(stored) == "CAB approved.\n\nWindow: Saturday 02:00-04:00"


async def test_remote_links_are_keyed_by_global_id(jira: Jira, client: JiraClient) -> None:
    key = first_issue(jira, "project = PAY")["key"]
    gid = "bridgeline:servicenow:change_request:9d3f0c"
    first = await client.remote_link(
        key,
        global_id=gid,
        url="https://acme.service-now.com/change_request.do?sys_id=9d3f0c",
        title="CHG0030001",
        summary="Release PAY 3.4.0",
        resolved=False,
        relationship="change request",
        application="ServiceNow",
    )
    again = await client.remote_link(
        key,
        global_id=gid,
        url="https://acme.service-now.com/change_request.do?sys_id=9d3f0c",
        title="CHG0030001",
        summary="Release PAY 3.4.0 (closed)",
        resolved=True,
    )
    assert first["id"] == again["id"]
    links = [link for link in await client.remote_links(key) if link.get("globalId") == gid]
    assert len(links) == 1
    assert links[0]["object"]["status"]["resolved"] is True
    assert links[0]["object"]["summary"] == "Release PAY 3.4.0 (closed)"
    found = await client.remote_link_by_global_id(key, gid)
    assert found is not None and found["id"] == first["id"]
    assert await client.remote_link_by_global_id(key, "bridgeline:nothing") is None


async def test_labels_and_fields(jira: Jira, client: JiraClient) -> None:
    key = first_issue(jira, "project = WEB")["key"]
    await client.update_labels(key, add=("cab-approved", "chg0030001"))
    await client.remove_label(key, "chg0030001")
    await client.edit_issue(
        key, fields={"summary": "Ship it", "description": await client.rich_text("Approved by the CAB")}
    )
    fields = read_issue(jira, key, "labels,summary,description")
    assert "cab-approved" in fields["labels"] and "chg0030001" not in fields["labels"]
    assert fields["summary"] == "Ship it"
    assert adf_to_text(fields["description"]) == "Approved by the CAB"
    with pytest.raises(PermanentError, match="spaces"):
        await client.add_label(key, "cab approved")


async def test_bridgelines_metadata_lives_in_an_issue_property(jira: Jira, client: JiraClient) -> None:
    key = first_issue(jira, "project = OPS")["key"]
    assert await client.metadata(key) is None
    record = {"changes": [{"system": "servicenow", "number": "CHG0030001"}], "synced": "2024-05-01T10:00:00Z"}
    await client.set_metadata(key, record)
    assert await client.metadata(key) == record
    with jira.admin() as api:
        assert api.get(f"/issue/{key}/properties/{METADATA_PROPERTY}").json()["value"] == record
    with pytest.raises(PermanentError, match="32768"):
        await client.set_property(key, "huge", {"x": "y" * 40_000})


async def test_releasing_a_version_once(jira: Jira, client: JiraClient) -> None:
    versions = [v for v in await client.project_versions("PAY") if not v["released"] and not v["archived"]]
    version = versions[0]
    assert await client.release_version(version["id"], "2024-05-04") is True
    after = await client.version(version["id"])
    assert after["released"] is True and after["releaseDate"] == "2024-05-04"
    assert await client.release_version(version["id"]) is False

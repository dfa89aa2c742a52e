"""The pycontribs ``jira`` client, which nobody here wrote, works against both deployments."""

from __future__ import annotations

import pytest
from jira import JIRA, JIRAError

from .conftest import BRIDGELINE, Served


def cloud_client(cloud: Served) -> JIRA:
    return JIRA(cloud.url, basic_auth=BRIDGELINE, max_retries=0)


def dc_client(dc: Served) -> JIRA:
    return JIRA(dc.url, token_auth="jira-pat-5Nw8Td3k", max_retries=0)


def test_constructor_reads_server_info_and_tells_cloud_from_data_center(cloud: Served, dc: Served) -> None:
    assert cloud_client(cloud).deploymentType == "Cloud"
    on_prem = dc_client(dc)
    assert on_prem.deploymentType == "Server"
    assert on_prem._version >= (8, 4, 0)


def test_cloud_search_follows_next_page_tokens_to_the_end(cloud: Served) -> None:
    jira = cloud_client(cloud)
    with cloud.sim.state.lock:
        expected = {i.key for i in cloud.sim.state.issues.values() if i.key.startswith("PAY-")}
    first_page = jira.search_issues("project = PAY ORDER BY key ASC", maxResults=10, fields="summary,status")
    assert len(first_page) == 10
    assert first_page.nextPageToken
    everything = jira.search_issues("project = PAY ORDER BY key ASC", maxResults=False, fields="summary")
    assert {i.key for i in everything} == expected
    assert [i.key for i in everything][:3] == ["PAY-1", "PAY-2", "PAY-3"]


def test_data_center_search_pages_with_start_at_and_reports_a_total(dc: Served) -> None:
    jira = dc_client(dc)
    page = jira.search_issues("project = WEB ORDER BY key ASC", startAt=5, maxResults=7)
    with dc.sim.state.lock:
        total = sum(1 for i in dc.sim.state.issues.values() if i.key.startswith("WEB-"))
    assert page.total == total
    assert [i.key for i in page] == [f"WEB-{n}" for n in range(6, 13)]
    everything = jira.search_issues("project = WEB", maxResults=False)
    assert len(everything) == total


@pytest.mark.parametrize("deployment", ["cloud", "dc"])
def test_project_versions(deployment: str, cloud: Served, dc: Served) -> None:
    jira = cloud_client(cloud) if deployment == "cloud" else dc_client(dc)
    versions = jira.project_versions("PAY")
    assert [v.name for v in versions] == ["3.1.0", "3.2.0", "3.3.0", "3.4.0"]
    assert [v.released for v in versions] == [True, True, False, False]
    assert versions[0].archived is True


@pytest.mark.parametrize("deployment", ["cloud", "dc"])
def test_transition_by_name_moves_the_issue_and_records_the_actor(
    deployment: str, cloud: Served, dc: Served
) -> None:
    served = cloud if deployment == "cloud" else dc
    jira = cloud_client(served) if deployment == "cloud" else dc_client(served)
    key = _issue_in_status(served, "In Review")
    jira.transition_issue(key, "Ready for Release")
    issue = jira.issue(key, expand="changelog")
    assert issue.fields.status.name == "Ready for Release"
    latest = issue.changelog.histories[0]
    assert latest.items[0].toString == "Ready for Release"
    author = latest.author.accountId if deployment == "cloud" else latest.author.name
    assert author == (
        served.sim.state.user("bridgeline").account_id if deployment == "cloud" else "bridgeline"
    )


def test_a_transition_not_available_from_the_current_status_is_refused(cloud: Served) -> None:
    jira = cloud_client(cloud)
    key = _issue_in_status(cloud, "To Do")
    with pytest.raises(JIRAError) as refused:
        jira.transition_issue(key, "51")
    assert refused.value.status_code == 400
    assert "Transition id '51' is not valid for this issue." in refused.value.text


@pytest.mark.parametrize("deployment", ["cloud", "dc"])
def test_add_comment_takes_wiki_markup_on_v2(deployment: str, cloud: Served, dc: Served) -> None:
    served = cloud if deployment == "cloud" else dc
    jira = cloud_client(served) if deployment == "cloud" else dc_client(served)
    comment = jira.add_comment(
        "PAY-3", "CAB approved for *Saturday* [change|https://itsm.example.com/CHG0030001]"
    )
    assert comment.body == "CAB approved for *Saturday* [change|https://itsm.example.com/CHG0030001]"
    again = jira.comments("PAY-3")[-1]
    assert again.id == comment.id
    assert again.body == comment.body


@pytest.mark.parametrize("deployment", ["cloud", "dc"])
def test_issue_update_puts_to_its_self_url(deployment: str, cloud: Served, dc: Served) -> None:
    jira = cloud_client(cloud) if deployment == "cloud" else dc_client(dc)
    issue = jira.issue("WEB-4")
    assert issue.self.endswith(f"/rest/api/2/issue/{issue.id}")
    issue.update(fields={"labels": ["cab-approved", "release-train"]}, notify=False)
    assert sorted(jira.issue("WEB-4").fields.labels) == ["cab-approved", "release-train"]
    issue.update(summary="Search suggestions ignore diacritics (again)")
    assert jira.issue("WEB-4").fields.summary == "Search suggestions ignore diacritics (again)"


@pytest.mark.parametrize("deployment", ["cloud", "dc"])
def test_remote_links_with_the_same_global_id_update_in_place(
    deployment: str, cloud: Served, dc: Served
) -> None:
    jira = cloud_client(cloud) if deployment == "cloud" else dc_client(dc)
    change = {"url": "https://itsm.example.com/change_request/CHG0030001", "title": "CHG0030001"}
    first = jira.add_remote_link("OPS-2", change, globalId="bridgeline:servicenow:CHG0030001")
    second = jira.add_remote_link(
        "OPS-2", {**change, "title": "CHG0030001 (Scheduled)"}, globalId="bridgeline:servicenow:CHG0030001"
    )
    assert first.id == second.id
    links = jira.remote_links("OPS-2")
    assert len(links) == 1
    assert links[0].object.title == "CHG0030001 (Scheduled)"
    jira.add_simple_link("OPS-2", {"url": "https://wiki.example.com/runbook", "title": "Runbook"})
    assert len(jira.remote_links("OPS-2")) == 2


def test_create_and_delete_an_issue(dc: Served) -> None:
    jira = dc_client(dc)
    created = jira.create_issue(
        project="OPS", summary="Rotate the TLS certificates", issuetype={"name": "Task"}, labels=["hotfix"]
    )
    assert created.key.startswith("OPS-")
    assert created.fields.status.name == "To Do"
    assert jira.search_issues(f"key = {created.key}")[0].fields.labels == ["hotfix"]
    created.delete()
    with pytest.raises(JIRAError) as gone:
        jira.issue(created.key)
    assert gone.value.status_code == 404


def _issue_in_status(served: Served, status: str) -> str:
    with served.sim.state.lock:
        found = sorted(
            (i for i in served.sim.state.issues.values() if i.status == status and i.issuetype != "Sub-task"),
            key=lambda i: i.id,
        )
    return found[0].key

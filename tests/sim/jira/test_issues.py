"""Issues: edits with fields and update operations, changelog with the actor, rich text in both API
versions, comments, remote links, properties, creation and Jira's errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ADMIN, VIEWER, Served

ADF_BODY = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "CAB decision"}]},
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "Approved", "marks": [{"type": "strong"}]},
                {"type": "text", "text": " for the window, see "},
                {
                    "type": "text",
                    "text": "CHG0030001",
                    "marks": [{"type": "link", "attrs": {"href": "https://itsm.example.com/CHG0030001"}}],
                },
                {"type": "text", "text": "."},
            ],
        },
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}],
                },
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "two"}]},
                        {
                            "type": "orderedList",
                            "content": [
                                {
                                    "type": "listItem",
                                    "content": [
                                        {"type": "paragraph", "content": [{"type": "text", "text": "2a"}]}
                                    ],
                                }
                            ],
                        },
                    ],
                },
            ],
        },
        {
            "type": "codeBlock",
            "attrs": {"language": "sql"},
            "content": [{"type": "text", "text": "select 1;"}],
        },
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "run "},
                {"type": "text", "text": "make", "marks": [{"type": "code"}]},
            ],
        },
    ],
}
WIKI_BODY = (
    "h3. CAB decision\n\n*Approved* for the window, see [CHG0030001|https://itsm.example.com/CHG0030001].\n\n"
    "* one\n* two\n*# 2a\n\n{code:sql}\nselect 1;\n{code}\n\nrun {{make}}"
)


def issue(api: httpx.Client, key: str, version: int = 3, **params: Any) -> Any:
    response = api.get(f"/rest/api/{version}/issue/{key}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_edit_fields_and_update_operations_record_one_history_and_bump_updated(
    cloud: Served, api: httpx.Client
) -> None:
    clock = cloud.sim.state.clock
    clock.freeze()
    before = issue(api, "PAY-2", fields="updated,labels")
    clock.advance(90_000)
    release = api.get("/rest/api/3/project/PAY/versions").json()[2]
    edited = api.put(
        "/rest/api/3/issue/PAY-2",
        params={"notifyUsers": "false"},
        json={
            "fields": {"summary": "Idempotency keys for refunds", "priority": {"name": "High"}},
            "update": {
                "labels": [{"add": "cab-approved"}, {"remove": "no-such-label"}],
                "fixVersions": [{"set": [{"id": release["id"]}]}],
            },
        },
    )
    assert edited.status_code == 204 and edited.content == b""
    after = issue(api, "PAY-2", fields="summary,priority,labels,fixVersions,updated", expand="changelog")
    assert after["fields"]["summary"] == "Idempotency keys for refunds"
    assert after["fields"]["priority"]["name"] == "High"
    assert "cab-approved" in after["fields"]["labels"]
    assert [v["name"] for v in after["fields"]["fixVersions"]] == [release["name"]]
    assert after["fields"]["updated"] != before["fields"]["updated"]
    latest = after["changelog"]["histories"][0]
    assert latest["author"]["displayName"] == "bridgeline"
    changed = {item["field"] for item in latest["items"]}
    assert {"summary", "priority", "labels", "Fix Version"} <= changed


def test_an_edit_that_changes_nothing_leaves_updated_alone(cloud: Served, api: httpx.Client) -> None:
    cloud.sim.state.clock.freeze()
    current = issue(api, "WEB-3", fields="summary,updated", expand="changelog")
    cloud.sim.state.clock.advance(60_000)
    api.put("/rest/api/3/issue/WEB-3", json={"fields": {"summary": current["fields"]["summary"]}})
    again = issue(api, "WEB-3", fields="summary,updated", expand="changelog")
    assert again["fields"]["updated"] == current["fields"]["updated"]
    assert again["changelog"]["total"] == current["changelog"]["total"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"fields": {"status": {"name": "Done"}}}, "status", "Field 'status' cannot be set."),
        (
            {"fields": {"summary": "two\nlines"}},
            "summary",
            "The summary is invalid because it contains newline",
        ),
        ({"fields": {"priority": {"name": "Urgent"}}}, "priority", "The priority selected is invalid."),
        ({"update": {"labels": [{"add": "has space"}]}}, "labels", "The label 'has space' contains spaces"),
        ({"update": {"fixVersions": [{"add": {"id": "1"}}]}}, "fixVersions", "Version id '1' is not valid"),
        (
            {"fields": {"description": "plain text on v3"}},
            "description",
            "Operation value must be an Atlassian Document",
        ),
        ({"fields": {"assignee": {"name": "admin"}}}, "assignee", "Specify a valid value for assignee"),
    ],
)
def test_invalid_edits_answer_400_with_field_errors_and_change_nothing(
    api: httpx.Client, body: dict[str, Any], field: str, message: str
) -> None:
    before = issue(api, "OPS-5", fields="*all")
    request = {"fields": dict(body.get("fields", {})), "update": dict(body.get("update", {}))}
    if field != "summary":
        request["fields"]["summary"] = "a valid change that must not be applied either"
    refused = api.put("/rest/api/3/issue/OPS-5", json=request)
    assert refused.status_code == 400
    payload = refused.json()
    assert payload["errorMessages"] == []
    assert payload["errors"][field].startswith(message)
    assert issue(api, "OPS-5", fields="*all") == before


def test_rich_text_is_adf_on_v3_and_wiki_on_v2(api: httpx.Client) -> None:
    added = api.post("/rest/api/3/issue/WEB-6/comment", json={"body": ADF_BODY})
    assert added.status_code == 201
    comment_id = added.json()["id"]
    as_wiki = api.get(f"/rest/api/2/issue/WEB-6/comment/{comment_id}").json()["body"]
    assert as_wiki == WIKI_BODY
    posted = api.post("/rest/api/2/issue/WEB-6/comment", json={"body": WIKI_BODY}).json()
    assert api.get(f"/rest/api/3/issue/WEB-6/comment/{posted['id']}").json()["body"] == ADF_BODY
    api.put("/rest/api/2/issue/WEB-6", json={"fields": {"description": "h2. Plan\n\n* migrate\n* verify"}})
    description = issue(api, "WEB-6", fields="description")["fields"]["description"]
    assert [block["type"] for block in description["content"]] == ["heading", "bulletList"]
    assert (
        issue(api, "WEB-6", version=2, fields="description")["fields"]["description"]
        == "h2. Plan\n\n* migrate\n* verify"
    )


def test_comments_edit_delete_and_update_operation(cloud: Served, api: httpx.Client) -> None:
    cloud.sim.state.clock.freeze()
    first = api.post("/rest/api/2/issue/PAY-8/comment", json={"body": "first"}).json()
    cloud.sim.state.clock.advance(1000)
    api.put("/rest/api/2/issue/PAY-8", json={"update": {"comment": [{"add": {"body": "second"}}]}})
    bodies = [c["body"] for c in api.get("/rest/api/2/issue/PAY-8/comment").json()["comments"]]
    assert bodies[-2:] == ["first", "second"]
    edited = api.put(f"/rest/api/2/issue/PAY-8/comment/{first['id']}", json={"body": "first, edited"}).json()
    assert edited["body"] == "first, edited" and edited["updated"] != edited["created"]
    assert api.delete(f"/rest/api/2/issue/PAY-8/comment/{first['id']}").status_code == 204
    assert api.get(f"/rest/api/2/issue/PAY-8/comment/{first['id']}").status_code == 404
    assert api.post("/rest/api/2/issue/PAY-8/comment", json={"body": ""}).status_code == 400


def test_transition_by_id_as_int_or_name_with_resolution(cloud: Served, api: httpx.Client) -> None:
    with cloud.sim.state.lock:
        key = next(
            i.key
            for i in sorted(cloud.sim.state.issues.values(), key=lambda i: i.id)
            if i.status == "Ready for Release"
        )
    available = api.get(f"/rest/api/3/issue/{key}/transitions").json()["transitions"]
    assert {t["name"] for t in available} == {"Done", "In Progress"}
    done = api.post(
        f"/rest/api/3/issue/{key}/transitions",
        json={"transition": {"id": 51}, "fields": {"resolution": {"name": "Won't Do"}}},
    )
    assert done.status_code == 204
    fields = issue(api, key, fields="status,resolution,resolutiondate")["fields"]
    assert fields["status"]["statusCategory"]["key"] == "done"
    assert fields["resolution"]["name"] == "Won't Do" and fields["resolutiondate"]
    reopened = api.post(f"/rest/api/3/issue/{key}/transitions", json={"transition": {"name": "to do"}})
    assert reopened.status_code == 204
    fields = issue(api, key, fields="status,resolution")["fields"]
    assert fields["status"]["name"] == "To Do" and fields["resolution"] is None
    wrong = api.post(f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": "41"}})
    assert wrong.status_code == 400
    assert wrong.json() == {
        "errorMessages": ["Transition id '41' is not valid for this issue."],
        "errors": {},
    }


def test_remote_links_delete_by_global_id_and_changelog(api: httpx.Client) -> None:
    body = {
        "globalId": "bridgeline:remedy:CRQ000000000123",
        "object": {"url": "https://remedy.example.com/CRQ123", "title": "CRQ000000000123"},
    }
    created = api.post("/rest/api/3/issue/OPS-3/remotelink", json=body)
    repeated = api.post("/rest/api/3/issue/OPS-3/remotelink", json=body)
    assert (created.status_code, repeated.status_code) == (201, 200)
    assert created.json()["id"] == repeated.json()["id"]
    one = api.get("/rest/api/3/issue/OPS-3/remotelink", params={"globalId": body["globalId"]}).json()
    assert one["object"]["title"] == "CRQ000000000123"
    history = issue(api, "OPS-3", fields="summary", expand="changelog")["changelog"]["histories"][0]
    assert history["items"][0]["field"] == "RemoteIssueLink"
    assert history["items"][0]["toString"] == 'This issue links to "CRQ000000000123"'
    assert (
        api.delete("/rest/api/3/issue/OPS-3/remotelink", params={"globalId": body["globalId"]}).status_code
        == 204
    )
    assert api.get("/rest/api/3/issue/OPS-3/remotelink").json() == []
    missing = api.post("/rest/api/3/issue/OPS-3/remotelink", json={"object": {"url": "https://x"}})
    assert missing.status_code == 400 and "title" in missing.json()["errors"]


def test_issue_properties_do_not_touch_updated(cloud: Served, api: httpx.Client) -> None:
    cloud.sim.state.clock.freeze()
    before = issue(api, "PAY-9", fields="updated")["fields"]["updated"]
    cloud.sim.state.clock.advance(60_000)
    assert (
        api.put("/rest/api/3/issue/PAY-9/properties/bridgeline.sync", json={"hash": "abc"}).status_code == 201
    )
    assert (
        api.put("/rest/api/3/issue/PAY-9/properties/bridgeline.sync", json={"hash": "def"}).status_code == 200
    )
    assert api.get("/rest/api/3/issue/PAY-9/properties/bridgeline.sync").json() == {
        "key": "bridgeline.sync",
        "value": {"hash": "def"},
    }
    assert issue(api, "PAY-9", fields="updated", properties="bridgeline.sync")["properties"] == {
        "bridgeline.sync": {"hash": "def"}
    }
    assert issue(api, "PAY-9", fields="updated")["fields"]["updated"] == before
    too_big = api.put("/rest/api/3/issue/PAY-9/properties/big", content=b'"' + b"x" * 33_000 + b'"')
    assert too_big.status_code == 400
    assert api.delete("/rest/api/3/issue/PAY-9/properties/bridgeline.sync").status_code == 204
    assert api.get("/rest/api/3/issue/PAY-9/properties/bridgeline.sync").status_code == 404


def test_create_validation_and_sub_tasks(api: httpx.Client) -> None:
    refused = api.post(
        "/rest/api/3/issue", json={"fields": {"project": {"key": "NOPE"}, "issuetype": {"name": "Sub-task"}}}
    )
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"project", "summary", "parent"}
    sub = api.post(
        "/rest/api/3/issue",
        json={
            "fields": {
                "project": {"key": "PAY"},
                "summary": "Write the runbook",
                "issuetype": {"name": "Sub-task"},
                "parent": {"key": "PAY-2"},
            }
        },
    )
    assert sub.status_code == 201
    parent = issue(api, "PAY-2", fields="subtasks")
    assert sub.json()["key"] in [s["key"] for s in parent["fields"]["subtasks"]]
    assert api.delete("/rest/api/3/issue/PAY-2").status_code == 400
    assert api.delete("/rest/api/3/issue/PAY-2", params={"deleteSubtasks": "true"}).status_code == 204
    assert api.get(f"/rest/api/3/issue/{sub.json()['key']}").status_code == 404


def test_credentials_and_permissions(cloud: Served) -> None:
    with cloud.client(auth=None) as anonymous:
        assert anonymous.get("/rest/api/3/serverInfo").status_code == 200
        denied = anonymous.get("/rest/api/3/issue/PAY-1")
        assert denied.status_code == 401
        assert denied.json()["errorMessages"] == [
            "You are not authenticated. Authentication required to perform this operation."
        ]
    with cloud.client(auth=("bridgeline@example.com", "wrong")) as wrong:
        assert wrong.get("/rest/api/3/serverInfo").status_code == 401
    with cloud.client(auth=("admin", "admin")) as server_style:
        assert server_style.get("/rest/api/3/myself").status_code == 401, (
            "Cloud takes email and API token only"
        )
    with cloud.client(auth=VIEWER) as viewer:
        assert viewer.get("/rest/api/3/issue/PAY-1").status_code == 200
        assert viewer.put("/rest/api/3/issue/PAY-1", json={"fields": {"summary": "x"}}).status_code == 403
        assert viewer.post("/rest/api/3/issue/PAY-1/comment", json={"body": ADF_BODY}).status_code == 403
    with cloud.client(auth=ADMIN) as admin:
        me = admin.get("/rest/api/3/myself").json()
        assert (me["emailAddress"], me["timeZone"]) == ("admin@example.com", "Australia/Sydney")
    with cloud.client(headers={"Authorization": "Bearer jira-pat-5Nw8Td3k"}, auth=None) as bearer:
        assert bearer.get("/rest/api/3/myself").status_code == 401, (
            "personal access tokens are Data Center only"
        )


def test_data_center_users_and_credentials(dc: Served) -> None:
    with dc.client(auth=None, headers={"Authorization": "Bearer jira-pat-5Nw8Td3k"}) as api:
        me = api.get("/rest/api/2/myself").json()
        assert (me["name"], me["key"], me["displayName"]) == ("bridgeline", "JIRAUSER10100", "bridgeline")
        assert "accountId" not in me
        reporter = api.get("/rest/api/2/issue/PAY-1", params={"fields": "reporter"}).json()["fields"][
            "reporter"
        ]
        assert set(reporter) >= {"name", "key", "displayName"} and "accountId" not in reporter
        assert (
            api.put(
                "/rest/api/2/issue/PAY-1", json={"fields": {"assignee": {"name": "mei.tanaka"}}}
            ).status_code
            == 204
        )
    with dc.client(auth=("admin", "admin")) as basic:
        assert basic.get("/rest/api/2/myself").json()["name"] == "admin"
    with dc.client(auth=("admin", "nope")) as wrong:
        assert wrong.get("/rest/api/2/myself").status_code == 401


def test_hotfix_issues_carry_a_justification_that_can_be_edited(cloud: Served) -> None:
    hotfixes = [i for i in cloud.sim.state.issues.values() if "hotfix" in i.labels]
    assert hotfixes and all(i.custom.get("customfield_10050") for i in hotfixes)
    key = hotfixes[0].key
    with cloud.client(ADMIN, "/rest/api/3") as api:
        assert (
            api.put(f"/issue/{key}", json={"fields": {"customfield_10050": "Checkout is down"}}).status_code
            == 204
        )
        body = api.get(f"/issue/{key}", params={"fields": "customfield_10050"}).json()
        assert body["fields"]["customfield_10050"] == "Checkout is down"
        refused = api.put(f"/issue/{key}", json={"fields": {"customfield_10050": 7}})
        assert refused.status_code == 400 and "customfield_10050" in refused.json()["errors"]


def test_projects_carry_entity_properties_like_issues(cloud: Served) -> None:
    with cloud.client(ADMIN, "/rest/api/3") as api:
        assert api.put("/project/PAY/properties/team.meta", json={"on_call": "ops"}).status_code == 201
        assert api.put("/project/PAY/properties/team.meta", json={"on_call": "dev"}).status_code == 200
        assert api.get("/project/PAY/properties/team.meta").json() == {
            "key": "team.meta",
            "value": {"on_call": "dev"},
        }
        assert [k["key"] for k in api.get("/project/PAY/properties").json()["keys"]] == ["team.meta"]
        assert api.delete("/project/PAY/properties/team.meta").status_code == 204
        assert api.get("/project/PAY/properties/team.meta").status_code == 404
        assert api.get("/project/NOPE/properties").status_code == 404

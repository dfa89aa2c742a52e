"""Searching: Cloud's /search/jql (ids by default, field selection, token paging) and the endpoints
each deployment does not have."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import Served


def search(api: httpx.Client, **params: Any) -> Any:
    response = api.get("/rest/api/3/search/jql", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_default_fields_are_the_id_alone(api: httpx.Client) -> None:
    page = search(api, jql="project = PAY")
    assert page["issues"] and all(set(i) == {"id"} for i in page["issues"])
    assert len(page["issues"]) == 50
    assert "total" not in page


def test_field_selection_comma_list_repeated_all_navigable_and_minus(api: httpx.Client) -> None:
    def fields_of(**params: object) -> set[str]:
        issue = search(api, jql="key = PAY-5", **params)["issues"][0]
        return set(issue["fields"])

    assert fields_of(fields="summary,status") == {"summary", "status"}
    assert fields_of(fields=["summary", "fixVersions"]) == {"summary", "fixVersions"}
    navigable = fields_of(fields="*navigable")
    assert "comment" not in navigable and {"summary", "updated", "fixVersions"} <= navigable
    assert "comment" in fields_of(fields="*all")
    assert fields_of(fields="*all,-comment,-description") == fields_of(fields="*all") - {
        "comment",
        "description",
    }
    assert fields_of(fields="-description") == navigable - {"description"}
    assert fields_of(fields="fixVersion") == {"fixVersions"}, "JQL names are accepted for field ids"


def test_token_paging_visits_every_issue_once_without_total(api: httpx.Client, cloud: Served) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, object] = {"jql": "project in (PAY, WEB) ORDER BY created ASC", "maxResults": 37}
        if token:
            params["nextPageToken"] = token
        page = search(api, **params)
        pages += 1
        seen.extend(i["id"] for i in page["issues"])
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        assert len(page["issues"]) == 37
        token = page["nextPageToken"]
    with cloud.sim.state.lock:
        expected = {
            str(i.id) for i in cloud.sim.state.issues.values() if i.key.split("-")[0] in ("PAY", "WEB")
        }
    assert len(seen) == len(set(seen)) == len(expected) and set(seen) == expected
    assert pages == -(-len(expected) // 37)


def test_page_sizes_are_capped(api: httpx.Client) -> None:
    ids_only = search(api, jql="project in (PAY, WEB, OPS)", maxResults=6000)
    assert len(ids_only["issues"]) == 300
    heavy = search(api, jql="project in (PAY, WEB, OPS)", maxResults=1000, fields="*all")
    assert len(heavy["issues"]) == 100 and heavy["isLast"] is False
    refused = api.get("/rest/api/3/search/jql", params={"jql": "project = PAY", "maxResults": 0})
    assert refused.status_code == 400


def test_post_search_and_page_tokens_bound_to_their_query(api: httpx.Client) -> None:
    first = api.post(
        "/rest/api/2/search/jql",
        json={"jql": "project = OPS", "maxResults": 5, "fields": ["summary"], "expand": None},
    ).json()
    assert len(first["issues"]) == 5 and isinstance(first["issues"][0]["fields"]["summary"], str)
    second = api.post(
        "/rest/api/2/search/jql",
        json={"jql": "project = OPS", "maxResults": 5, "nextPageToken": first["nextPageToken"]},
    ).json()
    assert not {i["id"] for i in first["issues"]} & {i["id"] for i in second["issues"]}
    misused = api.get(
        "/rest/api/3/search/jql", params={"jql": "project = PAY", "nextPageToken": first["nextPageToken"]}
    )
    assert misused.status_code == 400


def test_expand_changelog_names_and_rendered_fields(api: httpx.Client) -> None:
    page = search(
        api, jql="key = PAY-2", fields="summary,description", expand="changelog,names,renderedFields"
    )
    issue = page["issues"][0]
    assert page["names"] == {"summary": "Summary", "description": "Description"}
    assert "changelog" in issue and issue["renderedFields"]["description"].startswith("<p>")
    assert issue["fields"]["description"]["type"] == "doc"
    v2 = api.get("/rest/api/2/search/jql", params={"jql": "key = PAY-2", "fields": "description"}).json()
    assert v2["issues"][0]["fields"]["description"].startswith("Context: *")


def test_cloud_answers_410_on_the_removed_search(api: httpx.Client) -> None:
    for version in (2, 3):
        gone = api.get(f"/rest/api/{version}/search", params={"jql": "project = PAY"})
        assert gone.status_code == 410
        assert gone.json()["errorMessages"] == [
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
            "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
        ]


def test_data_center_has_only_v2_and_the_old_search(dc: Served) -> None:
    with dc.client(auth=("admin", "admin")) as api:
        assert api.get("/rest/api/2/search/jql", params={"jql": "project = PAY"}).status_code == 404
        assert api.get("/rest/api/3/issue/PAY-1").status_code == 404
        assert api.get("/rest/api/latest/issue/PAY-1").status_code == 200
        page = api.post(
            "/rest/api/2/search",
            json={"jql": "project = PAY", "startAt": 10, "maxResults": 5, "fields": ["summary"]},
        ).json()
        assert (page["startAt"], page["maxResults"], len(page["issues"])) == (10, 5, 5)
        assert set(page["issues"][0]["fields"]) == {"summary"}
        default = api.get("/rest/api/2/search", params={"jql": "key = PAY-1"}).json()["issues"][0]
        assert "comment" not in default["fields"] and "summary" in default["fields"]


def test_search_lag_shows_the_previous_state_for_a_while(cloud: Served, api: httpx.Client) -> None:
    clock = cloud.sim.state.clock
    clock.freeze()
    cloud.sim.state.settings.search_lag_ms = 5_000
    api.put("/rest/api/3/issue/PAY-4", json={"update": {"labels": [{"add": "lagging"}]}})
    created = api.post(
        "/rest/api/3/issue",
        json={"fields": {"project": {"key": "PAY"}, "summary": "Fresh", "issuetype": {"id": "10002"}}},
    ).json()
    assert search(api, jql="project = PAY AND labels = lagging")["issues"] == []
    assert created["id"] not in {i["id"] for i in search(api, jql="project = PAY", maxResults=500)["issues"]}
    assert (
        api.get("/rest/api/3/issue/PAY-4", params={"fields": "labels"}).json()["fields"]["labels"][-1]
        == "lagging"
    )
    clock.advance(5_001)
    assert [i["id"] for i in search(api, jql="project = PAY AND labels = lagging")["issues"]] != []
    assert created["id"] in {i["id"] for i in search(api, jql="project = PAY", maxResults=500)["issues"]}


def test_exclusions_alone_apply_to_each_endpoints_default(api: httpx.Client) -> None:
    fields = api.get("/rest/api/3/issue/PAY-5", params={"fields": "-description"}).json()["fields"]
    assert "comment" in fields and "description" not in fields, "GET issue defaults to *all"

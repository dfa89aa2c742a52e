"""JQL: the subset bridgeline uses, Jira's error wording, and the date-literal time-zone quirk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from bridgeline.sim.jira._model import Issue

from .conftest import Served


def keys(api: httpx.Client, jql: str, **params: object) -> list[str]:
    """Every key the Cloud search returns for ``jql``, following page tokens."""
    found: list[str] = []
    token = None
    while True:
        query: dict[str, object] = {"jql": jql, "fields": "key", "maxResults": 100, **params}
        if token:
            query["nextPageToken"] = token
        response = api.get("/rest/api/3/search/jql", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(issue["key"] for issue in page["issues"])
        if page["isLast"]:
            assert "nextPageToken" not in page
            return found
        token = page["nextPageToken"]


def expected(cloud: Served, predicate: Callable[[Issue], bool]) -> set[str]:
    with cloud.sim.state.lock:
        return {i.key for i in cloud.sim.state.issues.values() if predicate(i)}


def error(api: httpx.Client, jql: str) -> str:
    response = api.get("/rest/api/3/search/jql", params={"jql": jql})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errors"] == {}
    return str(body["errorMessages"][0])


def project_id(cloud: Served, key: str) -> int:
    project = cloud.sim.state.project(key)
    assert project is not None
    return project.id


def version_id(cloud: Served, name: str) -> int:
    with cloud.sim.state.lock:
        return next(v.id for v in cloud.sim.state.versions.values() if v.name == name)


def test_project_and_fix_version_clauses(cloud: Served, api: httpx.Client) -> None:
    pay, web = project_id(cloud, "PAY"), project_id(cloud, "WEB")
    assert set(keys(api, "project = PAY")) == expected(cloud, lambda i: i.project_id == pay)
    assert set(keys(api, "project in (PAY, web)")) == expected(cloud, lambda i: i.project_id in (pay, web))
    release = version_id(cloud, "3.3.0")
    by_id = set(keys(api, f"fixVersion = {release}"))
    assert by_id == expected(cloud, lambda i: release in i.fix_versions)
    assert by_id and set(keys(api, 'project = PAY AND fixVersion = "3.3.0"')) == by_id
    other = version_id(cloud, "3.4.0")
    assert set(keys(api, f'fixVersion in ({release}, "3.4.0")')) == expected(
        cloud, lambda i: release in i.fix_versions or other in i.fix_versions
    )


def test_key_type_status_labels_priority_and_boolean_logic(cloud: Served, api: httpx.Client) -> None:
    assert keys(api, "key = PAY-3") == ["PAY-3"]
    assert sorted(keys(api, "issue in (PAY-3, WEB-1)")) == ["PAY-3", "WEB-1"]
    assert set(keys(api, 'project = OPS AND status = "Ready for Release"')) == expected(
        cloud, lambda i: i.key.startswith("OPS-") and i.status == "Ready for Release"
    )
    hotfixes = set(keys(api, "project in (PAY, WEB, OPS) AND labels = hotfix AND priority = Highest"))
    assert hotfixes and hotfixes == expected(
        cloud, lambda i: "hotfix" in i.labels and i.priority == "Highest"
    )
    combined = set(
        keys(
            api, "project = PAY AND (issuetype = Bug OR issuetype = Story) AND NOT status in (Done, 'To Do')"
        )
    )
    assert combined == expected(
        cloud,
        lambda i: (
            i.key.startswith("PAY-") and i.issuetype in ("Bug", "Story") and i.status not in ("Done", "To Do")
        ),
    )
    assert set(keys(api, "project = WEB AND labels != hotfix")) == expected(
        cloud, lambda i: i.key.startswith("WEB-") and bool(i.labels) and "hotfix" not in i.labels
    )
    assert set(keys(api, "project = WEB AND labels is EMPTY")) == expected(
        cloud, lambda i: i.key.startswith("WEB-") and not i.labels
    )


def test_order_by_several_fields(cloud: Served, api: httpx.Client) -> None:
    ordered = keys(api, "project = OPS ORDER BY priority DESC, key ASC")
    rank = {"Highest": 5, "High": 4, "Medium": 3, "Low": 2, "Lowest": 1}
    with cloud.sim.state.lock:
        issues = {i.key: i for i in cloud.sim.state.issues.values()}
    assert ordered == sorted(ordered, key=lambda k: (-rank[issues[k].priority], int(k.split("-")[1])))
    newest_first = keys(api, "project = OPS ORDER BY updated DESC")
    stamps = [issues[k].updated for k in newest_first]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        (
            "order by key desc",
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ),
        ("projekt = PAY", "Field 'projekt' does not exist or you do not have permission to view it."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("project > PAY", "The operator '>' is not supported by the 'project' field."),
        (
            'project = "PAY',
            "Error in the JQL Query: The quoted string 'PAY' has not been completed. (line 1, character 11)",
        ),
        ("project in (PAY, WEB", "Error in the JQL Query: Expecting ')' before the end of the query."),
        (
            "project = PAY status = Done",
            "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 15)",
        ),
        ("project PAY", "Error in the JQL Query: Expecting operator but got 'PAY'."),
        ("project = PAY AND updated > 'yesterday'", "Date value 'yesterday' for field 'updated' is invalid."),
        ("project = PAY ORDER BY labels", "Not able to sort using field 'labels'."),
    ],
)
def test_errors_use_jira_wording(api: httpx.Client, jql: str, message: str) -> None:
    assert error(api, jql).startswith(message)


def test_date_literals_are_read_in_the_searching_users_time_zone_at_minute_precision(
    cloud: Served, api: httpx.Client
) -> None:
    sim = cloud.sim
    # 10:00:30.500 in Tokyo is 01:00:30.500 UTC
    moment = int(datetime(2030, 5, 1, 1, 0, 30, 500000, tzinfo=UTC).timestamp() * 1000)
    sim.state.clock.freeze(moment + 3_600_000)
    admin = httpx.Client(base_url=cloud.url)
    assert admin.put("/_sim/users/bridgeline", json={"timeZone": "Asia/Tokyo"}).status_code == 200
    assert admin.put("/_sim/issues/PAY-3/updated", json={"updated": moment}).json()["updated"] == moment

    def hit(condition: str) -> bool:
        return keys(api, f"key = PAY-3 AND {condition}") == ["PAY-3"]

    assert hit('updated >= "2030-05-01 10:00"')
    assert hit('updated = "2030/05/01 10:00"')
    assert not hit('updated > "2030-05-01 10:00"'), "the literal has minute precision"
    assert hit('updated < "2030-05-01 10:01"')
    assert not hit('updated <= "2030-05-01 01:00"'), "read in Tokyo time, 01:00 is nine hours earlier"
    assert hit('updated >= "2030-05-01"') and not hit('updated >= "2030-05-02"')
    assert hit(f"updated >= {moment}") and hit(f"updated <= {moment}")
    assert not hit(f"updated > {moment}"), "an unquoted number is epoch milliseconds, compared exactly"
    assert not hit(f"updated >= {moment + 1}")
    assert hit("updated >= -61m") and not hit("updated >= -59m")
    issue = api.get("/rest/api/3/issue/PAY-3", params={"fields": "updated"}).json()
    assert issue["fields"]["updated"] == "2030-05-01T10:00:30.500+0900"

    admin.put("/_sim/users/bridgeline", json={"timeZone": "UTC"})
    assert hit('updated <= "2030-05-01 01:00"'), "the same literal, read in UTC"
    assert api.get("/rest/api/3/issue/PAY-3", params={"fields": "updated"}).json()["fields"]["updated"] == (
        "2030-05-01T01:00:30.500+0000"
    )


def test_data_center_validate_query_modes(dc: Served) -> None:
    with dc.client(auth=None, headers={"Authorization": "Bearer admin-pat"}) as api:
        strict = api.get("/rest/api/2/search", params={"jql": "project = NOPE"})
        assert strict.status_code == 400
        warned = api.get(
            "/rest/api/2/search", params={"jql": "project = NOPE", "validateQuery": "warn"}
        ).json()
        assert warned["total"] == 0
        assert warned["warningMessages"] == ["The value 'NOPE' does not exist for the field 'project'."]
        quiet = api.get(
            "/rest/api/2/search", params={"jql": "project in (NOPE, PAY)", "validateQuery": "false"}
        )
        assert quiet.json()["total"] > 0 and "warningMessages" not in quiet.json()
        unbounded = api.get("/rest/api/2/search", params={"jql": "order by key", "maxResults": 0}).json()
        assert unbounded["total"] == len(dc.sim.state.issues)


def test_less_common_clauses_and_functions(cloud: Served, api: httpx.Client) -> None:
    state = cloud.sim.state
    pay = project_id(cloud, "PAY")
    assert set(keys(api, "project = PAY AND summary ~ refund")) == expected(
        cloud, lambda i: i.project_id == pay and "refund" in i.summary.lower()
    )
    assert set(keys(api, "project = PAY AND resolution = Unresolved")) == expected(
        cloud, lambda i: i.project_id == pay and i.resolution is None
    )
    assert set(keys(api, "project = PAY AND statusCategory = done")) == expected(
        cloud, lambda i: i.project_id == pay and i.status == "Done"
    )
    with state.lock:
        released = {
            v.id for v in state.versions.values() if v.project_id == pay and v.released and not v.archived
        }
        refunds = next(c.id for c in state.projects[pay].components if c.name == "Refunds")
        parent = next(i for i in state.issues.values() if i.parent_id is not None).parent_id
    assert set(keys(api, "fixVersion in releasedVersions(PAY)")) == expected(
        cloud, lambda i: bool(released & set(i.fix_versions))
    )
    assert set(keys(api, 'project = PAY AND component = "Refunds"')) == expected(
        cloud, lambda i: refunds in i.components
    )
    assert set(keys(api, f"parent = {parent}")) == expected(cloud, lambda i: i.parent_id == parent)
    assert set(keys(api, "project = PAY AND key > PAY-100")) == expected(
        cloud, lambda i: i.project_id == pay and int(i.key.split("-")[1]) > 100
    )
    assert keys(api, "project = PAY AND assignee = currentUser()") == []
    api.put(
        "/rest/api/3/issue/PAY-6",
        json={"fields": {"assignee": {"accountId": state.user("bridgeline").account_id}}},
    )  # type: ignore[union-attr]
    assert keys(api, "assignee = currentUser()") == ["PAY-6"]
    assert keys(api, "assignee = bridgeline@example.com AND updated >= startOfDay()") == ["PAY-6"]
    assert "PAY-6" not in keys(api, "project = PAY AND assignee is EMPTY")

"""What a Jira webhook payload stands for, including the shapes Jira sends in the wild, and fuzzing:
odd payloads never raise, and a valid event is never lost among unknown keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgeline.connectors.jira import parse_delivery, signature_valid
from bridgeline.connectors.jira.webhooks import HANDLED_EVENTS, delivery_key, sign
from bridgeline.model import EntityRef

PROJECTS = ["PAY", "WEB", "OPS"]
BASE = "https://acme.atlassian.net/rest/api/2"


def entities(payload: Any, *, issue_events: bool = True, identifier: str | None = "d-1") -> list[str]:
    parsed = parse_delivery(payload, identifier=identifier, issue_events=issue_events, projects=PROJECTS)
    return [str(e.ref) for e in parsed.events]


def issue_payload(event: str = "jira:issue_updated", **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": 1714557600000,
        "webhookEvent": event,
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Priya Raman"},
        "issue": {
            "id": "10001",
            "key": "PAY-12",
            "self": f"{BASE}/issue/10001",
            "fields": {
                "summary": "Retry failed card authorisations",
                "description": "v2 wiki text, even on Cloud",
                "project": {"id": "10000", "key": "PAY"},
                "fixVersions": [{"id": "10042", "name": "3.4.0", "self": f"{BASE}/version/10042"}],
            },
        },
        **extra,
    }


# -- signatures ------------------------------------------------------------------------------------


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"webhookEvent":"jira:issue_updated"}'
    header = sign("s3cret", body)
    assert header.startswith("sha256=") and signature_valid("s3cret", body, header)
    assert signature_valid("s3cret", body, header.upper().replace("SHA256=", "sha256="))
    assert not signature_valid("s3cret", body + b" ", header), "one byte more is another body"
    assert not signature_valid("other", body, header)
    assert not signature_valid("s3cret", body, None)
    assert not signature_valid("s3cret", body, "")
    assert not signature_valid("s3cret", body, header.replace("sha256=", "sha1="))
    assert not signature_valid("s3cret", body, "sha256=")


# -- issue, comment and version events ----------------------------------------------------------------


def test_an_issue_event_stands_for_the_issue_and_its_releases() -> None:
    assert entities(issue_payload()) == ["jira:issue:10001", "jira:version:10042"]


def test_without_issue_mappings_only_the_releases_are_enqueued() -> None:
    assert entities(issue_payload(), issue_events=False) == ["jira:version:10042"]


def test_a_release_the_issue_left_is_enqueued_from_the_changelog() -> None:
    changelog = {
        "id": "10500",
        "items": [
            {
                "field": "Fix Version",
                "fieldtype": "jira",
                "fieldId": "fixVersions",
                "from": "10041",
                "to": None,
            },
            {"field": "summary", "fieldtype": "jira", "fieldId": "summary", "from": None, "to": None},
        ],
    }
    assert entities(issue_payload(changelog=changelog), issue_events=False) == [
        "jira:version:10042",
        "jira:version:10041",
    ]


def test_a_deleted_issue_still_resyncs_its_releases() -> None:
    assert entities(issue_payload("jira:issue_deleted")) == ["jira:issue:10001", "jira:version:10042"]


def test_issues_of_other_projects_are_ignored() -> None:
    payload = issue_payload()
    payload["issue"]["key"] = "HR-3"
    payload["issue"]["fields"]["project"] = {"id": "10009", "key": "HR"}
    parsed = parse_delivery(payload, identifier="d", issue_events=True, projects=PROJECTS)
    assert parsed.events == [] and "HR" in (parsed.ignored or "")


def test_a_comment_event_stands_for_its_issue() -> None:
    payload = {
        "timestamp": 1714557600000,
        "webhookEvent": "comment_created",
        "comment": {"id": "31039", "self": f"{BASE}/issue/10001/comment/31039", "body": "CAB on Tuesday"},
        "issue": {
            "id": "10001",
            "key": "PAY-12",
            "fields": {"summary": "Retry", "status": {"name": "To Do"}},
        },
    }
    assert entities(payload) == ["jira:issue:10001"]


def test_an_old_server_comment_without_issue_finds_it_in_comment_self() -> None:
    payload = {
        "timestamp": 1714557600000,
        "webhookEvent": "comment_updated",
        "comment": {"id": "31039", "self": "https://jira.acme.com/rest/api/2/issue/26313/comment/31039"},
    }
    assert entities(payload) == ["jira:issue:26313"]


def test_version_events_carry_only_the_version() -> None:
    payload = {
        "timestamp": "1714557600000",
        "webhookEvent": "jira:version_released",
        "version": {
            "self": f"{BASE}/version/10042",
            "id": "10042",
            "name": "3.4.0",
            "released": True,
            "userReleaseDate": "04/May/24",
            "projectId": 10000,
        },
    }
    parsed = parse_delivery(payload, identifier="d", issue_events=True, projects=PROJECTS)
    assert [str(e.ref) for e in parsed.events] == ["jira:version:10042"]
    assert parsed.timestamp == 1714557600000, "a string timestamp is read as a number"
    assert parsed.events[0].hint == {"webhookEvent": "jira:version_released", "timestamp": 1714557600000}


@pytest.mark.parametrize("timestamp", ["\u00b2", "\u0663", "1e3", "-", " ", "12\u00b2", "9" * 25])
def test_a_timestamp_that_is_no_number_is_left_out_not_refused(timestamp: str) -> None:
    """Characters str.isdigit() calls digits ("²") are no number to int(): the delivery goes on."""
    payload = {"timestamp": timestamp, "webhookEvent": "jira:version_released", "version": {"id": "10042"}}
    parsed = parse_delivery(payload, identifier="d", issue_events=True, projects=PROJECTS)
    assert parsed.timestamp is None
    assert [str(e.ref) for e in parsed.events] == ["jira:version:10042"]


def test_a_merged_version_resyncs_both_releases() -> None:
    payload = {"webhookEvent": "jira:version_merged", "version": {"id": "10041"}, "mergedTo": {"id": "10042"}}
    assert entities(payload) == ["jira:version:10041", "jira:version:10042"]


def test_server_style_users_and_unknown_keys_change_nothing() -> None:
    payload = issue_payload(
        user={"name": "priya.raman", "key": "JIRAUSER10100", "displayName": "Priya Raman"},
        matchedWebhookIds=[3],
        atlassianFutureField={"note": "ignored"},
    )
    parsed = parse_delivery(payload, identifier="d", issue_events=True, projects=PROJECTS)
    assert [str(e.ref) for e in parsed.events] == ["jira:issue:10001", "jira:version:10042"]
    assert parsed.actor == "priya.raman"


def test_unknown_events_are_accepted_and_ignored() -> None:
    parsed = parse_delivery(
        {"webhookEvent": "worklog_updated", "worklog": {"id": "1"}}, identifier="d", issue_events=True
    )
    assert parsed.events == [] and "worklog_updated" in (parsed.ignored or "")
    assert parse_delivery({"hello": 1}, identifier="d", issue_events=True).events == []


def test_each_event_of_a_delivery_has_its_own_stable_delivery_key() -> None:
    first = parse_delivery(issue_payload(), identifier="b2a3-11", issue_events=True, projects=PROJECTS)
    retry = parse_delivery(issue_payload(), identifier="b2a3-11", issue_events=True, projects=PROJECTS)
    keys = [e.delivery_id for e in first.events]
    assert keys == [e.delivery_id for e in retry.events]
    assert len(set(keys)) == 2
    assert all(k and len(k) <= 200 for k in keys)
    assert len(delivery_key("x" * 5000, EntityRef("jira", "issue", "1" * 150))) <= 200
    no_id = parse_delivery(issue_payload(), identifier=None, issue_events=True, projects=PROJECTS)
    assert all(e.delivery_id is None for e in no_id.events)


# -- fuzzing --------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
field_names = st.sampled_from(
    [
        "webhookEvent",
        "issue",
        "comment",
        "version",
        "changelog",
        "timestamp",
        "user",
        "fields",
        "id",
        "self",
        "key",
    ]
)
event_names = st.sampled_from([*sorted(HANDLED_EVENTS), "worklog_updated", "", "jira:issue_updated "])


@st.composite
def jira_shaped(draw: st.DrawFn) -> Any:
    """Payloads that look like Jira's, with any value in any slot."""
    payload: dict[str, Any] = draw(st.dictionaries(field_names, json_values, max_size=6))
    payload["webhookEvent"] = draw(event_names | json_values)
    if draw(st.booleans()):
        payload["issue"] = draw(st.dictionaries(field_names, json_values, max_size=5))
    return payload


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, jira_shaped()))
def test_no_payload_makes_the_parser_raise(payload: Any) -> None:
    parsed = parse_delivery(payload, identifier="fuzz", issue_events=True, projects=PROJECTS)
    for event in parsed.events:
        assert event.ref.system == "jira" and event.ref.kind in ("issue", "version")
        assert event.ref.id and len(event.ref.id) <= 40
        json.dumps(event.hint)  # the hint is stored as JSON


ids = st.integers(min_value=1, max_value=10**12).map(str)
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
noise = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k not in {"id", "self", "key"}),
    scalars | st.lists(scalars, max_size=2) | st.dictionaries(st.text(max_size=4), scalars, max_size=2),
    max_size=3,
)


@st.composite
def valid_issue_events(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A genuine issue or comment event, dressed with unknown keys and wild-type timestamps and users."""
    event = draw(st.sampled_from(sorted(HANDLED_EVENTS - {e for e in HANDLED_EVENTS if "version" in e})))
    issue_id = draw(ids)
    project = draw(st.sampled_from(PROJECTS))
    versions = draw(st.lists(ids, max_size=4, unique=True))
    issue: dict[str, Any] = {**draw(noise), "id": draw(st.sampled_from([issue_id, int(issue_id)]))}
    issue["key"] = f"{project}-{draw(st.integers(1, 99999))}"
    issue["fields"] = {
        **draw(noise),
        "project": {"key": project},
        "fixVersions": [{**draw(noise), "id": v} for v in versions],
    }
    payload: dict[str, Any] = {**draw(noise), "webhookEvent": event, "issue": issue}
    payload["timestamp"] = draw(st.sampled_from([1714557600000, "1714557600000", None, "soon"]))
    payload["user"] = draw(
        st.sampled_from([{"accountId": "5b10"}, {"name": "priya", "key": "JIRAUSER1"}, None])
    )
    expected = {f"jira:issue:{issue_id}"} | {f"jira:version:{v}" for v in versions}
    return payload, expected


@settings(max_examples=200, deadline=None)
@given(valid_issue_events())
def test_a_valid_event_is_never_lost_in_noise(case: tuple[dict[str, Any], set[str]]) -> None:
    payload, expected = case
    assert set(entities(payload)) == expected
    assert set(entities(json.loads(json.dumps(payload)))) == expected


def test_an_issue_filter_decides_on_the_fields_the_payload_carries() -> None:
    def hotfixes(issue: dict[str, Any]) -> bool:
        return "hotfix" in issue["fields"]["labels"]

    def parsed(fields: dict[str, Any]) -> list[str]:
        payload = issue_payload()
        payload["issue"]["fields"].update(fields)
        return [str(e.ref) for e in parse_delivery(payload, identifier="d", issue_events=hotfixes).events]

    both = {"issuetype": {"name": "Bug"}}
    assert parsed({**both, "labels": ["hotfix"]}) == ["jira:issue:10001", "jira:version:10042"]
    assert parsed({**both, "labels": []}) == ["jira:version:10042"]
    # an abbreviated issue (no labels or type in the payload): the engine reads it and decides
    assert parsed({}) == ["jira:issue:10001", "jira:version:10042"]

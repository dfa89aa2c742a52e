"""Reverse rules: the target record's state -> Jira actions, each with a stable idempotency key."""

from __future__ import annotations

import pytest

from bridgeline.errors import RenderError
from bridgeline.mapping import ReverseAction, issue_context

RULES = """\
reverse:
  - name: approved
    when: target.approval == "approved"
    where: issue.status_category != "done"
    actions:
      - transition: {to: Ready for Release, comment: "via {{ link.number }}"}
      - comment: "Approved by {{ target.approver }}"
      - comment: "{{ 'Window starts ' ~ target.planned_start if target.planned_start else '' }}"
      - field:
          customfield_10050: "{{ link.number }}"
          customfield_10051: {value: "{{ target.planned_start }}", type: datetime}
          customfield_10052: {value: "{{ issues | length }}", type: int}
  - name: progress
    when: target.state in ["scheduled", "implement"]
    actions:
      - comment: "{{ link.number }} is {{ target.state }}"
        where: issue.key == "PAY-1"
  - name: rejected
    when: target.approval == "rejected"
    trigger: "{{ target.approval }}/{{ target.fields.sys_mod_count }}"
    actions:
      - label: {add: [cab-rejected, "{{ 'cab-' ~ target.approval }}"], remove: ["cab-approved", ""]}
  - name: closed
    when: target.state == "closed"
    actions:
      - release_version: true
      - version_description: "Released with {{ link.number }}"
      - version_property:
          key: bridgeline.change
          value: {number: "{{ link.number }}", tasks: ["{{ issues | length }}", 2]}
      - issue_property: {key: bridgeline.change, value: "{{ link.number }}"}
  - name: link
    when: "true"
    actions:
      - remote_link: true
"""


@pytest.fixture
def mapping(load, kit):
    return load(kit.mapping(body=RULES)).get("rel")


def keys(actions: list[ReverseAction]) -> list[str]:
    return [a.key for a in actions]


def test_an_approval(mapping, kit) -> None:
    ctx = kit.release([kit.issue(1), kit.issue(2, status=("Done", "done"))])
    target = kit.target(approval="approved", approver="Dana CAB", state="scheduled")
    actions = mapping.reverse({**ctx, "target": target})
    assert [(a.rule, a.kind, a.issue_key) for a in actions] == [
        ("approved", "transition", "PAY-1"),
        ("approved", "comment", "PAY-1"),
        ("approved", "comment", "PAY-1"),
        ("approved", "field", "PAY-1"),
        ("progress", "comment", "PAY-1"),
        ("link", "remote_link", "PAY-1"),
        ("link", "remote_link", "PAY-2"),
    ]
    transition, approver, window, field = actions[:4]
    assert transition == ReverseAction(
        rule="approved",
        kind="transition",
        scope="issue",
        issue_key="PAY-1",
        version_id="10042",
        params={"to": "Ready for Release", "comment": "via CHG0030042"},
        key="rel/approved/transition/PAY-1/CHG0030042/approval=approved",
    )
    assert approver.params == {"body": "Approved by Dana CAB"}
    assert window.params == {"body": "Window starts 2024-05-03 18:00:00"}
    assert window.key == "rel/approved/comment#2/PAY-1/CHG0030042/approval=approved"
    assert field.params == {
        "fields": {
            "customfield_10050": "CHG0030042",
            "customfield_10051": "2024-05-03T18:00:00.000+0000",
            "customfield_10052": 2,
        }
    }
    assert actions[4].key == "rel/progress/comment/PAY-1/CHG0030042/state=scheduled"
    assert actions[5].params == {
        "global_id": "bridgeline:servicenow:CHG0030042",
        "url": "https://sn.example/change_request.do?sys_id=4f1e",
        "title": "CHG0030042",
    }
    # with no condition on the target, a rule fires again whenever state or approval change
    assert actions[5].key == "rel/link/remote_link/PAY-1/CHG0030042/state=scheduled;approval=approved"


def test_keys_are_stable_and_follow_only_what_the_condition_reads(mapping, kit) -> None:
    ctx = kit.release()
    first = mapping.reverse({**ctx, "target": kit.target(approval="approved", state="authorize")})
    again = mapping.reverse({**ctx, "target": kit.target(approval="approved", state="authorize")})
    later = mapping.reverse(
        {**ctx, "target": kit.target(approval="approved", state="scheduled", approver="x")}
    )
    assert keys(first) == keys(again)
    approved = [k for k in keys(first) if "/approved/" in k]
    assert approved and set(approved) <= set(keys(later))  # approval unchanged: nothing new to apply
    assert {k for k in keys(later) if "/link/" in k}.isdisjoint(keys(first))  # the state moved: link again


def test_an_explicit_trigger(mapping, kit) -> None:
    ctx = kit.release([kit.issue(1)])
    first = mapping.reverse({**ctx, "target": kit.target(approval="rejected", fields={"sys_mod_count": "4"})})
    second = mapping.reverse(
        {**ctx, "target": kit.target(approval="rejected", fields={"sys_mod_count": "7"})}
    )
    (label,) = [a for a in first if a.kind == "label"]
    assert label.params == {"add": ["cab-rejected"], "remove": ["cab-approved"]}
    assert label.key == "rel/rejected/label/PAY-1/CHG0030042/rejected/4"
    assert [a.key for a in second if a.kind == "label"] == ["rel/rejected/label/PAY-1/CHG0030042/rejected/7"]


def test_version_actions(mapping, kit) -> None:
    now_ctx = kit.release([kit.issue(1)])
    actions = mapping.reverse({**now_ctx, "target": kit.target(state="closed", approval="approved")})
    version = [a for a in actions if a.scope == "version"]
    assert [(a.kind, a.issue_key, a.version_id, a.params) for a in version] == [
        ("release_version", None, "10042", {"released": True, "release_date": "2024-04-29"}),
        ("version_description", None, "10042", {"description": "Released with CHG0030042"}),
        ("version_property", None, "10042", {"key": "bridgeline.change",
                                             "value": {"number": "CHG0030042", "tasks": ["1", 2]}}),
    ]  # fmt: skip
    assert version[0].key == "rel/closed/release_version/version:10042/CHG0030042/state=closed"
    (prop,) = [a for a in actions if a.kind == "issue_property"]
    assert (prop.scope, prop.issue_key, prop.params) == (
        "issue",
        "PAY-1",
        {"key": "bridgeline.change", "value": "CHG0030042"},
    )


def test_a_partial_target_and_an_explicit_link(mapping, kit) -> None:
    ctx = kit.release([kit.issue(1)])
    partial = {"system": "servicenow", "number": "CHG9", "state": "new"}
    # a remote link needs a URL: without one the action is skipped, not sent empty
    assert mapping.reverse({**ctx, "target": partial}) == []
    (link,) = mapping.reverse({**ctx, "target": partial, "link": {"number": "CHG9", "url": "https://sn/x"}})
    assert (link.params["title"], link.params["url"]) == ("CHG9", "https://sn/x")
    assert link.key == "rel/link/remote_link/PAY-1/CHG9/state=new;approval="


def test_reverse_needs_a_target(mapping, kit) -> None:
    with pytest.raises(RenderError, match="the context has no 'target'"):
        mapping.reverse(kit.release())


def test_reverse_of_an_issue_mapping_acts_on_that_issue(load, kit) -> None:
    text = kit.mapping(
        entity="issue",
        body="""\
        reverse:
          - name: closed
            when: target.state == "closed" and target.close_code == "successful"
            actions:
              - transition: Done
              - remote_link:
                  title: "{{ link.number }} ({{ target.state }})"
                  resolved: target.state in ["closed", "canceled"]
        """,
    )
    mapping = load(text).get("rel")
    ctx = issue_context(kit.issue(7), {"key": "PAY"}, kit.now)
    actions = mapping.reverse({**ctx, "target": kit.target(state="closed", close_code="successful")})
    assert [(a.kind, a.scope, a.issue_key, a.version_id) for a in actions] == [
        ("transition", "issue", "PAY-7", None),
        ("remote_link", "issue", "PAY-7", None),
    ]
    assert actions[1].params["resolved"] is True
    assert actions[0].key == "rel/closed/transition/PAY-7/CHG0030042/state=closed;close_code=successful"
    assert mapping.reverse({**ctx, "target": kit.target(state="closed", close_code="unsuccessful")}) == []


def test_a_failing_action_names_the_rule_and_action(load, kit) -> None:
    text = kit.mapping(
        body="""\
        reverse:
          - name: approved
            when: target.approval == "approved"
            actions:
              - comment: "{{ target.fields.missing.deeper }}"
        """
    )
    with pytest.raises(RenderError) as info:
        load(text).get("rel").reverse({**kit.release(), "target": kit.target(approval="approved")})
    assert info.value.field == "reverse.approved.actions[0].comment.body"


def test_reverse_names_outside_reverse_rules_are_refused(problems, kit) -> None:
    found = problems(
        kit.mapping(
            body="""\
            reverse:
              - name: r
                when: issue.key == "x"
                actions:
                  - version_description: "{{ issue.key }}"
                  - label: {}
            """
        )
    )
    assert [f.split(": ", 2)[1] for f in found] == [
        "reverse[0].when",
        "reverse[0].actions[0].version_description",
        "reverse[0].actions[1].label",
    ]
    assert "a label action needs add or remove" in found[2]


def test_a_link_without_a_url_keeps_the_targets(mapping, kit) -> None:
    ctx = kit.release([kit.issue(1)])
    (link,) = mapping.reverse(
        {**ctx, "target": kit.target(state="new"), "link": {"number": "CHG1", "url": None}}
    )
    assert (link.params["title"], link.params["url"]) == (
        "CHG1",
        "https://sn.example/change_request.do?sys_id=4f1e",
    )


def test_the_same_answer_from_two_changes_gives_two_keys(mapping, kit) -> None:
    ctx = kit.release([kit.issue(1)])  # an issue in two releases: each has its change request
    first = mapping.reverse({**ctx, "target": kit.target(approval="approved", number="CHG1")})
    second = mapping.reverse({**ctx, "target": kit.target(approval="approved", number="CHG2")})
    assert {a.key for a in first}.isdisjoint({a.key for a in second})

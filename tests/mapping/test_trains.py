"""Release trains in the mapping language: the key, the train's context, children per member, per
service or per issue, and reverse rules that know which level answered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridgeline.mapping import train_context, train_level, version_context

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HEADER = "apiVersion: bridgeline/v1\nkind: Mapping\n"

TRAIN = f"""\
{HEADER}metadata: {{name: train}}
source:
  entity: train
  projects: [PAY, WEB, OPS]
target: {{system: servicenow, record: change_request}}
identity: "jira:train:{{{{ train.key }}}}"
fields:
  short_description: "Train {{{{ train.key }}}}: {{{{ train.projects | join(' ') }}}}"
"""

PER_MEMBER = """\
children:
  changes:
    for_each: members
    as: member
    identity: "jira:train:{{ train.key }}:{{ member.project.key }}"
    target: {system: servicenow, record: change_request}
    fields:
      assignment_group: "{{ member.project.key }} CAB"
    on_remove: cancel
"""


def issue(n: int, *, key: str = "PAY", components: tuple[str, ...] = ()) -> dict[str, Any]:
    """A raw Jira issue of project ``key``."""
    return {
        "id": str(10000 + n),
        "key": f"{key}-{n}",
        "fields": {
            "summary": f"issue {n}",
            "issuetype": {"name": "Story"},
            "status": {"name": "To Do", "statusCategory": {"key": "new"}},
            "components": [{"name": c} for c in components],
            "project": {"key": key},
        },
    }


def member(project: str, version_id: str, name: str = "2026.12", issues: list[Any] | None = None, **raw: Any):
    version = {"id": version_id, "name": name, "released": False, "archived": False, **raw}
    return version, {"id": version_id[:1], "key": project, "name": project}, issues or []


def ctx(*members: Any, key: str = "2026.12") -> dict[str, Any]:
    return train_context(key, list(members), NOW)


def test_the_train_key_is_the_version_name_by_default_and_only_for_member_projects(load) -> None:
    mapping = load(TRAIN).get("train")
    pay = version_context(*member("PAY", "1", "2026.12"), NOW)
    assert mapping.key_of(pay) == "2026.12"
    other = version_context(*member("HR", "9", "2026.12"), NOW)
    assert mapping.key_of(other) == ""  # not a member project
    archived = version_context(*member("PAY", "2", "2026.11", archived=True), NOW)
    assert mapping.key_of(archived) == ""  # archived releases leave their train


def test_a_key_template_can_pick_the_train_from_the_description(load) -> None:
    text = TRAIN.replace(
        "  projects: [PAY, WEB, OPS]\n",
        "  projects: [PAY, WEB, OPS]\n"
        "  key: \"{% for l in (version.description or '').splitlines() if l.startswith('Train:') %}"
        '{{ l[6:] | trim }}{% endfor %}"\n',
    )
    mapping = load(text).get("train")
    marked = version_context(*member("WEB", "2", "web-44", description="Notes\nTrain: 2026.12"), NOW)
    assert mapping.key_of(marked) == "2026.12"
    assert mapping.key_of(version_context(*member("WEB", "3", "web-45"), NOW)) == ""


def test_the_train_context_holds_every_member_with_project_and_issues() -> None:
    c = ctx(
        member("PAY", "1", issues=[issue(1, components=("Payments",))]),
        member(
            "WEB", "2", issues=[issue(2, key="WEB", components=("Payments", "Web"))], releaseDate="2026-12-10"
        ),
    )
    assert c["train"]["key"] == "2026.12"
    assert c["train"]["projects"] == ["PAY", "WEB"]
    assert [m["ref"] for m in c["members"]] == ["jira:version:1", "jira:version:2"]
    assert [i["key"] for i in c["issues"]] == ["PAY-1", "WEB-2"]
    assert [(s["name"], [i["key"] for i in s["issues"]]) for s in c["services"]] == [
        ("Payments", ["PAY-1", "WEB-2"]),
        ("Web", ["WEB-2"]),
    ]
    assert c["train"]["release_date"] == "2026-12-10"


def test_one_parent_with_a_child_change_per_member_project(load) -> None:
    mapping = load(TRAIN + PER_MEMBER).get("train")
    rendered = mapping.render(ctx(member("PAY", "1"), member("WEB", "2"), member("OPS", "3")))
    assert rendered.identity == "jira:train:2026.12"
    assert rendered.fields["short_description"] == "Train 2026.12: PAY WEB OPS"
    assert [(c.source_key, c.target.record, c.fields["assignment_group"]) for c in rendered.children] == [
        ("jira:version:1", "change_request", "PAY CAB"),
        ("jira:version:2", "change_request", "WEB CAB"),
        ("jira:version:3", "change_request", "OPS CAB"),
    ]


def test_or_change_tasks_for_the_issues_of_every_project(load) -> None:
    tasks = """\
children:
  tasks:
    for_each: issues
    identity: "jira:train:{{ train.key }}:issue:{{ issue.id }}"
    target: {system: servicenow, record: change_task}
    fields: {short_description: "{{ issue.project }} {{ issue.key }}"}
"""
    mapping = load(TRAIN + tasks).get("train")
    c = ctx(member("PAY", "1", issues=[issue(1)]), member("WEB", "2", issues=[issue(2, key="WEB")]))
    rendered = mapping.render(c)
    assert [(ch.source_key, ch.target.record) for ch in rendered.children] == [
        ("jira:issue:10001", "change_task"),
        ("jira:issue:10002", "change_task"),
    ]


def test_or_a_child_change_per_affected_service(load) -> None:
    services = """\
vars:
  ci: {Payments: payments-api, Web: storefront}
children:
  services:
    for_each: services
    as: service
    identity: "jira:train:{{ train.key }}:service:{{ service.name }}"
    target: {system: servicenow, record: change_request}
    fields:
      cmdb_ci: {value: "{{ service.name }}", map: ci}
      short_description: "{{ service.name }} ({{ service.issues | length }} issues)"
"""
    mapping = load(TRAIN + services).get("train")
    c = ctx(member("PAY", "1", issues=[issue(1, components=("Payments",)), issue(3, components=("Web",))]))
    rendered = mapping.render(c)
    assert [(ch.source_key, ch.fields["cmdb_ci"]) for ch in rendered.children] == [
        ("jira:component:Payments", "payments-api"),
        ("jira:component:Web", "storefront"),
    ]


def test_reverse_rules_know_the_level_and_reach_the_whole_train(load) -> None:
    rules = """\
reverse:
  - name: train-approved
    when: level == "parent" and target.approval == "approved"
    actions:
      - comment: "train {{ train.key }} approved"
  - name: held
    when: level == "child" and target.approval == "rejected"
    actions:
      - comment: "held by {{ member.project.key }}: {{ target.approval_comment }}"
        issues: train.issues
  - name: shipped
    when: level == "parent" and target.state == "closed"
    actions:
      - release_version: true
"""
    mapping = load(TRAIN + PER_MEMBER + rules).get("train")
    c = ctx(member("PAY", "1", issues=[issue(1)]), member("WEB", "2", issues=[issue(2, key="WEB")]))
    approved = {"system": "servicenow", "number": "CHG1", "approval": "approved", "state": "scheduled"}
    parent = mapping.reverse({**train_level(c), "target": approved})
    assert [(a.rule, a.issue_key) for a in parent] == [
        ("train-approved", "PAY-1"),
        ("train-approved", "WEB-2"),
    ]
    child_ok = mapping.reverse({**train_level(c, "changes", "jira:version:2"), "target": approved})
    assert child_ok == []  # the parent's rule does not fire for a child
    rejected = {**approved, "number": "CHG3", "approval": "rejected", "approval_comment": "freeze"}
    held = mapping.reverse({**train_level(c, "changes", "jira:version:2"), "target": rejected})
    assert [(a.issue_key, a.params["body"]) for a in held] == [
        ("PAY-1", "held by WEB: freeze"),
        ("WEB-2", "held by WEB: freeze"),
    ]
    closed = {**approved, "state": "closed"}
    released = mapping.reverse({**train_level(c), "target": closed})
    assert [(a.kind, a.version_id) for a in released if a.rule == "shipped"] == [
        ("release_version", "1"),
        ("release_version", "2"),
    ]


def test_train_mistakes_are_refused_with_their_place(problems) -> None:
    no_projects = TRAIN.replace("  projects: [PAY, WEB, OPS]\n", "")
    assert problems(no_projects) == [
        "mapping.yaml:5:3: source: a train mapping names its member projects (source.projects)"
    ]
    typo = TRAIN.replace("train.projects | join(' ')", "members | first | attr('x') ~ version.name")
    assert problems(typo)[0].startswith("mapping.yaml:10:22: fields.short_description: 'version' is not")
    assert "a train mapping reads `members`" in problems(typo)[0]
    prop = TRAIN + 'reverse:\n  - {name: p, when: true, actions: [{version_description: "x"}]}\n'
    assert problems(prop) == [
        "mapping.yaml:12:59: reverse[0].actions[0].version_description: version_description is for one "
        "release: train mappings release their versions only"
    ]


def test_a_key_belongs_to_train_mappings_only(problems, kit) -> None:
    text = kit.mapping().replace(
        "source: {system: jira, entity: version}", "source: {system: jira, entity: version, key: x}"
    )
    assert problems(text) == [
        "mapping.yaml:4:9: source: 'key' is the train key: only train mappings (entity: train) have one"
    ]

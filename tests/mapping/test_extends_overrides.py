"""Reuse: ``extends`` deep-merges a base mapping, ``overrides`` change a mapping per project."""

from __future__ import annotations

from bridgeline.mapping import TargetSpec

BASE = """\
apiVersion: bridgeline/v1
kind: Mapping
metadata: {name: change-defaults}
abstract: true
target: {system: servicenow, record: change_request}
vars:
  group_by_component: {Payments: Payments Platform}
fields:
  category: Software
  risk: {value: "{{ issues | max_priority }}", map: {Highest: "2", High: "3"}, default: "4"}
  assignment_group:
    value: "{{ issues | pluck('components') | flatten | first | default('') }}"
    map: group_by_component
    default: Change Management
reverse:
  - name: approved
    when: target.approval == "approved"
    actions:
      - transition: Ready for Release
  - name: rejected
    when: target.approval == "rejected"
    actions:
      - label: {add: [cab-rejected]}
"""

RELEASE = """\
apiVersion: bridgeline/v1
kind: Mapping
metadata: {name: release}
extends: change-defaults
source: {entity: version}
identity: "jira:{{ project.key }}:version:{{ version.id }}"
vars:
  group_by_component: {Checkout: Payments Platform}
fields:
  short_description: "Release {{ version.name }}"
  risk: {default: "3"}
reverse:
  - name: approved
    actions:
      - transition: Approved
      - comment: "approved"
  - name: released
    when: target.state == "closed"
    actions:
      - release_version: true
overrides:
  WEB:
    target: {api: change}
    vars:
      group_by_component: {Frontend: Web Platform}
    fields:
      category: Web
      assignment_group: {default: Web Platform}
    reverse:
      - name: rejected
        actions:
          - comment: "rejected for web"
"""


def test_extends_deep_merges_fields_vars_and_reverse_rules(load, kit) -> None:
    loaded = load({"base.yaml": BASE, "release.yaml": RELEASE})
    assert [m.name for m in loaded.mappings] == ["release"]  # the abstract base is not a mapping of its own
    mapping = loaded.get("release")
    assert mapping.extends == "change-defaults"
    ctx = kit.release([kit.issue(1, priority="Low", components=("Checkout",))])
    rendered = mapping.render(ctx)
    assert rendered.fields == {
        "category": "Software",
        "risk": "3",  # the map is inherited, the default overridden
        "assignment_group": "Payments Platform",  # vars merged: Checkout added to the base's table
        "short_description": "Release 1.4.0",
    }
    assert "release.yaml" in rendered.provenance["short_description"]
    assert "base.yaml" in rendered.provenance["category"]
    approved = mapping.reverse({**ctx, "target": kit.target(approval="approved")})
    # rule "approved" merged by name: its actions replaced, its condition inherited
    assert [(a.rule, a.kind, a.params) for a in approved] == [
        ("approved", "transition", {"to": "Approved"}),
        ("approved", "comment", {"body": "approved"}),
    ]
    released = mapping.reverse({**ctx, "target": kit.target(state="closed")})
    assert [(a.rule, a.kind) for a in released] == [("released", "release_version")]


def test_overrides_apply_to_their_project_only(load, kit) -> None:
    mapping = load({"base.yaml": BASE, "release.yaml": RELEASE}).get("release")
    issues = [kit.issue(1, components=("Frontend",))]
    pay = mapping.render(kit.release(issues, key="PAY"))
    web = mapping.render(kit.release(issues, key="WEB"))
    assert (pay.fields["category"], pay.fields["assignment_group"]) == ("Software", "Change Management")
    assert (web.fields["category"], web.fields["assignment_group"]) == ("Web", "Web Platform")
    # no api in the base: the servicenow.api setting decides; the WEB override asks for the Change API
    assert pay.target == TargetSpec("servicenow", "change_request", api=None, type="normal")
    assert web.target == TargetSpec("servicenow", "change_request", api="change", type="normal")
    assert mapping.target.api is None
    web_rejected = mapping.reverse(
        {**kit.release(issues, key="WEB"), "target": kit.target(approval="rejected")}
    )
    assert [(a.kind, a.params) for a in web_rejected] == [("comment", {"body": "rejected for web"})]
    pay_rejected = mapping.reverse(
        {**kit.release(issues, key="PAY"), "target": kit.target(approval="rejected")}
    )
    assert [a.kind for a in pay_rejected] == ["label"]


def test_mistakes_in_overrides_point_at_the_override(problems) -> None:
    bad = RELEASE.replace("      category: Web\n", '      category: "{{ issue.key }}"\n').replace(
        "    target: {api: change}", "    target: {api: soap}"
    )
    found = problems({"base.yaml": BASE, "release.yaml": bad})
    assert found == [
        "release.yaml:23:19: target.api: 'soap' is not one of 'table' or 'change'",
    ]
    only_fields = RELEASE.replace("      category: Web\n", '      category: "{{ issue.key }}"\n')
    (found,) = problems({"base.yaml": BASE, "release.yaml": only_fields})
    assert found.startswith("release.yaml:27:17: fields.category: 'issue' is not in the context")


def test_an_override_for_a_project_the_mapping_never_sees(problems) -> None:
    text = RELEASE.replace("source: {entity: version}", "source: {entity: version, projects: [PAY]}")
    assert problems({"base.yaml": BASE, "release.yaml": text}) == [
        "release.yaml:22:3: overrides.WEB: never applies: source.projects is ['PAY']"
    ]


def test_an_abstract_base_may_be_incomplete_but_a_mapping_may_not(problems) -> None:
    text = RELEASE.replace("extends: change-defaults\n", "")
    assert problems({"release.yaml": text}) == [
        "release.yaml:1:1: missing 'target' (or mark it abstract: true)",
        "release.yaml:10:9: fields.risk.value: missing required key 'value'",
        "release.yaml:12:5: reverse[0].when: missing required key 'when'",
    ]


def test_several_documents_per_file(load) -> None:
    release_web = (
        RELEASE.replace("name: release", "name: release-web")
        .replace("source: {entity: version}", "source: {entity: version, projects: [WEB]}")
        .replace("jira:{{", "web:{{")
        .split("overrides:")[0]
    )
    loaded = load({"all.yaml": BASE + "---\n" + RELEASE + "---\n" + release_web})
    assert [m.name for m in loaded.mappings] == ["release", "release-web"]
    assert loaded.get("release-web").file.endswith("all.yaml")

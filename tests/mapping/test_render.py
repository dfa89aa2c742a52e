"""Rendering: field rules (map, default, required, type, max_length), per-target values, children, errors."""

from __future__ import annotations

import pytest

from bridgeline.errors import RenderError
from bridgeline.mapping import RemovePolicy, TargetSpec


def test_field_rules_apply_in_order_and_are_explained(load, kit) -> None:
    text = kit.mapping(
        body="""\
        vars:
          risk: {Highest: "2", High: "3"}
        fields:
          risk: {value: "{{ issues | max_priority }}", map: risk, default: "4"}
          impact: {value: "{{ issues | max_priority }}", map: {Low: "3"}, default: "2"}
          notes: {value: "{{ version.description }}", default: "no notes"}
          title: {value: "Release {{ version.name }} of the payments platform", max_length: 20}
          count: {value: "{{ issues | length }}", type: int}
          constant: 7
          flag: true
          nothing: null
        """
    )
    rendered = load(text).get("rel").render(kit.release([kit.issue(1, priority="High")]))
    assert rendered.fields == {
        "risk": "3",
        "impact": "2",
        "notes": "no notes",
        "title": "Release 1.4.0 of th…",
        "count": "1",
        "constant": "7",
        "flag": "true",
        "nothing": "",
    }
    assert rendered.provenance["risk"].endswith("/mapping.yaml:10): map risk 'High' -> '3'")
    assert rendered.provenance["risk"].startswith("fields.risk (")
    assert rendered.provenance["impact"].endswith("map has no 'High' -> default")
    assert rendered.provenance["notes"].endswith(": empty -> default")
    assert rendered.provenance["title"].endswith(": cut to 20")
    assert rendered.provenance["constant"].endswith("/mapping.yaml:15)")


def test_a_value_missing_from_a_map_without_default_fails(load, kit) -> None:
    text = kit.mapping(body='fields:\n  risk: {value: "{{ issues | max_priority }}", map: {High: "3"}}\n')
    with pytest.raises(RenderError) as info:
        load(text).get("rel").render(kit.release([kit.issue(1, priority="Lowest")]))
    assert info.value.mapping == "rel"
    assert info.value.field == "fields.risk"
    assert info.value.entity == "jira:version:10042"
    assert info.value.reason == "no entry for 'Lowest' in map and no default (map has 'High')"


def test_required_fields(load, kit) -> None:
    text = kit.mapping(body='fields:\n  notes: {value: "{{ version.description }}", required: true}\n')
    mapping = load(text).get("rel")
    with pytest.raises(RenderError, match="required, but the value is empty"):
        mapping.render(kit.release())
    assert mapping.render(kit.release(description="ok")).fields["notes"] == "ok"


def test_types_are_coerced_then_written_as_the_target_reads_them(load, kit) -> None:
    body = """\
        fields:
          when: {value: "{{ version.release_date }}", type: datetime, tz: Europe/Berlin}
          day: {value: "{{ version.release_date }}", type: date}
          count: {value: "{{ issues | length }}", type: int}
          ratio: {value: "0.5", type: float}
          ok: {value: "{{ version.released }}", type: bool}
          text: {value: 42, type: string}
        """
    snow = load({"snow.yaml": kit.mapping("snow", body)}).get("snow").render(kit.release())
    assert snow.fields == {
        "when": "2024-05-02 22:00:00",
        "day": "2024-05-03",
        "count": "2",
        "ratio": "0.5",
        "ok": "false",
        "text": "42",
    }
    remedy_text = kit.mapping("remedy", body).replace(
        "target: {system: servicenow, record: change_request}", "target: {system: remedy}"
    )
    remedy = load({"remedy.yaml": remedy_text}).get("remedy").render(kit.release())
    assert remedy.target == TargetSpec("remedy", "change")
    assert remedy.fields == {
        "when": "2024-05-02T22:00:00.000+0000",
        "day": "2024-05-03",
        "count": 2,
        "ratio": 0.5,
        "ok": False,
        "text": "42",
    }


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        ("abc", "int", "'abc' is not a valid int"),
        ("2.5", "int", "'2.5' is not a valid int"),
        ("maybe", "bool", "'maybe' is not a valid bool"),
        ("soon", "datetime", "'soon' is not a valid datetime"),
    ],
)
def test_values_that_cannot_be_coerced_fail_with_the_reason(
    load, kit, value: str, kind: str, reason: str
) -> None:
    mapping = load(kit.mapping(body=f"fields:\n  x: {{value: '{value}', type: {kind}}}\n")).get("rel")
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release())
    assert (info.value.field, info.value.reason) == ("fields.x", reason)


def test_templates_failing_on_one_entity_name_the_field(load, kit) -> None:
    mapping = load(kit.mapping(body='fields:\n  x: "{{ version.raw.odd.deeper }}"\n')).get("rel")
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release())
    assert info.value.field == "fields.x"
    assert info.value.reason.startswith("undefined value: ")
    assert str(info.value).startswith(
        "mapping 'rel', field 'fields.x' for jira:version:10042: undefined value"
    )


def test_rendered_text_is_trimmed_and_none_is_empty(load, kit) -> None:
    text = kit.mapping(
        body="""\
        fields:
          description: |
            {% for issue in issues %}
            - {{ issue.key }} {{ issue.fields.customfield_1 }}
            {% endfor %}
          plain: |
            Written as is,
            over two lines.
        """
    )
    rendered = (
        load(text)
        .get("rel")
        .render(kit.release([kit.issue(1, customfield_1=None), kit.issue(2, customfield_1="x")]))
    )
    assert rendered.fields["description"] == "- PAY-1 \n- PAY-2 x"
    assert rendered.fields["plain"] == "Written as is,\nover two lines."


def test_source_filters_and_when(load, kit) -> None:
    text = (
        kit.mapping().replace(
            "entity: version}",
            "entity: version, projects: [PAY], issue_types: [Story],"
            " when: 'not version.archived and issues'}",
        )
        + "fields:\n  keys: \"{{ issues | pluck('key') | join(',') }}\"\n"
    )
    mapping = load(text).get("rel")
    both = [kit.issue(1), kit.issue(2, type="Epic")]
    assert mapping.applies(kit.release(both))
    assert mapping.render(kit.release(both)).fields["keys"] == "PAY-1"
    assert not mapping.applies(kit.release(both, archived=True))
    assert not mapping.applies(kit.release([kit.issue(2, type="Epic")]))
    assert not mapping.applies(kit.release(both, key="WEB"))


def test_issue_mappings_filter_by_type_and_label(load, kit) -> None:
    from bridgeline.mapping import issue_context

    text = kit.mapping(entity="issue").replace(
        "entity: issue}", "entity: issue, issue_types: [Bug], labels: [hotfix, urgent]}"
    )
    mapping = load(text).get("rel")
    project = {"key": "PAY"}
    assert mapping.applies(issue_context(kit.issue(1, type="Bug", labels=("urgent",)), project, kit.now))
    assert not mapping.applies(issue_context(kit.issue(2, type="Bug"), project, kit.now))
    assert not mapping.applies(
        issue_context(kit.issue(3, type="Story", labels=("hotfix",)), project, kit.now)
    )
    with pytest.raises(RenderError, match="an issue mapping needs a context with 'issue'"):
        mapping.applies(kit.release())


CHILDREN = """\
children:
  tasks:
    for_each: issues | sort_by_priority
    where: issue.status_category != "done"
    identity: "jira:{{ project.key }}:issue:{{ issue.id }}:task"
    target: {system: servicenow, record: change_task}
    fields:
      short_description: "{{ issue.key }}: {{ issue.summary }}"
      points: {value: "{{ issue.fields.customfield_10020 | default(0) }}", type: int}
    on_remove:
      action: close
      fields:
        close_code: successful
        close_notes: "Left release {{ version.name }}"
  notes:
    for_each: vars.steps
    as: step
    identity: "jira:{{ project.key }}:version:{{ version.id }}:step:{{ step }}"
    source_key: "jira:version:{{ version.id }}"
    target: {system: servicenow, record: change_task, api: change}
    fields:
      short_description: "Step {{ step }}"
vars:
  steps: [backup, deploy]
"""


def test_children_one_per_item_with_their_removal_policy(load, kit) -> None:
    mapping = load(kit.mapping(body=CHILDREN)).get("rel")
    issues = [
        kit.issue(1, priority="Low"),
        kit.issue(2, priority="High"),
        kit.issue(3, status=("Done", "done")),
    ]
    rendered = mapping.render(kit.release(issues))
    tasks = [c for c in rendered.children if c.group == "tasks"]
    assert [(c.source_key, c.identity) for c in tasks] == [
        ("jira:issue:10002", "jira:PAY:issue:10002:task"),
        ("jira:issue:10001", "jira:PAY:issue:10001:task"),
    ]
    assert tasks[0].fields == {"short_description": "PAY-2: issue 2", "points": "0"}
    assert tasks[0].target == TargetSpec("servicenow", "change_task", api=None)
    policy = RemovePolicy("close", {"close_code": "successful", "close_notes": "Left release 1.4.0"})
    assert tasks[0].on_remove == policy
    assert rendered.on_remove == {"tasks": policy, "notes": RemovePolicy("keep", {})}
    notes = [c for c in rendered.children if c.group == "notes"]
    assert [(c.source_key, c.identity, c.fields["short_description"]) for c in notes] == [
        ("jira:version:10042", "jira:PAY:version:10042:step:backup", "Step backup"),
        ("jira:version:10042", "jira:PAY:version:10042:step:deploy", "Step deploy"),
    ]
    assert [(c.name, c.target.record, c.on_remove) for c in mapping.children] == [
        ("tasks", "change_task", "close"),
        ("notes", "change_task", "keep"),
    ]


def test_a_release_with_no_issues_left_still_says_how_to_retire_children(load, kit) -> None:
    rendered = load(kit.mapping(body=CHILDREN)).get("rel").render(kit.release([]))
    assert [c.group for c in rendered.children] == ["notes", "notes"]
    assert rendered.on_remove["tasks"].action == "close"


def test_two_items_with_one_identity_fail_the_render(load, kit) -> None:
    text = kit.mapping(
        body="""\
        children:
          tasks:
            for_each: issues
            identity: "task:{{ issue.summary }}"
            target: {system: servicenow, record: change_task}
        """
    )
    mapping = load(text).get("rel")
    same = [kit.issue(1, summary="same"), kit.issue(2, summary="same")]
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release(same))
    assert info.value.field == "children.tasks.identity"
    assert info.value.reason == "'task:same' is rendered for both jira:issue:10001 and jira:issue:10002"


def test_children_mistakes_are_refused_at_load(problems, kit) -> None:
    found = problems(
        kit.mapping(
            body="""\
            children:
              a:
                for_each: issues
                identity: "a:{{ issue.id }}"
                target: {system: remedy}
              b:
                for_each: issues
                identity: "b:{{ issue.id }}"
                target: {system: servicenow, record: change_request}
                on_remove: {action: keep, fields: {close_notes: "{{ issue.key }}"}}
            """
        )
    )
    assert found == [
        "mapping.yaml:11:13: children.a.target: children are written to servicenow, like their parent record",
        "mapping.yaml:15:42: children.b.target.record: a child of a change_request is a change_task",
        "mapping.yaml:16:39: children.b.on_remove.fields: fields are written only with cancel or close",
        "mapping.yaml:16:53: children.b.on_remove.fields.close_notes: 'issue' is not in the context of a "
        "version mapping (available: issues, link, now, project, vars, version); `issue` exists inside "
        "children and in issue-scoped reverse actions",
    ]


def test_child_groups_must_not_share_identities(problems, kit) -> None:
    group = """\
      {name}:
        for_each: issues
        identity: "task:{{{{ issue.id }}}}"
        target: {{system: servicenow, record: change_task}}
"""
    text = kit.mapping(body="children:\n" + group.format(name="a") + group.format(name="b"))
    assert problems(text) == ["mapping.yaml:14:19: children.b.identity: gives 'task:90011' like children.a"]


def test_an_empty_child_identity_fails_the_render(load, kit) -> None:
    text = kit.mapping(
        body="""\
        children:
          tasks:
            for_each: issues
            identity: "{{ '' if issue.summary == 'blank' else 'task:' ~ issue.id }}"
            target: {system: servicenow, record: change_task}
        """
    )
    mapping = load(text).get("rel")
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release([kit.issue(1), kit.issue(2, summary="blank")]))
    assert (info.value.field, info.value.reason) == (
        "children.tasks.identity",
        "the correlation id rendered empty",
    )


def test_tasks_follow_their_change_request_into_its_api(load) -> None:
    mapping = load(
        {
            "release.yaml": """
apiVersion: bridgeline/v1
kind: Mapping
metadata: {name: release}
source: {system: jira, entity: version}
target: {system: servicenow, record: change_request, api: change}
identity: "v{{ version.id }}"
children:
  tasks:
    for_each: issues
    identity: "v{{ version.id }}i{{ issue.id }}"
    target: {system: servicenow, record: change_task}
"""
        }
    ).get("release")
    assert mapping.children[0].target.api == "change"


def test_remedy_changes_have_tasks_and_a_task_is_never_a_top_level_record(load) -> None:
    remedy = load(
        {
            "r.yaml": """
apiVersion: bridgeline/v1
kind: Mapping
metadata: {name: r}
source: {system: jira, entity: version}
target: {system: remedy, record: change}
identity: "v{{ version.id }}"
children:
  tasks:
    for_each: issues
    identity: "v{{ version.id }}i{{ issue.id }}"
    target: {system: remedy, record: task}
"""
        }
    ).get("r")
    assert remedy.children[0].target.record == "task"


def test_a_task_alone_is_refused_with_a_hint(problems) -> None:
    found = problems("""
apiVersion: bridgeline/v1
kind: Mapping
metadata: {name: t}
source: {system: jira, entity: issue}
target: {system: remedy, record: task}
identity: "i{{ issue.id }}"
""")
    assert any("target.record: a task belongs to a change" in p for p in found), found

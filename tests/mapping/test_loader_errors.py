"""Mistakes in mapping files are refused before anything runs: every one, with file:line:column and path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridgeline.errors import ConfigError
from bridgeline.mapping import MappingSetError, Problem, load_mapping_set


def test_an_unknown_key_names_its_line_column_path_and_the_key_meant(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        fields:
          risk:
            value: "{{ issues | max_priority }}"
            mapp: {Highest: "2"}
        """
    )
    assert problems(text) == ["mapping.yaml:10:5: fields.risk.mapp: unknown key 'mapp' (did you mean 'map'?)"]


def test_every_problem_in_every_file_is_reported_at_once(problems, kit) -> None:
    found = problems(
        {
            "a.yaml": kit.mapping("a", "on_eror: skip\n"),
            "b.yaml": kit.mapping("b", "fields: {x: [1, 2]}\n"),
            "c.yaml": "apiVersion: bridgeline/v1\nkind: Mapping\nmetadata: {name: c}\nsource: [\n",
        }
    )
    assert found[:2] == [
        "a.yaml:7:1: on_eror: unknown key 'on_eror' (did you mean 'on_error'?)",
        "b.yaml:7:13: fields.x: a field is a template string, a number, true/false, null, or a mapping "
        "with value/map/default/required/type/max_length",
    ]
    assert found[2].startswith("c.yaml:5:1: malformed YAML: ")
    assert len(found) == 3


def test_the_error_lists_all_problems_and_is_a_config_error(load, kit) -> None:
    with pytest.raises(ConfigError) as info:
        load({"a.yaml": kit.mapping("a", "on_eror: skip\n"), "b.yaml": kit.mapping("b", "on_error: retry\n")})
    error = info.value
    assert isinstance(error, MappingSetError)
    assert all(isinstance(p, Problem) for p in error.problems)
    lines = str(error).splitlines()
    assert len(lines) == 2
    assert lines[1].endswith("b.yaml:7:11: on_error: 'retry' is not one of 'dead_letter', 'skip' or 'fail'")


def test_wrong_types_and_missing_keys(problems, kit) -> None:
    text = """\
    apiVersion: bridgeline/v1
    kind: Mapping
    metadata: {name: x}
    source: {entity: version, projects: PAY}
    target: {system: servicenow}
    fields:
      a: {map: {x: y}}
    children:
      tasks: {for_each: issues, target: {system: servicenow, record: change_task}}
    """
    assert problems(text) == [
        "mapping.yaml:1:1: missing 'identity' (or mark it abstract: true)",
        "mapping.yaml:4:37: source.projects: expected a list, got str 'PAY'",
        "mapping.yaml:7:6: fields.a.value: missing required key 'value'",
        "mapping.yaml:9:10: children.tasks.identity: missing required key 'identity'",
    ]


def test_unknown_targets_and_records_suggest_the_right_word(problems, kit) -> None:
    found = problems(
        {
            "a.yaml": kit.mapping("a").replace("system: servicenow", "system: servicenw"),
            "b.yaml": kit.mapping("b").replace("record: change_request", "record: incident"),
            "c.yaml": kit.mapping("c").replace("entity: version", "entity: versions"),
        }
    )
    assert found == [
        "a.yaml:5:9: target: unknown system 'servicenw' (expected 'servicenow', 'remedy') "
        "(did you mean 'servicenow'?)",
        "b.yaml:5:38: target.record: 'incident' is not one of 'change_request' or 'change_task'",
        "c.yaml:4:32: source.entity: 'versions' is not one of 'version', 'issue' or 'train' "
        "(did you mean 'version'?)",
    ]


def test_target_combinations_that_make_no_sense(problems, kit) -> None:
    found = problems(
        {
            "a.yaml": kit.mapping("a").replace(
                "record: change_request}", "record: change_request, type: standard}"
            ),
            "b.yaml": kit.mapping("b").replace(
                "record: change_request}", "record: change_task, type: normal}"
            ),
        }
    )
    assert found == [
        "a.yaml:5:9: target: a standard change needs 'template' (the standard change template)",
        "b.yaml:5:9: target: a change_task has no type; type belongs to the change_request",
    ]


def test_template_syntax_errors_point_into_block_scalars(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        fields:
          description: |
            Release {{ version.name }}
            {% for issue in issues %}
            - {{ issue.key }
            {% endfor %}
        """
    )
    (found,) = problems(text)
    assert found.startswith("mapping.yaml:11:")
    assert "fields.description: template syntax error" in found


def test_names_outside_the_entity_context_are_refused_with_where_they_exist(problems, kit) -> None:
    found = problems(
        {
            "a.yaml": kit.mapping("a", 'fields: {x: "{{ issue.key }}"}\n'),
            "b.yaml": kit.mapping("b", 'fields: {x: "{{ version.name }}"}\n', entity="issue"),
            "c.yaml": kit.mapping("c", 'fields: {x: "{{ target.state }}"}\n'),
            "d.yaml": kit.mapping("d", 'fields: {x: "{{ verison.name }}"}\n'),
        }
    )
    assert found == [
        "a.yaml:7:13: fields.x: 'issue' is not in the context of a version mapping (available: issues, link, "
        "now, project, vars, version); `issue` exists inside children and in issue-scoped reverse actions",
        "b.yaml:7:13: fields.x: 'version' is not in the context of an issue mapping (available: issue, link, "
        "now, project, vars); an issue mapping reads `issue`; releases are mapped by version mappings",
        "c.yaml:7:13: fields.x: 'target' is not in the context of a version mapping (available: issues, "
        "link, now, project, vars, version); `target` exists only in reverse rules",
        "d.yaml:7:13: fields.x: 'verison' is not in the context of a version mapping "
        "(available: issues, link, now, project, vars, version) (did you mean 'version'?)",
    ]


def test_unknown_keys_of_context_objects_and_of_issues_in_loops(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        fields:
          a: "{{ version.nmae }}"
          b: "{% for i in issues | sort_by_priority %}{{ i.sumary }}{% endfor %}"
          c: "{{ issue.fields.customfield_10010 }}"
        """
    )
    found = problems(text)
    assert found[:2] == [
        "mapping.yaml:8:6: fields.a: version has no key 'nmae' (did you mean 'name'?)",
        "mapping.yaml:9:6: fields.b: i has no key 'sumary' (did you mean 'summary'?)",
    ]
    assert "'issue' is not in the context" in found[2]


def test_unknown_filters_and_tests_get_a_hint(problems, kit) -> None:
    found = problems(
        kit.mapping(
            body="""\
            fields:
              a: "{{ version.description | adf_txt }}"
              b: "{{ 'x' if version.id is numbr }}"
            """
        )
    )
    assert found == [
        "mapping.yaml:8:6: fields.a: unknown filter 'adf_txt' (did you mean 'adf_text'?)",
        "mapping.yaml:9:6: fields.b: unknown test 'numbr' (did you mean 'number'?)",
    ]


def test_conditions_are_bare_expressions(problems, kit) -> None:
    text = kit.mapping().replace("entity: version}", "entity: version, when: '{{ version.released }}'}")
    assert problems(text) == [
        "mapping.yaml:4:47: source.when: conditions are bare expressions: write `version.released` "
        "without the surrounding {{ }}"
    ]


def test_duplicate_names_keys_and_rules(problems, kit) -> None:
    found = problems(
        {
            "a.yaml": kit.mapping("same"),
            "b.yaml": kit.mapping("same"),
            "c.yaml": kit.mapping(
                "c",
                """\
                identity: "c:{{ version.id }}"
                reverse:
                  - {name: r, when: "true", actions: [{comment: hi}]}
                  - {name: r, when: "true", actions: [{comment: ho}]}
                """,
            ),
        }
    )
    assert found == [
        "b.yaml:3:18: metadata.name: duplicate mapping name 'same' (also at a.yaml:3)",
        "c.yaml:7:1: identity: duplicate key 'identity' (written twice here)",
        "c.yaml:10:12: reverse[1].name: duplicate reverse rule name 'r'",
    ]


def test_identities_must_vary_and_must_not_collide(problems, kit) -> None:
    found = problems(
        {
            "a.yaml": kit.mapping("a"),
            "b.yaml": kit.mapping("b"),
            "c.yaml": kit.mapping("c").replace(":version:{{ version.id }}", ""),
            "d.yaml": kit.mapping(
                "d",
                """\
                children:
                  tasks:
                    for_each: issues
                    identity: "d:{{ version.id }}:task"
                    target: {system: servicenow, record: change_task}
                """,
            ).replace('"jira:', '"d:'),
        }
    )
    assert found == [
        "b.yaml:6:11: identity: collides with mapping 'a' (a.yaml:1, identity): both give "
        "'jira:PRJ:version:10001' for the same Jira entity; make the identities differ or the "
        "source.projects disjoint",
        "c.yaml:6:11: identity: renders 'jira:PRJ' for every release: each release needs its own "
        "correlation id",
        "d.yaml:10:15: children.tasks.identity: renders 'd:10001:task' for every item: each needs its own",
    ]


def test_disjoint_projects_may_share_an_identity_template(load, kit) -> None:
    loaded = load(
        {
            "a.yaml": kit.mapping("a").replace("entity: version}", "entity: version, projects: [PAY]}"),
            "b.yaml": kit.mapping("b").replace("entity: version}", "entity: version, projects: [WEB]}"),
        }
    )
    assert [m.name for m in loaded.mappings] == ["a", "b"]


def test_bad_extends(problems, kit) -> None:
    found = problems(
        {
            "a.yaml": kit.mapping("a", "extends: servicenow-relase\n"),
            "b.yaml": kit.mapping("b", "extends: c\n"),
            "c.yaml": kit.mapping("c", "extends: b\n"),
            "d.yaml": kit.mapping("servicenow-release", 'identity: "x:{{ version.id }}"\n'),
        }
    )
    assert found[0] == (
        "a.yaml:7:10: extends: no mapping named 'servicenow-relase' (did you mean 'servicenow-release'?)"
    )
    assert found[1] == "b.yaml:7:10: extends: extends goes round in a circle: b -> c -> b"
    assert found[2] == "c.yaml:7:10: extends: extends goes round in a circle: c -> b -> c"


def test_a_value_map_named_in_vars_must_exist(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        vars:
          risk_by_priority: {Highest: "2"}
        fields:
          risk: {value: "{{ issues | max_priority }}", map: risk_by_prio}
        """
    )
    assert problems(text) == [
        "mapping.yaml:10:53: fields.risk.map: no map named 'risk_by_prio' in vars "
        "(did you mean 'risk_by_priority'?)"
    ]


def test_release_actions_need_a_release(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        reverse:
          - name: done
            when: target.state == "closed"
            actions:
              - release_version: true
        """,
        entity="issue",
    )
    assert problems(text) == [
        "mapping.yaml:11:26: reverse[0].actions[0].release_version: release_version needs a release: "
        "it is only available in version mappings"
    ]


def test_an_action_does_one_thing(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        reverse:
          - name: r
            when: target.approval == "approved"
            actions:
              - {transition: Done, comment: "ok"}
              - {coment: "ok"}
        """
    )
    found = problems(text)
    kinds = (
        "transition, comment, remote_link, label, field, issue_property, release_version, "
        "version_description, version_property"
    )
    assert found == [
        f"mapping.yaml:11:9: reverse[0].actions[0]: an action is a mapping with exactly one of: {kinds}",
        f"mapping.yaml:12:9: reverse[0].actions[1]: an action is a mapping with exactly one of: {kinds}",
    ]


def test_a_required_template_has_no_default_borrowed_from_another_field(problems, kit) -> None:
    # a remote link's title defaults to the change's number; a property's key has no default
    text = kit.mapping(
        body="""\
        reverse:
          - name: r
            when: target.approval == "approved"
            actions:
              - remote_link: {}
              - version_property: {value: "{{ link.number }}"}
        """
    )
    assert problems(text) == [
        "mapping.yaml:12:27: reverse[0].actions[1].version_property.key: missing required key 'key'"
    ]


def test_yaml_1_1_surprises_are_off(load, kit) -> None:
    text = kit.mapping(
        body="""\
        vars: {release: 2024-05-03, flag: yes}
        fields:
          a: "{{ vars.release }}"
          b: "{{ vars.flag }}"
        """
    ).replace("entity: version}", "entity: version, projects: [NO, ON]}")
    mapping = load(text).get("rel")
    assert mapping.source.projects == ("NO", "ON")
    rendered = mapping.render({**_ctx(), "project": {"key": "NO"}})
    assert rendered.fields == {"a": "2024-05-03", "b": "yes"}


def test_missing_paths_and_non_mapping_documents(tmp_path: Path, write) -> None:
    write("list.yaml", "- just\n- a list\n")
    with pytest.raises(MappingSetError) as info:
        load_mapping_set([tmp_path, tmp_path / "nope"])
    assert [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems] == [
        "list.yaml:1:1: a mapping document is a mapping of keys to values",
        "nope:1:1: no such file or directory",
    ]


def test_fixture_folders_and_hidden_files_are_not_mappings(load, write, kit) -> None:
    write("fixtures/input.yaml", "version: {id: '1'}\n")
    write(".draft/x.yaml", "not: a mapping\n")
    assert [m.name for m in load(kit.mapping()).mappings] == ["rel"]


def _ctx() -> dict:
    from datetime import UTC, datetime

    from bridgeline.mapping import version_context

    return version_context({"id": "1", "name": "1.0"}, {"key": "NO"}, [], datetime(2024, 1, 1, tzinfo=UTC))


def test_gate_and_deployment_rules_are_checked_with_their_place(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        gate:
          window: sometimes
          freezes:
            - {from: "2026-12-24", until: "2026-12-20", reason: Christmas}
        deployments:
          - name: started
            states: [begun]
            change:
              work_notes: "{{ deployment.run_link }}"
        """
    )
    found = problems(text)
    assert any("gate.window" in p and ":8:" in p for p in found), found
    assert (
        "mapping.yaml:10:7: gate.freezes[0]: the freeze ends (2026-12-20) before it begins (2026-12-24)"
        in found
    )
    assert any(
        p.startswith("mapping.yaml:13:14: deployments[0].states[0]: 'begun' is not one of") for p in found
    )


def test_deployment_templates_read_only_what_they_may(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        deployments:
          - name: started
            states: [started]
            change:
              work_notes: "{{ deployment.run_link }}"
        """
    )
    [problem] = problems(text)
    assert problem.startswith("mapping.yaml:11:") and "deployments[0].change.work_notes" in problem
    assert "run_link" in problem


def test_deployment_rules_need_a_release(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        deployments:
          - name: started
            states: [started]
        """,
        entity="issue",
    )
    [problem] = problems(text)
    assert "deployment rules need a release" in problem

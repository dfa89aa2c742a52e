"""The MappingSet the engine holds: lookup, what Jira fields to fetch, fingerprint, safe reloading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridgeline.errors import ConfigError
from bridgeline.mapping import MappingSetError, load_mapping_set

ROOT = Path(__file__).resolve().parents[2]


def test_lookup_and_sources() -> None:
    mappings = load_mapping_set([ROOT / "mappings"])
    assert [m.name for m in mappings.for_source(system="jira", entity="version")] == [
        "remedy-release",
        "servicenow-release",
    ]
    assert [m.name for m in mappings.for_source(system="jira", entity="issue")] == ["servicenow-hotfix"]
    assert mappings.for_source(system="servicenow", entity="change_request") == []
    hotfix = mappings.get("servicenow-hotfix")
    assert (hotfix.source.entity, hotfix.source.labels, hotfix.target.type) == (
        "issue",
        ("hotfix",),
        "emergency",
    )
    assert hotfix.on_error == "dead_letter"
    assert "servicenow-hotfix" in mappings and len(mappings) == 4
    with pytest.raises(KeyError, match="did you mean 'servicenow-hotfix'"):
        mappings.get("servicenow-hotfx")


def test_jira_fields_lists_what_the_templates_read() -> None:
    fields = load_mapping_set([ROOT / "mappings"]).jira_fields(entity="issue")
    assert fields is not None
    assert {"summary", "issuetype", "status", "priority", "components", "description", "resolution"} <= fields
    assert "customfield_10050" in fields  # the hotfix justification
    assert "assignee" in fields and "reporter" in fields
    assert "worklog" not in fields and "attachment" not in fields


def test_jira_fields_is_none_when_a_template_reads_all_fields(load, kit) -> None:
    loaded = load(
        kit.mapping(
            body="""\
            children:
              tasks:
                for_each: issues
                identity: "t:{{ issue.id }}"
                target: {system: servicenow, record: change_task}
                fields:
                  dump: "{{ issue.fields | tojson }}"
            """
        )
    )
    assert loaded.jira_fields(entity="issue") is None
    assert loaded.jira_fields(entity="version") is None


def test_jira_fields_follow_custom_fields_and_filter_arguments(load, kit) -> None:
    loaded = load(
        kit.mapping(
            body="""\
            fields:
              points: "{{ issues | map(attribute='fields.customfield_10020') | sum }}"
              by_team: "{{ issues | count_by('fields.customfield_10030') }}"
              due: "{{ issues | pluck('due_date') | join(',') }}"
            """
        )
    )
    fields = loaded.jira_fields(entity="issue")
    assert fields is not None
    assert {"customfield_10020", "customfield_10030", "duedate"} <= fields
    assert "priority" not in fields


def test_the_fingerprint_changes_with_any_file(tmp_path: Path, write, kit) -> None:
    write("a.yaml", kit.mapping("a"))
    write("b.yaml", kit.mapping("b").replace("jira:", "b:"))
    first = load_mapping_set([tmp_path]).fingerprint
    assert load_mapping_set([tmp_path]).fingerprint == first
    write("b.yaml", kit.mapping("b").replace("jira:", "b:") + "# a comment\n")
    assert load_mapping_set([tmp_path]).fingerprint != first


def test_loading_is_side_effect_free_so_a_bad_reload_keeps_the_old_set(tmp_path: Path, write, kit) -> None:
    write("a.yaml", kit.mapping("a", 'fields: {x: "old {{ version.name }}"}\n'))
    live = load_mapping_set([tmp_path])
    write("a.yaml", kit.mapping("a", 'fields: {x: "{{ version.name | nope }}"}\n'))
    with pytest.raises(MappingSetError):
        load_mapping_set([tmp_path])
    assert live.get("a").render(kit.release()).fields == {"x": "old 1.4.0"}
    write("a.yaml", kit.mapping("a", 'fields: {x: "new {{ version.name }}"}\n'))
    new = load_mapping_set([tmp_path])
    assert new.get("a").render(kit.release()).fields == {"x": "new 1.4.0"}
    assert live.get("a").render(kit.release()).fields == {"x": "old 1.4.0"}


def test_a_file_named_twice_is_read_once(tmp_path: Path, write, kit) -> None:
    path = write("a.yaml", kit.mapping("a"))
    loaded = load_mapping_set([tmp_path, path])
    assert [m.name for m in loaded.mappings] == ["a"]
    assert loaded.files == (str(tmp_path / "a.yaml"),)


def test_the_public_surface() -> None:
    import bridgeline.mapping as public

    assert sorted(public.__all__) == [
        "ChildSpec", "DeploymentPlan", "GateSpec", "Mapping", "MappingSet", "MappingSetError", "MappingTest",
        "Problem", "RemovePolicy", "Rendered", "RenderedChild", "ReverseAction", "SourceSpec", "TargetSpec",
        "environment_matches", "issue_context", "json_schema", "load_mapping_set", "normalize_issue",
        "release_page", "split_child_key", "train_context", "train_level", "version_context",
    ]  # fmt: skip
    assert all(hasattr(public, name) for name in public.__all__)
    assert issubclass(public.MappingSetError, ConfigError)


def test_a_mapping_says_why_it_does_not_apply(kit: Any, load: Any) -> None:
    from bridgeline.mapping import version_context

    source = "entity: version, projects: [PAY, WEB], when: 'version.released'}"
    mapping = load(kit.mapping().replace("entity: version}", source)).get("rel")
    now = kit.now
    version = {"id": "1", "name": "1.0", "released": False, "projectId": 10000}
    assert "names no project" in (mapping.why_not(version_context(version, None, [], now)) or "")
    assert mapping.why_not(version_context(version, {"key": "OPS"}, [], now)) == (
        "source.projects is [PAY, WEB]; the input's project is OPS"
    )
    assert mapping.why_not(version_context(version, {"key": "PAY"}, [], now)) == (
        "source.when is false for this input: version.released"
    )
    released = {**version, "released": True}
    assert mapping.why_not(version_context(released, {"key": "PAY"}, [], now)) is None

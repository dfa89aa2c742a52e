"""Templates are cost-bounded: what would hang or exhaust memory is refused at load when it reads nothing
from the entity, and at render time otherwise, with an error naming the mapping, the field and the limit."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bridgeline.errors import RenderError
from bridgeline.mapping import MappingSetError, load_mapping_set
from bridgeline.mapping._budget import Limits

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"

# (template, words of the problem) - each hangs, or takes seconds and gigabytes, without a budget
LITERAL = [
    ("{{ 9**(9**9) }}", "9 ** 387420489 would make a number of about 369,693,100 digits"),
    ("{{ 'a' * 10**9 }}", "'a' * 1000000000 would make 1,000,000,000 characters"),
    ("{{ [0] * 10**9 }}", "would make 1,000,000,000 items"),
    ("{{ '%999999999s' % 'a' }}", "'%999999999s' % ... would make 1,000,000,013 characters"),
    ("{{ 'a' | center(999999999) }}", "center(999999999) would make 999,999,999 characters"),
    ("{{ 'a'.ljust(999999999) }}", "ljust(999999999) would make"),
    ("{{ 'a'.zfill(999999999) }}", "zfill(999999999) would make"),
    ("{{ '{:>999999999}'.format('a') }}", "the format '>999999999' would make"),
    ("{{ '%.999999999f' | format(1.0) }}", "format() would make"),
    ("{{ 'a' | indent(999999999) }}", "indent(999999999) would make"),
    ("{{ range(100000) | join('x' * 100000) }}", "join() of 100,000 items would make"),
    ("{{ range(9) | batch(999999999, 0) | list }}", "batch(999999999) with a filler would make"),
    ("{{ [1] | slice(999999999) | list }}", "slice(999999999) would make 999,999,999 items"),
    ("{{ 'ab' | replace('', 'x' * 10**7) }}", "replace() would make 30,000,002 characters"),
    ("{{ range(10**7) | list }}", "range too big: range(10000000) holds 10,000,000 numbers"),
    ("{{ range(100000) | map('center', 1000) | list | length }}", "past its limit of 20,000,000 characters"),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "the render took more than 2 s of CPU time",
    ),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
        "the render",
    ),
    (
        "{% macro twice(n) %}{% if n %}{{ twice(n - 1) }}{{ twice(n - 1) }}{% endif %}{% endmacro %}"
        "{{ twice(60) }}",
        "the render took more than 2 s of CPU time",
    ),
]


def _field(template: str) -> str:
    return "fields:\n  x: " + '"' + template.replace("\\", "\\\\").replace('"', '\\"') + '"\n'


@pytest.mark.parametrize(("template", "expected"), LITERAL, ids=[t for t, _ in LITERAL])
def test_a_literal_over_the_budget_is_refused_at_load_naming_file_line_and_field(
    problems, kit, template: str, expected: str
) -> None:
    started = time.monotonic()
    (found,) = problems(kit.mapping(body=_field(template)))
    assert found.startswith("mapping.yaml:8:6: fields.x: ")  # the file, the field's line, the field
    assert expected in found
    assert time.monotonic() - started < 10


def test_a_literal_part_of_a_template_that_reads_the_entity_is_tried_at_load(problems, kit) -> None:
    (found,) = problems(kit.mapping(body=_field("{{ version.name if version.released else 'a' * 10**9 }}")))
    assert "fields.x: 'a' * 1000000000 would make 1,000,000,000 characters" in found


def test_a_costly_literal_is_refused_at_its_own_line_of_a_block_template(problems, kit) -> None:
    body = """\
    fields:
      description: |
        Release {{ version.name }}
        {{ issues | length }} issues
        {{ '-' * 10**9 }}
    """
    (found,) = problems(kit.mapping(body=body))
    assert found.startswith("mapping.yaml:9:")  # the template's third line
    assert "fields.description: '-' * 1000000000 would make" in found


def test_conditions_are_cost_bounded_at_load_too(problems, kit) -> None:
    text = kit.mapping().replace("entity: version}", "entity: version, when: '9 ** (9 ** 9) > 1'}")
    (found,) = problems(text)
    assert "source.when: 9 ** 387420489 would make a number" in found


def test_templates_that_cannot_be_read_are_problems_not_tracebacks(problems, kit) -> None:
    (long_number,) = problems(kit.mapping(body=_field("{{ " + "9" * 5000 + " }}")))
    assert "fields.x: template syntax error: Exceeds the limit (4300 digits)" in long_number
    (nested,) = problems(kit.mapping(body=_field("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")))
    assert "fields.x: the template is nested too deeply to compile" in nested


def test_an_identity_too_costly_on_a_sample_release_is_refused_at_load(problems, kit) -> None:
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    text = kit.mapping().replace('identity: "', f'identity: "{loops}')
    started = time.monotonic()
    (found,) = problems(text)
    assert "identity: on a sample entity: the render took more than 2 s of CPU time" in found
    assert time.monotonic() - started < 10


# --- at render time: the entity's own values ------------------------------------------------------

RUNTIME = [
    ("{{ (issues | length + 9) ** 999999999 }}", "11 ** 999999999 would make a number of about"),
    ("{{ version.name * 10**9 }}", "'1.4.0' * 1000000000 would make 5,000,000,000 characters"),
    ("{{ '%999999999s' % version.name }}", "'%999999999s' % ... would make 1,000,000,017 characters"),
    ("{{ version.name | center(999999999) }}", "center(999999999) would make 999,999,999 characters"),
    ("{{ version.name.rjust(999999999) }}", "rjust(999999999) would make"),
    ("{{ ('%' ~ issues | length ~ '00000000s') | format(version.name) }}", "format() would make"),
    ("{{ version.name | indent(10**9) }}", "indent(1000000000) would make"),
    ("{{ version.name | list | join(version.name * 10**6) }}", "join() of 5 items would make"),
    ("{{ issues | batch(10**9, version.name) | list }}", "batch(1000000000) with a filler"),
    ("{{ issues | slice(10**9) | list }}", "slice(1000000000) would make"),
    ("{{ range(issues | length * 10**6) | list }}", "range too big"),
    (
        "{{ ([[version.name] * 1000] * 30000) | sum(start=[]) }}",
        "sum() of 30,000 lists would make 30,000,000 items",
    ),
    (
        "{% set a = version.name * 3000000 %}{{ a ~ a }}",
        "joining texts with ~ would make 30,000,000 characters",
    ),
]


@pytest.mark.parametrize(("template", "expected"), RUNTIME, ids=[t for t, _ in RUNTIME])
def test_a_render_over_the_budget_fails_naming_mapping_field_and_limit(
    load, kit, template: str, expected: str
) -> None:
    mapping = load(kit.mapping(body=_field(template))).get("rel")
    started = time.monotonic()
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release())
    assert (info.value.mapping, info.value.field) == ("rel", "fields.x")
    assert expected in info.value.reason
    assert time.monotonic() - started < 5


def _small(load_limits: Limits, text: str, tmp_path: Path) -> Any:
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    return load_mapping_set([tmp_path], limits=load_limits).get("rel")


def test_loops_over_the_entity_stop_at_the_cpu_limit(kit, tmp_path: Path) -> None:
    loops = (
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ version.name }}{% endfor %}{% endfor %}"
    )
    mapping = _small(Limits(cpu_seconds=0.2), kit.mapping(body=_field(loops)), tmp_path)
    started = time.thread_time()
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release())
    assert "the render took more than 0.2 s of CPU time" in info.value.reason
    assert time.thread_time() - started < 1.5


def test_characters_count_everything_a_render_makes(kit, tmp_path: Path) -> None:
    text = kit.mapping(body=_field("{% for i in issues %}{{ version.name * 400 }}{% endfor %}"))
    # twice 2,000 characters made by `*`, the same again as output, and the identity's 8
    assert _small(Limits(characters=8008), text, tmp_path).render(kit.release()).fields["x"]
    mapping = _small(Limits(characters=8007), text, tmp_path)
    with pytest.raises(RenderError, match="past its limit of 8,007 characters"):
        mapping.render(kit.release())


def test_text_written_in_a_loop_body_counts(kit, tmp_path: Path) -> None:
    text = kit.mapping(body=_field("{% for i in issues %}" + "x" * 3000 + "{% endfor %}"))
    with pytest.raises(RenderError, match="the loop would take the render past its limit"):
        _small(Limits(characters=5000), text, tmp_path).render(kit.release())


def test_each_record_has_its_own_budget(kit, tmp_path: Path) -> None:
    body = """\
    fields:
      x: "{{ version.name * 700 }}"
    children:
      tasks:
        for_each: issues
        identity: "t:{{ issue.id }}"
        target: {system: servicenow, record: change_task}
        fields:
          y: "{{ issue.key * 400 }}{{ (issue.key * 900) if issue.key == 'PAY-2' else '' }}"
    """
    mapping = _small(Limits(characters=8000), kit.mapping(body=body), tmp_path)
    rendered = mapping.render(kit.release([kit.issue(1)]))  # 7,000 + 4,000 characters: two budgets
    assert len(rendered.children) == 1
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release([kit.issue(1), kit.issue(2)]))
    assert info.value.field == "children.tasks.fields.y"
    assert "past its limit of 8,000 characters" in info.value.reason


def test_conditions_and_reverse_rules_are_bounded_too(load, kit) -> None:
    body = """\
    reverse:
      - name: r
        when: "target.state * 10**9"
        actions: [{comment: hi}]
    """
    text = kit.mapping(body=body).replace(
        "entity: version}", 'entity: version, when: "version.name * 10**9"}'
    )
    mapping = load(text).get("rel")
    with pytest.raises(RenderError, match=r"source\.when.*would make 5,000,000,000 characters"):
        mapping.applies(kit.release())
    with pytest.raises(RenderError, match=r"reverse\.r\.when.*'authorize' \* 1000000000 would make"):
        mapping.reverse({**kit.release(), "target": kit.target()})


def test_a_release_of_two_thousand_issues_renders_well_within_the_budget(kit) -> None:
    from bridgeline.mapping import version_context

    mapping = load_mapping_set([SHIPPED]).get("servicenow-release")
    description = {
        "type": "doc",
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "w " * 1500}]}],
    }
    issues = [
        {
            "id": str(20000 + n),
            "key": f"PAY-{n}",
            "fields": {
                "summary": f"Issue {n} of the big release",
                "issuetype": {"name": "Story"},
                "status": {"name": "In Review", "statusCategory": {"key": "indeterminate"}},
                "priority": {"name": ("High", "Medium", "Low")[n % 3]},
                "components": [{"name": "Payments"}],
                "description": description,
            },
        }
        for n in range(2000)
    ]
    version = {
        "id": "10042",
        "name": "1.4.0",
        "released": False,
        "archived": False,
        "releaseDate": "2024-05-03",
    }
    ctx = version_context(version, {"id": "1", "key": "PAY", "name": "Payments"}, issues, kit.now)
    started = time.thread_time()
    rendered = mapping.render(ctx)
    assert len(rendered.children) == 2000
    assert time.thread_time() - started < Limits().cpu_seconds / 4


def test_ordinary_templates_behave_as_before(load, kit) -> None:
    body = """\
    fields:
      a: "{{ 'x' * 3 }}-{{ 2 ** 10 }}-{{ '%05.1f' % 3.14159 }}-{{ '{:>4}'.format('ab') }}"
      b: "{{ issues | map(attribute='key') | join(', ') }}|{{ [[1], [2]] | sum(start=[]) }}"
      b2: "{{ range(3) | list }}"
      c: "{% for i in issues %}{{ loop.index }}/{{ loop.length }} {% endfor %}|{{ 'a' ~ 1 ~ none }}"
      d: "<{{ 'ab' | center(6) }}>|{{ 'a\\nb' | indent(2, true) }}|{{ range(5) | batch(2, 0) | list }}"
      e: "{{ [1, 2, 1, [3], [3]] | unique_values }}|{{ range(3) | slice(2) | list }}"
      e2: "{{ 'aXa' | replace('a', 'bb') }}"
    """
    fields = load(kit.mapping(body=body)).get("rel").render(kit.release()).fields
    assert fields["a"] == "xxx-1024-003.1-  ab"
    assert (fields["b"], fields["b2"]) == ("PAY-1, PAY-2|[1, 2]", "[0, 1, 2]")
    assert fields["c"] == "1/2 2/2 |a1None"
    assert fields["d"] == "<  ab  >|  a\n  b|[[0, 1], [2, 3], [4, 0]]"
    assert (fields["e"], fields["e2"]) == ("[1, 2, [3]]|[[0, 1], [2]]", "bbXbb")


@pytest.mark.parametrize(
    "template",
    ["{{ 9**(9**9) }}", "{{ 'a' * 10**9 }}", "{{ '%999999999s' % 'a' }}", "{{ 'a' | center(999999999) }}"],
)
def test_mappings_validate_returns_within_seconds_with_the_error(tmp_path: Path, kit, template: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(kit.mapping(body=_field(template)), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bridgeline.cli", "mappings", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert f"{path}:8:6: fields.x: " in done.stderr
    assert "would make" in done.stderr


def test_the_budget_is_the_engine_s_own_when_loading_fails_everything_is_reported(
    kit, tmp_path: Path
) -> None:
    body = _field("{{ 'a' * 10**9 }}") + '  y: "{{ 9 ** (9 ** 9) }}"\n'
    (tmp_path / "m.yaml").write_text(kit.mapping(body=body), encoding="utf-8")
    with pytest.raises(MappingSetError) as info:
        load_mapping_set([tmp_path])
    assert [p.path for p in info.value.problems] == ["fields.x", "fields.y"]

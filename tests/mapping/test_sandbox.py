"""Templates run in an immutable sandbox: escapes are refused at load when visible, at render otherwise."""

from __future__ import annotations

import pytest

from bridgeline.errors import RenderError

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ version['__class__'] }}",
    "{{ version | attr('__class__') }}",
    "{{ now.__class__.__init__.__globals__ }}",
    "{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_statically_visible_escapes_are_refused_at_load(problems, kit, template: str) -> None:
    (found,) = problems(kit.mapping(body=f"fields:\n  x: {_quoted(template)}\n"))
    assert "fields.x:" in found
    assert "not allowed" in found


def _quoted(template: str) -> str:
    return '"' + template.replace('"', '\\"') + '"'


def test_an_escape_built_at_render_time_is_refused_by_the_sandbox(load, kit) -> None:
    text = kit.mapping(
        body="""\
        vars: {u: "_"}
        fields:
          x: "{{ version | attr(vars.u ~ vars.u ~ 'class' ~ vars.u ~ vars.u) }}"
        """
    )
    mapping = load(text).get("rel")
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release())
    assert info.value.mapping == "rel"
    assert info.value.field == "fields.x"
    assert "refused by the sandbox" in info.value.reason


FORMAT_ESCAPES = [
    "{{ '{0.__class__.__mro__}'.format(version) }}",
    "{{ ('{0.__class__.__mro__}' | attr('format'))(version) }}",
    "{{ '{x.__class__}'.format_map({'x': version}) }}",
    "{% set f = '{0.__init__.__globals__}'.format %}{{ f(version) }}",
]


@pytest.mark.parametrize("template", FORMAT_ESCAPES)
def test_format_strings_cannot_reach_private_attributes(load, kit, template: str) -> None:
    """A replacement field walks attributes (``{0.__class__}``): the sandbox's formatter checks each."""
    mapping = load(kit.mapping(body=f"fields:\n  x: {_quoted(template)}\n")).get("rel")
    with pytest.raises(RenderError, match="refused by the sandbox"):
        mapping.render(kit.release())


@pytest.mark.parametrize("template", ["{{ issues.append(1) }}", "{{ project.raw.update({}) }}"])
def test_templates_cannot_change_the_context(load, kit, template: str) -> None:
    mapping = load(kit.mapping(body=f'fields:\n  x: "{template}"\n')).get("rel")
    ctx = kit.release()
    with pytest.raises(RenderError, match="refused by the sandbox"):
        mapping.render(ctx)
    assert len(ctx["issues"]) == 2


def test_huge_ranges_are_refused(load, kit) -> None:
    body = 'fields:\n  x: "{{ range(issues | length * 5000000) | length }}"\n'
    mapping = load(kit.mapping(body=body)).get("rel")
    with pytest.raises(RenderError, match=r"(?i)range too big"):
        mapping.render(kit.release())


def test_only_a_reduced_set_of_globals_exists(problems, kit) -> None:
    found = problems(kit.mapping(body='fields:\n  x: "{{ lipsum() }}{{ cycler(1) }}{{ joiner() }}"\n'))
    assert len(found) == 1
    assert "'cycler' is not in the context" in found[0]


def test_plain_strings_are_not_templates(load, kit) -> None:
    mapping = load(kit.mapping(body="fields:\n  x: 'Braces } and { and % are text'\n")).get("rel")
    assert mapping.render(kit.release()).fields["x"] == "Braces } and { and % are text"

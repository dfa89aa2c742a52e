"""Every filter mapping authors get, exercised through a template as a mapping would use it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgeline.errors import RenderError
from bridgeline.mapping import Mapping, load_mapping_set, version_context

NOW = datetime(2024, 4, 29, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def compile_field(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Mapping]:
    """A mapping whose field ``x`` is ``template``; vars hold a few tables for the filters."""
    folder = tmp_path_factory.mktemp("filters")
    cache: dict[str, Mapping] = {}

    def _compile(template: str) -> Mapping:
        if template not in cache:
            path = folder / f"m{len(cache)}.yaml"
            path.write_text(
                "apiVersion: bridgeline/v1\nkind: Mapping\n"
                f"metadata: {{name: m{len(cache)}}}\n"
                "source: {entity: version}\n"
                "target: {system: servicenow}\n"
                f'identity: "m{len(cache)}:{{{{ version.id }}}}"\n'
                "vars:\n"
                "  holidays: ['2024-05-01', '2024-05-09']\n"
                "  risk: {Highest: '1', High: '2'}\n"
                f"fields:\n  x: {json.dumps(template)}\n",
                encoding="utf-8",
            )
            cache[template] = load_mapping_set([path]).get(f"m{len(cache)}")
        return cache[template]

    return _compile


@pytest.fixture
def render(compile_field: Callable[[str], Mapping]) -> Callable[..., str]:
    """``render(template, value=..., issues=[...])``: ``value`` is reachable as ``version.raw.value``."""

    def _render(template: str, value: Any = None, issues: list[dict[str, Any]] | None = None) -> str:
        ctx = version_context({"id": "1", "name": "1.0", "value": value}, {"key": "PAY"}, issues or [], NOW)
        return str(compile_field(template).render(ctx).fields["x"])

    return _render


ADF = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Rollout"}]},
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "Use "},
                {"type": "text", "text": "vault", "marks": [{"type": "strong"}]},
                {"type": "text", "text": " via "},
                {
                    "type": "text",
                    "text": "the guide",
                    "marks": [{"type": "link", "attrs": {"href": "https://g.example"}}],
                },
                {"type": "hardBreak"},
                {"type": "mention", "attrs": {"id": "abc", "text": "@Jane"}},
                {"type": "text", "text": " "},
                {"type": "emoji", "attrs": {"shortName": ":tada:", "text": "🎉"}},
            ],
        },
        {
            "type": "orderedList",
            "content": [
                {
                    "type": "listItem",
                    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}],
                },
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "two"}]},
                        {
                            "type": "bulletList",
                            "content": [
                                {
                                    "type": "listItem",
                                    "content": [
                                        {"type": "paragraph", "content": [{"type": "text", "text": "nested"}]}
                                    ],
                                }
                            ],
                        },
                    ],
                },
            ],
        },
        {
            "type": "codeBlock",
            "attrs": {"language": "sql"},
            "content": [{"type": "text", "text": "select 1;"}],
        },
        {
            "type": "blockquote",
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "quoted"}]}],
        },
        {
            "type": "table",
            "content": [
                {
                    "type": "tableRow",
                    "content": [
                        {
                            "type": "tableHeader",
                            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "env"}]}],
                        },
                        {
                            "type": "tableHeader",
                            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "when"}]}],
                        },
                    ],
                },
                {
                    "type": "tableRow",
                    "content": [
                        {
                            "type": "tableCell",
                            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "prod"}]}],
                        },
                        {
                            "type": "tableCell",
                            "content": [
                                {
                                    "type": "paragraph",
                                    "content": [{"type": "date", "attrs": {"timestamp": "1714694400000"}}],
                                }
                            ],
                        },
                    ],
                },
            ],
        },
        {
            "type": "paragraph",
            "content": [
                {"type": "status", "attrs": {"text": "DONE"}},
                {"type": "text", "text": " "},
                {"type": "inlineCard", "attrs": {"url": "https://x.example/1"}},
            ],
        },
    ],
}


def test_adf_to_plain_text(render) -> None:
    assert render("{{ version.raw.value | adf_text }}", ADF) == (
        "Rollout\n\n"
        "Use vault via the guide\n@Jane 🎉\n\n"
        "1. one\n2. two\n   - nested\n\n"
        "select 1;\n\n"
        "quoted\n\n"
        "env | when\nprod | 2024-05-03\n\n"
        "DONE https://x.example/1"
    )


def test_adf_to_markdown(render) -> None:
    assert render("{{ version.raw.value | adf_markdown }}", ADF) == (
        "## Rollout\n\n"
        "Use **vault** via [the guide](https://g.example)\n@Jane 🎉\n\n"
        "1. one\n2. two\n   - nested\n\n"
        "```sql\nselect 1;\n```\n\n"
        "> quoted\n\n"
        "| env | when |\n| --- | --- |\n| prod | 2024-05-03 |\n\n"
        "DONE <https://x.example/1>"
    )


def test_task_lists_and_expands(render) -> None:
    doc = {
        "type": "doc",
        "content": [
            {
                "type": "taskList",
                "content": [
                    {
                        "type": "taskItem",
                        "attrs": {"state": "DONE"},
                        "content": [{"type": "text", "text": "backup"}],
                    },
                    {
                        "type": "taskItem",
                        "attrs": {"state": "TODO"},
                        "content": [{"type": "text", "text": "deploy"}],
                    },
                ],
            },
            {
                "type": "expand",
                "attrs": {"title": "Details"},
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hidden"}]}],
            },
        ],
    }
    assert (
        render("{{ version.raw.value | adf_text }}", doc) == "- [x] backup\n- [ ] deploy\n\nDetails\n\nhidden"
    )


WIKI = """h2. Rollout
Use *vault* via [the guide|https://g.example] and {{monospace}}, _not_ -old- +new+.
* first
** nested
# one
# two
{code:sql}
select *from t;
{code}
{panel:title=Note}careful{panel}
||env||when||
|prod|Friday|
!diagram.png|thumbnail!
bq. quoted
line\\\\break [~jdoe] [https://bare.example]"""


def test_wiki_markup_to_plain_text(render) -> None:
    assert render("{{ version.raw.value | wiki_text }}", WIKI) == (
        "Rollout\n"
        "Use vault via the guide (https://g.example) and monospace, not old new.\n"
        "- first\n  - nested\n1. one\n2. two\n"
        "select *from t;\n"
        "careful\n"
        "env | when\nprod | Friday\n\n"
        "quoted\n"
        "line\nbreak jdoe https://bare.example"
    )


def test_plain_text_reads_either_form(render) -> None:
    template = "{{ version.raw.value | plain_text }}"
    assert render(template, {"type": "doc", "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "from ADF"}]}]}) == "from ADF"  # fmt: skip
    assert render(template, "*from* wiki") == "from wiki"
    assert render(template, None) == ""


odd_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["type", "content", "text", "attrs", "marks", "level", "href", "state", "x"]),
        children | st.sampled_from(["doc", "paragraph", "text", "bulletList", "listItem", "table", "tableRow",
                                    "heading", "codeBlock", "mention", "link", "strong", "taskItem", "date"]),
        max_size=5,
    ),
    max_leaves=25,
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=odd_json)
def test_rich_text_filters_never_crash_on_odd_documents(render, doc: Any) -> None:
    out = render("{{ version.raw.value | adf_text }}|{{ version.raw.value | adf_markdown }}|"
                 "{{ version.raw.value | plain_text }}", doc)  # fmt: skip
    assert isinstance(out, str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("ab *_-+^~?{}[]|!#h1.\\\n:")), max_size=60))
def test_wiki_text_never_crashes(render, text: str) -> None:
    assert isinstance(render("{{ version.raw.value | wiki_text }}", text), str)


@pytest.mark.parametrize(
    ("value", "filter_", "expected"),
    [
        ("2017-11-16T18:28:14.672+0800", "snow_datetime", "2017-11-16 10:28:14"),
        ("2024-05-01", "snow_datetime", "2024-05-01 00:00:00"),
        ("2024-05-01", "snow_datetime('Europe/Berlin')", "2024-04-30 22:00:00"),
        ("2024-05-01 10:00:00", "snow_datetime", "2024-05-01 10:00:00"),
        ("2024-05-01T10:00:00Z", "remedy_datetime", "2024-05-01T10:00:00.000+0000"),
        ("2017-11-16T18:28:14.672+0800", "remedy_datetime", "2017-11-16T10:28:14.672+0000"),
        ("2024-05-01", "remedy_datetime", "2024-05-01T00:00:00.000+0000"),
        ("2024-05-01T23:30:00Z", "jira_date", "2024-05-01"),
        ("2024-05-01T23:30:00Z", "jira_date('Europe/Berlin')", "2024-05-02"),
        ("2024-05-01 10:00:00", "jira_datetime", "2024-05-01T10:00:00.000+0000"),
        ("2024-05-01T10:00:00Z", "jira_datetime('Asia/Shanghai')", "2024-05-01T18:00:00.000+0800"),
        ("", "snow_datetime", ""),
        (None, "remedy_datetime", ""),
        ("2024-05-01T10:00:00Z", "to_datetime", "2024-05-01 10:00:00+00:00"),
        ("2024-05-01T10:00:00+0200", "to_date", "2024-05-01"),
        ("2024-05-01T10:00:00Z", "add_hours(30) | snow_datetime", "2024-05-02 16:00:00"),
        ("2024-05-01T10:00:00Z", "add_days(-1) | jira_date", "2024-04-30"),
        (
            "2024-05-01T10:00:00Z",
            "at_time('22:15', tz='Europe/Berlin') | snow_datetime",
            "2024-05-01 20:15:00",
        ),
        (1714557600000, "snow_datetime", "2024-05-01 10:00:00"),
    ],
)
def test_dates(render, value: Any, filter_: str, expected: str) -> None:
    assert render(f"{{{{ version.raw.value | {filter_} }}}}", value) == expected


@pytest.mark.parametrize(
    ("start", "args", "expected"),
    [
        ("2024-05-03", "1, at='09:00'", "2024-05-06 09:00:00"),  # Friday -> Monday
        ("2024-05-03", "0, at='20:00', tz='Europe/Berlin'", "2024-05-03 18:00:00"),  # a business day stays
        ("2024-05-04", "0, at='20:00'", "2024-05-06 20:00:00"),  # Saturday rolls to Monday
        ("2024-04-30", "1, at='09:00', holidays=vars.holidays", "2024-05-02 09:00:00"),  # 1 May skipped
        ("2024-05-06", "-1, at='09:00'", "2024-05-03 09:00:00"),  # backwards over the weekend
        ("2024-05-08", "1, holidays=vars.holidays", "2024-05-10 00:00:00"),  # Ascension Day skipped
        ("2024-05-03T15:30:00Z", "2", "2024-05-07 15:30:00"),  # keeps the time of day
        ("2024-05-03", "1, weekend=[4, 5, 6]", "2024-05-07 00:00:00"),  # Friday off: Monday, then Tuesday
        # a weekend or holiday first rolls forward to a business day, then counts: 0 and 1 never meet
        ("2024-05-04", "1, at='06:00'", "2024-05-07 06:00:00"),  # Saturday + 1 is Tuesday
        ("2024-05-05", "0", "2024-05-06 00:00:00"),  # Sunday + 0 is Monday
        ("2024-05-05", "1", "2024-05-07 00:00:00"),  # Sunday + 1 is Tuesday
        ("2024-05-04", "-1", "2024-05-03 00:00:00"),  # Saturday - 1 is Friday
        ("2024-05-01", "0, holidays=vars.holidays", "2024-05-02 00:00:00"),  # a holiday + 0: the next day
        ("2024-05-01", "1, holidays=vars.holidays", "2024-05-03 00:00:00"),  # a holiday + 1: the one after
        ("2024-05-01", "-1, holidays=vars.holidays", "2024-04-30 00:00:00"),
        ("2024-05-04T15:30:00Z", "0", "2024-05-06 15:30:00"),  # rolled, keeping the time of day
        # the day is read in tz: 23:30 UTC on Friday is Saturday in Berlin
        ("2024-05-03T23:30:00Z", "0, tz='Europe/Berlin'", "2024-05-05 23:30:00"),
    ],
)
def test_add_business_days(render, start: str, args: str, expected: str) -> None:
    template = f"{{{{ version.raw.value | add_business_days({args}) | snow_datetime }}}}"
    assert render(template, start) == expected


def test_business_days_between(render) -> None:
    assert render("{{ version.raw.value | business_days_between('2024-05-06') }}", "2024-05-02") == "2"
    assert (
        render("{{ '2024-05-06' | business_days_between(version.raw.value, vars.holidays) }}", "2024-04-29")
        == "-4"
    )


def test_bad_dates_fail_the_render_with_the_reason(render) -> None:
    with pytest.raises(RenderError, match="not a date or date-time: 'soon'"):
        render("{{ version.raw.value | snow_datetime }}", "soon")
    with pytest.raises(RenderError, match="unknown time zone 'Mars/Base'"):
        render("{{ version.raw.value | snow_datetime('Mars/Base') }}", "2024-05-01")
    with pytest.raises(RenderError, match="not a time of day"):
        render("{{ version.raw.value | add_business_days(1, at='25:00') }}", "2024-05-01")


def test_truncate_never_exceeds_the_length(render) -> None:
    assert render("{{ version.raw.value | truncate(10) }}", "abcdefghijklmnop") == "abcdefghi…"
    assert render("{{ version.raw.value | truncate(10) }}", "abcdefghij") == "abcdefghij"
    assert render("{{ version.raw.value | truncate(8, '...') }}", "hello wonderful world") == "hello..."
    assert render("{{ version.raw.value | truncate(2, '...') }}", "hello") == "he"


def test_default_replaces_undefined_and_null(render) -> None:
    assert render("{{ version.raw.value | default('n/a') }}", None) == "n/a"
    assert render("{{ version.raw.missing | default('n/a') }}") == "n/a"
    assert render("{{ version.raw.value | default('n/a') }}", "") == ""
    assert render("{{ version.raw.value | default('n/a', true) }}", "") == "n/a"
    assert render("{{ version.raw.value | d('n/a') }}", 0) == "0"


def test_value_maps(render) -> None:
    assert render("{{ version.raw.value | map_value(vars.risk, '4') }}", "High") == "2"
    assert render("{{ version.raw.value | map_value(vars.risk, '4') }}", "Low") == "4"
    assert render("{{ version.raw.value | map_value({'1': 'one'}) }}", 1) == "one"


def test_priorities(render, kit) -> None:
    issues = [kit.issue(1, priority="Low"), kit.issue(2, priority="Highest"), kit.issue(3, priority=None),
              kit.issue(4, priority="High")]  # fmt: skip
    assert render("{{ issues | max_priority }}", issues=issues) == "Highest"
    assert render("{{ issues | sort_by_priority | pluck('key') | join(',') }}", issues=issues) == (
        "PAY-2,PAY-4,PAY-1,PAY-3"
    )
    assert render("{{ 'Blocker' | priority_rank }} {{ 'nope' | priority_rank }}") == "1 99"
    assert render("{{ [] | max_priority('Medium') }}") == "Medium"
    assert render("{{ issues | max_priority(ranks={'Low': 0}) }}", issues=issues) == "Low"


def test_collections(render, kit) -> None:
    issues = [kit.issue(1, components=("Payments", "Checkout")), kit.issue(2, components=("Payments",)),
              kit.issue(3, type="Bug")]  # fmt: skip
    assert render("{{ issues | count_by('components') | dictsort | list }}", issues=issues) == (
        "[('Checkout', 1), ('Payments', 2)]"
    )
    assert render("{{ issues | count_by('type') }}", issues=issues) == "{'Story': 2, 'Bug': 1}"
    assert render(
        "{{ issues | pluck('components') | flatten | unique_values | join(', ') }}", issues=issues
    ) == ("Payments, Checkout")
    assert (
        render("{{ issues | pluck('fields.issuetype.name') | join(',') }}", issues=issues)
        == "Story,Story,Bug"
    )
    assert render("{{ issues | pluck('key') | bullet_list }}", issues=issues) == "- PAY-1\n- PAY-2\n- PAY-3"
    assert render("{{ issues | selectattr('type', 'equalto', 'Bug') | list | length }}", issues=issues) == "1"


def test_none_renders_as_empty_text(render) -> None:
    assert render("[{{ version.raw.value }}]", None) == "[]"


def test_builtin_filters_that_can_surprise_are_removed(problems, kit) -> None:
    (found,) = problems(kit.mapping(body='fields:\n  x: "{{ version.name | xmlattr }}"\n'))
    assert "unknown filter 'xmlattr'" in found

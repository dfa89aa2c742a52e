"""A planned window cannot be inverted: a field may say it comes after another, and the planned windows
of ServiceNow and Remedy records are checked even when nobody said so."""

from __future__ import annotations

import pytest

from bridgeline.errors import PermanentError, RenderError

INVERTED = """\
fields:
  start_date: {value: "{{ version.release_date }} 20:00", type: datetime}
  end_date: {value: "{{ version.release_date }} 06:00", type: datetime}
"""


def test_a_servicenow_change_whose_window_ends_before_it_starts_fails_naming_both_fields_and_values(
    load, kit
) -> None:
    mapping = load(kit.mapping(body=INVERTED)).get("rel")
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release())
    assert isinstance(info.value, PermanentError)  # a dead letter, not a retry
    assert info.value.field == "fields.end_date"
    assert info.value.reason == (
        "end_date '2024-05-03 06:00:00' is not after start_date '2024-05-03 20:00:00': "
        "the record would end before it starts"
    )


def test_a_window_of_no_length_is_refused_too(load, kit) -> None:
    body = INVERTED.replace("06:00", "20:00")
    with pytest.raises(RenderError, match="the record ends when it starts"):
        load(kit.mapping(body=body)).get("rel").render(kit.release())


def test_a_sane_window_and_an_unplanned_one_pass(load, kit) -> None:
    ok = INVERTED.replace("{{ version.release_date }} 06:00", "{{ version.release_date | add_days(1) }}")
    assert (
        load(kit.mapping(body=ok)).get("rel").render(kit.release()).fields["end_date"]
        == "2024-05-04 00:00:00"
    )
    unplanned = INVERTED.replace('"{{ version.release_date }} 06:00"', '""')
    assert load(kit.mapping(body=unplanned)).get("rel").render(kit.release()).fields["end_date"] == ""


def test_change_tasks_and_remedy_records_have_their_windows_checked(load, kit) -> None:
    body = """\
    children:
      tasks:
        for_each: issues
        identity: "t:{{ issue.id }}"
        target: {system: servicenow, record: change_task}
        fields:
          planned_start_date: {value: "2024-05-03 20:00", type: datetime}
          planned_end_date: {value: "2024-05-03 19:00", type: datetime}
    """
    with pytest.raises(RenderError) as info:
        load(kit.mapping(body=body)).get("rel").render(kit.release())
    assert info.value.field == "children.tasks.fields.planned_end_date"
    assert "planned_end_date '2024-05-03 19:00:00' is not after planned_start_date" in info.value.reason

    remedy = kit.mapping(
        body="""\
        fields:
          Scheduled Start Date: {value: "2024-06-15T03:00:00.000+0000", type: datetime}
          Scheduled End Date: {value: "2024-06-14T09:00:00.000+0000", type: datetime}
        """
    ).replace("{system: servicenow, record: change_request}", "{system: remedy, record: change}")
    with pytest.raises(RenderError) as info:
        load(remedy).get("rel").render(kit.release())
    assert info.value.reason.startswith(
        "Scheduled End Date '2024-06-14T09:00:00.000+0000' is not after Scheduled Start Date "
        "'2024-06-15T03:00:00.000+0000'"
    )


def test_any_field_can_declare_what_it_comes_after(load, kit) -> None:
    body = """\
    fields:
      u_cab_date: {value: "{{ version.release_date }}", type: date}
      u_freeze_end: {value: "{{ version.start_date or '' }}", after: u_cab_date}
    """
    mapping = load(kit.mapping(body=body)).get("rel")
    assert mapping.render(kit.release(startDate="2024-05-04")).fields["u_freeze_end"] == "2024-05-04"
    with pytest.raises(RenderError) as info:
        mapping.render(kit.release(startDate="2024-04-15"))
    assert info.value.field == "fields.u_freeze_end"
    assert "u_freeze_end '2024-04-15' is not after u_cab_date '2024-05-03'" in info.value.reason
    with pytest.raises(RenderError, match="must come after u_cab_date, but not a date or date-time: 'soon'"):
        mapping.render(kit.release(startDate="soon"))


def test_jira_field_actions_can_declare_an_order_too(load, kit) -> None:
    body = """\
    reverse:
      - name: window
        when: true
        actions:
          - field:
              customfield_1: {value: "{{ target.planned_start }}", type: datetime}
              customfield_2: {value: "{{ target.planned_end }}", type: datetime, after: customfield_1}
    """
    mapping = load(kit.mapping(body=body)).get("rel")
    target = kit.target(planned_start="2024-05-06 04:00:00", planned_end="2024-05-03 18:00:00")
    with pytest.raises(RenderError) as info:
        mapping.reverse({**kit.release(), "target": target})
    assert info.value.field == "reverse.window.actions[0].field.customfield_2"
    assert "is not after customfield_1" in info.value.reason


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            '  end_date: {value: "x", after: start_dat}\n  start_date: "y"\n',
            "fields.end_date.after: no field named 'start_dat' in this record (did you mean 'start_date'?)",
        ),
        (
            '  end_date: {value: "x", after: end_date}\n',
            "fields.end_date.after: a field cannot come after itself",
        ),
        (
            '  a: {value: "x", after: b}\n  b: {value: "y", after: a}\n',
            "fields.a.after: after goes round in a circle: a -> b -> a",
        ),
    ],
)
def test_an_after_that_names_nothing_sensible_is_refused_at_load(
    problems, kit, fields: str, expected: str
) -> None:
    (found,) = problems(kit.mapping(body="fields:\n" + fields))
    assert expected in found


def test_the_write_policy_of_each_field_reaches_the_engine(load, kit) -> None:
    body = """\
    fields:
      start_date: {value: "{{ now }}", type: datetime, write: once}
      end_date: {value: "{{ now | add_hours(4) }}", type: datetime, write: until_approved}
      short_description: "Release {{ version.name }}"
    children:
      tasks:
        for_each: issues
        identity: "t:{{ issue.id }}"
        target: {system: servicenow, record: change_task}
        fields:
          planned_start_date: {value: "{{ now }}", type: datetime, write: once}
    """
    rendered = load(kit.mapping(body=body)).get("rel").render(kit.release())
    assert rendered.write == {"start_date": "once", "end_date": "until_approved"}
    assert rendered.children[0].write == {"planned_start_date": "once"}


def test_a_change_task_cannot_wait_for_an_approval_it_does_not_have(problems, kit) -> None:
    body = """\
    children:
      tasks:
        for_each: issues
        identity: "t:{{ issue.id }}"
        target: {system: servicenow, record: change_task}
        fields:
          planned_start_date: {value: "{{ now }}", write: until_approved}
    """
    (found,) = problems(kit.mapping(body=body))
    assert "children.tasks.fields.planned_start_date.write: a change_task has no approval of its own" in found


def test_an_unknown_write_policy_is_refused_with_the_choices(problems, kit) -> None:
    (found,) = problems(kit.mapping(body='fields:\n  x: {value: "a", write: sometimes}\n'))
    assert "fields.x.write: 'sometimes' is not one of 'always', 'once' or 'until_approved'" in found

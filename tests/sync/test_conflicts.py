"""Conflict policies, decided from the record as read and what bridgeline wrote."""

from __future__ import annotations

from bridgeline.sync.conflicts import check, policy_for


def test_workflow_fields_default_to_newest_wins_others_to_source_wins() -> None:
    assert policy_for("servicenow", "state", {}) == "newest_wins"
    assert policy_for("servicenow", "short_description", {}) == "source_wins"
    assert policy_for("remedy", "Change Request Status", {}) == "newest_wins"
    assert policy_for("servicenow", "state", {"state": "source_wins"}) == "source_wins"


def test_source_wins_restores_and_newest_wins_accepts() -> None:
    pushed = {"short_description": "Release 1", "start_date": "2024-05-03 18:00:00", "work_notes": "x"}
    record = {"short_description": "Edited", "start_date": "2024-05-04 18:00:00", "work_notes": ""}
    result = check("servicenow", record, pushed, {})
    assert result.restore == {"short_description": "Release 1"}
    assert result.accepted == {"start_date": "2024-05-04 18:00:00"}
    assert [c.field for c in result.conflicts] == ["short_description", "start_date"]


def test_an_accepted_edit_is_not_a_conflict_again() -> None:
    pushed = {"start_date": "2024-05-03 18:00:00"}
    record = {"start_date": "2024-05-04 18:00:00"}
    extra = {"accepted": {"start_date": "2024-05-04 18:00:00"}}
    assert check("servicenow", record, pushed, extra).conflicts == []


def test_target_wins_yields_the_field() -> None:
    result = check(
        "servicenow",
        {"justification": "CAB"},
        {"justification": "Jira"},
        {"conflicts": {"justification": "target_wins"}},
    )
    assert result.yielded == {"justification"} and result.accepted == {"justification": "CAB"}


def test_fields_the_record_does_not_show_and_journals_are_ignored() -> None:
    assert check("servicenow", {"comments": ""}, {"comments": "note", "cmdb_ci": "abc"}, {}).conflicts == []


def test_a_connector_can_say_two_spellings_are_the_same_value() -> None:
    same = lambda name, ours, theirs: (ours, theirs) == ("Payments Platform", "a" * 32) or ours == theirs  # noqa: E731
    result = check(
        "servicenow", {"assignment_group": "a" * 32}, {"assignment_group": "Payments Platform"}, {}, same=same
    )
    assert result.conflicts == []

"""Conflicts: a field bridgeline writes was edited in the target by someone else.

Each field of a mapped record has an owner. By default the source (Jira) owns what the mapping
writes, except the fields the ITSM workflow itself moves - state, approval, planned window,
assignment, closure - where the newest change wins. A mapping says otherwise per field or for the
whole record with ``conflict: source_wins | target_wins | newest_wins``:

- ``source_wins``: the edit is written back at once (and audited);
- ``target_wins``: the edit stands, and bridgeline stops writing that field for this record;
- ``newest_wins``: the edit stands until the source changes the field again.

Conflicts are noticed when the target record is read (every change of it reaches bridgeline by
poll or webhook); every one is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WORKFLOW_FIELDS: dict[str, frozenset[str]] = {
    "servicenow": frozenset(
        {
            "state", "approval", "on_hold", "on_hold_reason", "start_date", "end_date", "work_start",
            "work_end", "assigned_to", "assignment_group", "close_code", "close_notes", "cab_date",
        }
    ),
    "remedy": frozenset(
        {
            "Change Request Status", "Status Reason", "Scheduled Start Date", "Scheduled End Date",
            "Actual Start Date", "Actual End Date", "ASGRP", "Support Group Name", "ASCHG",
            "Change Coordinator", "Change Manager",
        }
    ),
}  # fmt: skip
# Append-only fields read back empty: never a conflict.
JOURNAL_FIELDS = frozenset({"work_notes", "comments", "Work Info Notes"})


def policy_for(system: str, name: str, declared: dict[str, str]) -> str:
    if name in declared:
        return declared[name]
    return "newest_wins" if name in WORKFLOW_FIELDS.get(system, frozenset()) else "source_wins"


def _same(ours: Any, theirs: Any) -> bool:
    return ("" if ours is None else str(ours)).strip() == ("" if theirs is None else str(theirs)).strip()


@dataclass
class Conflict:
    field: str
    ours: Any
    theirs: Any
    policy: str


@dataclass
class ConflictCheck:
    """What a read of the target means for the fields bridgeline owns."""

    conflicts: list[Conflict] = field(default_factory=list)
    restore: dict[str, Any] = field(default_factory=dict)  # source_wins: write these back
    accepted: dict[str, Any] = field(default_factory=dict)  # the target's values that now stand
    yielded: set[str] = field(default_factory=set)  # target_wins: fields bridgeline stops writing


def check(
    system: str,
    record: dict[str, Any],
    pushed: dict[str, Any],
    extra: dict[str, Any],
    *,
    same: Callable[[str, Any, Any], bool] | None = None,
) -> ConflictCheck:
    """Compare the record as read with what bridgeline expects it to hold."""
    declared: dict[str, str] = extra.get("conflicts") or {}
    accepted: dict[str, Any] = dict(extra.get("accepted") or {})
    yielded = set(extra.get("yielded") or [])
    result = ConflictCheck(accepted=accepted, yielded=yielded)
    equal = same or (lambda _name, a, b: _same(a, b))
    for name, ours in pushed.items():
        if name in JOURNAL_FIELDS or name not in record:
            continue
        expected = accepted.get(name, ours)
        theirs = record[name]
        if equal(name, expected, theirs):
            continue
        policy = "target_wins" if name in yielded else policy_for(system, name, declared)
        result.conflicts.append(Conflict(name, expected, theirs, policy))
        if policy == "source_wins":
            result.restore[name] = ours
            accepted.pop(name, None)
        else:
            accepted[name] = theirs
            if policy == "target_wins":
                yielded.add(name)
    return result

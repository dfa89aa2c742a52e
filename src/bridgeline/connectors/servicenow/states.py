"""The change request state model as bridgeline knows it: names, values, and the way forward.

A mapping may ask for a state by value (``"-1"``), label (``Implement``) or name (``implement``).
Asking for a state means "at least this far": a change already past it (the CAB moved it on) is
left where it is, a closed or canceled change is never reopened, and a later state is reached
step by step along its model::

    normal:    New -> Assess -> Authorize -> Scheduled -> Implement -> Review -> Closed
    emergency: New -> Authorize -> Scheduled -> Implement -> Review -> Closed
    standard:  New -> Scheduled -> Implement -> Review -> Closed

Canceled is reachable from every open state.
"""

from __future__ import annotations

from bridgeline.errors import PermanentError

NEW, ASSESS, AUTHORIZE, SCHEDULED, IMPLEMENT, REVIEW, CLOSED, CANCELED = (
    "-5", "-4", "-3", "-2", "-1", "0", "3", "4",
)  # fmt: skip

CHANGE_STATES = {
    NEW: "new",
    ASSESS: "assess",
    AUTHORIZE: "authorize",
    SCHEDULED: "scheduled",
    IMPLEMENT: "implement",
    REVIEW: "review",
    CLOSED: "closed",
    CANCELED: "canceled",
}
CHANGE_LABELS = {v: k.capitalize() for v, k in CHANGE_STATES.items()}
FINAL = frozenset({CLOSED, CANCELED})

FORWARD: dict[str, tuple[str, ...]] = {
    "normal": (NEW, ASSESS, AUTHORIZE, SCHEDULED, IMPLEMENT, REVIEW, CLOSED),
    "emergency": (NEW, AUTHORIZE, SCHEDULED, IMPLEMENT, REVIEW, CLOSED),
    "standard": (NEW, SCHEDULED, IMPLEMENT, REVIEW, CLOSED),
}

# change_task: both the classic task labels and the relabelled list of newer releases
TASK_STATES = {
    "-5": "pending",
    "1": "open",
    "2": "work_in_progress",
    "3": "closed_complete",
    "4": "closed_incomplete",
    "7": "closed_skipped",
}
_TASK_ALIASES = {"in_progress": "2", "closed": "3", "canceled": "4", "cancelled": "4"}


def _key(text: str) -> str:
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def _number(text: str) -> str | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return str(int(number)) if number.is_integer() else None


def change_state(value: object) -> str:
    """A change request state as its value: ``Implement``, ``implement``, ``-1``, ``"-1.0"`` -> ``"-1"``."""
    text = str(value).strip()
    number = _number(text)
    if number in CHANGE_STATES:
        return number
    key = "canceled" if _key(text) == "cancelled" else _key(text)
    for state, name in CHANGE_STATES.items():
        if key == name:
            return state
    raise PermanentError(
        f"servicenow: {value!r} is not a change request state; use one of "
        + ", ".join(f"{CHANGE_LABELS[s]} ({s})" for s in CHANGE_STATES)
    )


def task_state(value: object) -> str:
    """A change task state as its value (``Work in Progress``, ``work_in_progress``, ``2`` -> ``"2"``)."""
    text = str(value).strip()
    number = _number(text)
    if number is not None:
        return number
    key = _key(text)
    for state, name in TASK_STATES.items():
        if key == name:
            return state
    if key in _TASK_ALIASES:
        return _TASK_ALIASES[key]
    raise PermanentError(
        f"servicenow: {value!r} is not a change task state; use one of "
        + ", ".join(f"{n} ({s})" for s, n in TASK_STATES.items())
    )


def state_name(kind: str, value: str) -> str:
    """``"-2"`` -> ``"scheduled"`` (change requests), ``"2"`` -> ``"work_in_progress"`` (tasks)."""
    names = CHANGE_STATES if kind == "change_request" else TASK_STATES
    return names.get(value, value)


def label(state: str) -> str:
    return CHANGE_LABELS.get(state, state)


class Refusal(Exception):
    """The known model has no way from the current state to the one asked for."""


def way_forward(change_type: str, current: str, target: str) -> list[str]:
    """The states to pass through, in order, from ``current`` to ``target``; ``[]`` when there is
    nothing to do (there already, or further along). Raises :class:`Refusal` when it cannot be done."""
    if current == target:
        return []
    if current in FINAL:
        if target in FINAL:
            raise Refusal(f"it is already {label(current)}")
        return []  # finished: a later render never reopens it
    if target == CANCELED:
        return [CANCELED]
    path = FORWARD.get(change_type or "normal", FORWARD["normal"])
    if target not in path:
        raise Refusal(f"a {change_type} change has no {label(target)} state")
    if current not in path:
        return [target]  # a state outside the known model: let the instance decide
    here, there = path.index(current), path.index(target)
    return list(path[here + 1 : there + 1]) if there > here else []

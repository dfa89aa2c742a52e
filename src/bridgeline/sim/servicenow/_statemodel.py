"""The change request state model: which state may follow which, per change type.

Normal:    New -> Assess -> Authorize -> Scheduled -> Implement -> Review -> Closed
Emergency: New -> Authorize -> Scheduled -> ...            (no Assess)
Standard:  New -> Scheduled -> Implement -> ...            (pre-approved: no Assess, no Authorize)

Canceled is reachable from every open state; Assess, Authorize and Scheduled may be reverted to
New. Authorize -> Scheduled additionally needs the CAB's approval (``approval=approved``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridgeline.sim.servicenow._schema import CHANGE_STATE_CHOICES
from bridgeline.sim.servicenow._store import Row

NEW, ASSESS, AUTHORIZE, SCHEDULED, IMPLEMENT, REVIEW, CLOSED, CANCELED = (
    "-5",
    "-4",
    "-3",
    "-2",
    "-1",
    "0",
    "3",
    "4",
)
STATE_LABELS = dict(CHANGE_STATE_CHOICES)
FINAL_STATES = frozenset({CLOSED, CANCELED})
APPROVAL_STATES = frozenset({ASSESS, AUTHORIZE})

_COMMON = {
    SCHEDULED: (IMPLEMENT, NEW, CANCELED),
    IMPLEMENT: (REVIEW, CANCELED),
    REVIEW: (CLOSED, CANCELED),
    CLOSED: (),
    CANCELED: (),
}
MODELS: dict[str, dict[str, tuple[str, ...]]] = {
    "normal": {
        NEW: (ASSESS, CANCELED),
        ASSESS: (AUTHORIZE, NEW, CANCELED),
        AUTHORIZE: (SCHEDULED, NEW, CANCELED),
        **_COMMON,
    },
    "emergency": {NEW: (AUTHORIZE, CANCELED), AUTHORIZE: (SCHEDULED, NEW, CANCELED), **_COMMON},
    "standard": {NEW: (SCHEDULED, CANCELED), **_COMMON, SCHEDULED: (IMPLEMENT, CANCELED)},
}


@dataclass(frozen=True, slots=True)
class Transition:
    from_state: str
    to_state: str
    conditions: tuple[tuple[str, bool], ...]  # (condition name, passed)

    @property
    def available(self) -> bool:
        return all(passed for _, passed in self.conditions)

    @property
    def automatic(self) -> bool:
        # The CAB's approval moves Authorize on to Scheduled by itself.
        return self.from_state == AUTHORIZE and self.to_state == SCHEDULED


def label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def model_for(row: Row) -> dict[str, tuple[str, ...]]:
    return MODELS.get(row.get("type", "normal"), MODELS["normal"])


def transitions(row: Row) -> list[Transition]:
    """Every transition the model defines out of the row's current state, with its conditions."""
    current = row.get("state", NEW)
    targets = model_for(row).get(current, () if current in FINAL_STATES else (CANCELED,))
    found = []
    for target in targets:
        conditions: list[tuple[str, bool]] = [("Not On hold", row.get("on_hold", "false") != "true")]
        if current == AUTHORIZE and target == SCHEDULED:
            conditions.append(("Approval is Approved", row.get("approval") == "approved"))
        if target == CANCELED:
            conditions = []
        found.append(Transition(current, target, tuple(conditions)))
    return found


def allowed_next_states(row: Row) -> list[str]:
    return [t.to_state for t in transitions(row) if t.available]


def refusal_message(row: Row, target: str) -> str:
    """Why ``target`` cannot follow the row's state, naming the states that can."""
    current = row.get("state", NEW)
    allowed = allowed_next_states(row)
    names = ", ".join(f"{label(s)} ({s})" for s in allowed) or "none (the change is finished)"
    blocked = next((t for t in transitions(row) if t.to_state == target and not t.available), None)
    reason = ""
    if blocked is not None:
        failed = [name for name, passed in blocked.conditions if not passed]
        reason = f" (condition not met: {', '.join(failed)})"
    return (
        f"Invalid state transition for {row.get('number', 'change')}: {label(current)} ({current}) "
        f"cannot move to {label(target)} ({target}){reason}. Allowed next states: {names}"
    )

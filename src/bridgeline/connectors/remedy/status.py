"""The change request life cycle of BMC Change Management as bridgeline walks it.

::

    Draft -> Request For Authorization -> Request For Change -> Planning In Progress ->
    Scheduled For Review -> Scheduled For Approval -> Scheduled -> Implementation In Progress ->
    Completed -> Closed

The three approval statuses wait for the CAB (unless no approvers are mapped); the server says
so when asked to move on. Asking for a status means "at least this far": a change further along
stays where it is; Closed and Cancelled are never reopened; a Rejected or Pending change waits
for a person (it may still be cancelled where Remedy allows it).

Reverse rules see a status as a name shared with ServiceNow where the meaning matches
(:data:`STATE_NAMES`): ``new``, ``assess``, ``authorize``, ``planning``, ``scheduled``,
``implement``, ``closed`` (Completed and Closed), ``canceled``, ``rejected``, ``pending``.
"""

from __future__ import annotations

from bridgeline.errors import PermanentError

DRAFT, RFA, RFC = "Draft", "Request For Authorization", "Request For Change"
PLANNING, FOR_REVIEW, FOR_APPROVAL = "Planning In Progress", "Scheduled For Review", "Scheduled For Approval"
SCHEDULED, IMPLEMENTING = "Scheduled", "Implementation In Progress"
PENDING, REJECTED, COMPLETED, CLOSED, CANCELLED = "Pending", "Rejected", "Completed", "Closed", "Cancelled"

FORWARD = (DRAFT, RFA, RFC, PLANNING, FOR_REVIEW, FOR_APPROVAL, SCHEDULED, IMPLEMENTING, COMPLETED, CLOSED)
STATUSES = (*FORWARD[:8], PENDING, REJECTED, COMPLETED, CLOSED, CANCELLED)
INITIAL = (DRAFT, RFA)  # a change may be created in these
FINAL = frozenset({CLOSED, CANCELLED})
WAITING_FOR_A_PERSON = frozenset({PENDING, REJECTED})
REASON_NEEDED = frozenset({COMPLETED, PENDING})

STATE_NAMES = {
    DRAFT: "new",
    RFA: "assess",
    RFC: "authorize",
    PLANNING: "planning",
    FOR_REVIEW: "planning",
    FOR_APPROVAL: "authorize",
    SCHEDULED: "scheduled",
    IMPLEMENTING: "implement",
    PENDING: "pending",
    REJECTED: "rejected",
    COMPLETED: "closed",
    CLOSED: "closed",
    CANCELLED: "canceled",
}


def status_label(value: object) -> str:
    """A status as Remedy spells it; case and spacing are forgiven (``"scheduled for review"``)."""
    text = " ".join(str(value).split())
    for status in STATUSES:
        if text.lower() == status.lower():
            return status
    if text.lower() == "canceled":
        return CANCELLED
    raise PermanentError(
        f"remedy: {value!r} is not a change request status; use one of {', '.join(STATUSES)}"
    )


class Refusal(Exception):
    """There is no way from the current status to the one asked for."""


def way_forward(current: str, target: str) -> list[str]:
    """Statuses to set, in order, from ``current`` to ``target``; ``[]`` when there is nothing to do."""
    if current == target:
        return []
    if target == CANCELLED:
        if current in FINAL:
            return []
        return [CANCELLED]
    if current in FINAL:
        if target in FINAL:
            raise Refusal(f"it is already {current}")
        return []
    if current in WAITING_FOR_A_PERSON:
        return []  # rejected by the CAB or put on hold: a person decides what comes next
    if target == REJECTED:
        raise Refusal("only the CAB rejects a change")
    if target not in FORWARD or current not in FORWARD:
        return [target]  # off the main path (Pending): the server decides
    here, there = FORWARD.index(current), FORWARD.index(target)
    return list(FORWARD[here + 1 : there + 1]) if there > here else []

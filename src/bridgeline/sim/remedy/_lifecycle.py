"""The change request life cycle of BMC Change Management, as rules without I/O.

Stages and approval phases follow BMC's "Change request status transitions" and "Approval
processes provided out-of-the-box" pages::

    Draft -> Request For Authorization (Review approval) -> Request For Change (Business approval)
      -> Planning In Progress -> Scheduled For Review -> Scheduled For Approval (Implementation
      approval) -> Scheduled -> Implementation In Progress -> Completed -> Closed

An approval phase with no approvers mapped passes straight on; a rejection ends in Rejected
(from where the change can be restarted as Draft). Pending remembers where it came from and can
only resume there; a Pending change cannot be cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridgeline.sim.remedy._forms import (
    CANCEL_REASONS,
    COMPLETION_REASONS,
    IMPACTS,
    PENDING_REASONS,
    PRIORITIES,
    URGENCIES,
)


@dataclass(frozen=True)
class Phase:
    name: str
    approved_to: str
    passes_without_approvers: bool  # no approvers mapped: the change moves on by itself

    @property
    def process(self) -> str:
        return f"Change Level CI-IA - {self.name}"


PHASES: dict[str, Phase] = {
    "Request For Authorization": Phase("Review", "Request For Change", True),
    "Request For Change": Phase("Business Approval", "Planning In Progress", True),
    "Scheduled For Approval": Phase("Implementation Approval", "Scheduled", True),
    "Completed": Phase("Close Down Approval", "Closed", False),
}
DEFAULT_APPROVAL_STATUSES = ("Request For Authorization", "Request For Change", "Scheduled For Approval")
DEFAULT_REJECT_TO = {
    "Review": "Rejected",
    "Business Approval": "Rejected",
    "Implementation Approval": "Rejected",
    "Close Down Approval": "Implementation In Progress",
}

# What a person (or an integration) may set by hand from each status; approvals do the rest.
MANUAL_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "Draft": ("Request For Authorization", "Pending", "Cancelled"),
    "Request For Authorization": ("Cancelled",),
    "Request For Change": ("Cancelled",),
    "Planning In Progress": ("Scheduled For Review", "Pending", "Cancelled"),
    "Scheduled For Review": ("Scheduled For Approval", "Planning In Progress", "Pending", "Cancelled"),
    "Scheduled For Approval": ("Cancelled",),
    "Scheduled": ("Implementation In Progress", "Pending", "Cancelled"),
    "Implementation In Progress": ("Completed", "Pending", "Cancelled"),
    "Completed": ("Closed",),
    "Pending": (),  # resumes to the status it left
    "Rejected": ("Draft", "Cancelled"),
    "Cancelled": ("Draft",),
    "Closed": (),
}

# Status Reason values each status accepts; a status not listed takes no Status Reason.
STATUS_REASONS_BY_STATUS: dict[str, tuple[str, ...]] = {
    "Pending": PENDING_REASONS,
    "Completed": COMPLETION_REASONS,
    "Closed": (*COMPLETION_REASONS, "Automatically Closed"),
    "Cancelled": CANCEL_REASONS,
}
REASON_REQUIRED = ("Pending", "Completed")
TASKS_REFUSED_IN = ("Scheduled For Approval", "Completed", "Closed", "Cancelled", "Rejected")


def allowed_next(status: str, *, waiting: bool, before_pending: str | None) -> tuple[str, ...]:
    """The statuses a client may set next (approval outcomes excluded)."""
    if status == "Pending":
        return (before_pending,) if before_pending else ()
    options = MANUAL_TRANSITIONS.get(status, ())
    if waiting:
        return tuple(s for s in options if s == "Cancelled")
    return options


def derived_priority(impact: str | None, urgency: str | None) -> str | None:
    """Priority from Impact x Urgency, as the Change form's workflow computes it."""
    if impact not in IMPACTS or urgency not in URGENCIES:
        return None
    weight = IMPACTS.index(impact) + URGENCIES.index(urgency)
    return (
        PRIORITIES[0]
        if weight <= 1
        else PRIORITIES[1]
        if weight == 2
        else PRIORITIES[2]
        if weight <= 4
        else PRIORITIES[3]
    )

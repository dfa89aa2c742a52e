"""The knobs of the Remedy simulator: users, token lifetime, approvals and fidelity choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bridgeline.sim.remedy._lifecycle import DEFAULT_APPROVAL_STATUSES, DEFAULT_REJECT_TO

APPROVAL_SERVER_USER = "Remedy Application Service"  # who the approval server writes as
# The integration account. Its password is not a word: bridgeline masks its secrets wherever they
# appear in its logs, and a secret that is also a word would mask every use of that word.
INTEGRATION = ("bridgeline", "remedy-pw-2Tx5Jm8c")


@dataclass(frozen=True)
class User:
    password: str
    admin: bool = False


DEFAULT_USERS: dict[str, User] = {
    "Demo": User("demo", admin=True),  # the AR System administrator every server ships with
    INTEGRATION[0]: User(INTEGRATION[1]),  # the integration account
    "mary": User("mary"),  # Mary Mann, change manager and CAB approver
    "allen": User("allen"),  # Allen Allbrook, a requester
}


@dataclass
class RemedyConfig:
    """Everything that can be set when the simulator is made (see ``docs/simulators/remedy.md``)."""

    users: dict[str, User] = field(default_factory=lambda: dict(DEFAULT_USERS))
    token_lifetime: float = 3600.0
    # statuses whose approval phase waits for the CAB; the other phases pass straight on
    approval_statuses: tuple[str, ...] = DEFAULT_APPROVAL_STATUSES
    cab_approvers: tuple[str, ...] = ("mary",)
    approvals_required: Literal["one", "all"] = "one"
    reject_to: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REJECT_TO))
    # Location header of a create on CHG:ChangeInterface_Create: the interface entry (as observed
    # on real servers) or the CHG:Infrastructure Change entry it made
    create_location: Literal["interface", "change"] = "interface"
    initial_statuses: tuple[str, ...] = ("Draft", "Request For Authorization")
    request_id_offset: int = 0  # Request ID number = CRQ number + offset (real servers can drift)
    case_sensitive_queries: bool = True  # as on Oracle / PostgreSQL back ends; MS SQL is not
    max_list_entries: int = 2000  # page size when a GET list names no limit
    derive_priority: bool = True  # Priority computed from Impact x Urgency on every write
    summary_max_length: int = 100
    validate_foundation: bool = True  # companies, people and support groups must exist

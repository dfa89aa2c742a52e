"""The CAB: approval records for change requests, and the decision on them.

When a change enters Assess or Authorize with ``approval=requested``, every member of the CAB group
gets a ``sysapproval_approver`` record. One member's approval or rejection settles it: the others
become ``not_required``, the change's ``approval`` follows, and the change moves on (to Scheduled)
or back (to New, by default). Leaving the approval states withdraws open requests (``cancelled``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridgeline.sim.servicenow import _statemodel as sm
from bridgeline.sim.servicenow._errors import SimError, no_record
from bridgeline.sim.servicenow._store import Row

if TYPE_CHECKING:
    from bridgeline.sim.servicenow._rules import Instance, User


class Cab:
    """Approval records of change requests and the CAB's decisions on them."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    def pending(self, change_sys_id: str) -> list[Row]:
        found = self.instance.store.find("sysapproval_approver", "sysapproval", change_sys_id)
        return [a for a in found if a.get("state") == "requested"]

    def sync(self, change: Row, user: User) -> None:
        """Ask the CAB when approval is requested; withdraw open requests when the change leaves."""
        pending = self.pending(change["sys_id"])
        if change.get("state") in sm.APPROVAL_STATES and change.get("approval") == "requested":
            if not pending:
                self._request(change, user)
            return
        for approval in pending:
            self._set_approval(approval, "cancelled", user)

    def members(self) -> tuple[Row | None, list[str]]:
        groups = self.instance.store.find("sys_user_group", "name", self.instance.settings.cab_group)
        if not groups:
            return None, []
        members = self.instance.store.find("sys_user_grmember", "group", groups[0]["sys_id"])
        return groups[0], [m["user"] for m in members if m.get("user")]

    def _request(self, change: Row, user: User) -> None:
        group, members = self.members()
        now = self.instance.now()
        for member in members:
            self.instance.store.insert(
                "sysapproval_approver",
                {
                    "sysapproval": change["sys_id"],
                    "document_id": change["sys_id"],
                    "source_table": "change_request",
                    "approver": member,
                    "group": group["sys_id"] if group else "",
                    "state": "requested",
                    "sys_created_on": now,
                    "sys_created_by": user.user_name,
                    "sys_updated_on": now,
                    "sys_updated_by": user.user_name,
                    "sys_mod_count": "0",
                },
            )

    def _set_approval(self, approval: Row, state: str, user: User) -> None:
        diff = {"state": state}
        self.instance.stamp(approval, diff, user)
        self.instance.store.update("sysapproval_approver", approval["sys_id"], diff)

    def decide(
        self,
        change_sys_id: str,
        *,
        approve: bool,
        acting: User,
        approver: User | None = None,
        comments: str | None = None,
    ) -> Row:
        """The CAB's answer on a change: approve or reject its pending approval.

        ``approver`` picks whose pending approval it is; without one, the acting user's own, or
        (for admins and the simulator itself) the first pending one.
        """
        change = self.instance.store.get("change_request", change_sys_id)
        if change is None:
            raise no_record()
        number = change.get("number", change_sys_id)
        if not approve and not (comments or "").strip():
            raise SimError(
                400,
                "Comments are required when rejecting a change request",
                "Give the reason for the rejection in 'comments'",
            )
        pending = self.pending(change_sys_id)
        if not pending:
            raise SimError(
                400,
                f"{number} has no pending approval (state {sm.label(change.get('state', ''))}, "
                f"approval {change.get('approval', '')})",
                "A change asks the CAB for approval when it enters Assess or Authorize",
            )
        chosen = None
        who = approver or (acting if not acting.is_admin else None)
        if who is not None:
            chosen = next((a for a in pending if a.get("approver") == who.sys_id), None)
            if chosen is None:
                names = ", ".join(self._user_name(a.get("approver", "")) for a in pending)
                raise SimError(
                    400,
                    f"{who.user_name} has no pending approval for {number}",
                    f"Pending approvers: {names}",
                )
        chosen = chosen or pending[0]
        decider = self.instance.user(chosen.get("approver", "")) or acting
        self._set_approval(chosen, "approved" if approve else "rejected", decider)
        if comments and comments.strip():
            self.instance.add_journal("sysapproval_approver", chosen["sys_id"], "comments", comments, decider)
        for other in pending:
            if other is not chosen:
                self._set_approval(other, "not_required", decider)
        diff: Row = {"approval": "approved" if approve else "rejected"}
        state = change.get("state", "")
        if approve and self.instance.settings.auto_advance_on_approval and state in sm.APPROVAL_STATES:
            diff["state"] = sm.SCHEDULED
        if not approve:
            target = {"new": sm.NEW, "canceled": sm.CANCELED, "stay": state}[
                self.instance.settings.on_rejection
            ]
            diff["state"] = target
        return self.instance.system_update("change_request", change_sys_id, diff, decider)

    def _user_name(self, sys_id: str) -> str:
        row = self.instance.store.get("sys_user", sys_id)
        return row.get("user_name", sys_id) if row else sys_id

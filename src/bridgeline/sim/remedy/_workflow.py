"""What the server does on a write: the workflow of the Change, Task and Approval forms.

A create on ``CHG:ChangeInterface_Create`` makes a ``CHG:Infrastructure Change`` entry; status
changes follow :mod:`._lifecycle`; entering an approval status makes ``AP:Detail-Signature``
entries and waits for the CAB (:meth:`Workflow.decide`). Every method runs under the state lock
and raises :class:`ARError` exactly where a client would see one.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from typing import Any

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._clock import SimClock
from bridgeline.sim.remedy._config import APPROVAL_SERVER_USER, RemedyConfig
from bridgeline.sim.remedy._forms import (
    CHANGE,
    CHANGE_CREATE,
    COMPANY,
    PEOPLE,
    SIGNATURE,
    SUPPORT_GROUP,
    TASK,
    WORK_LOG,
)
from bridgeline.sim.remedy._foundation import check_references
from bridgeline.sim.remedy._lifecycle import (
    PHASES,
    REASON_REQUIRED,
    STATUS_REASONS_BY_STATUS,
    allowed_next,
    derived_priority,
)
from bridgeline.sim.remedy._state import Entry, RemedyState
from bridgeline.sim.remedy._tasks import create_task, update_task
from bridgeline.sim.remedy._worklog import create_work_info, update_work_info

CREATE_REQUIRED = (
    "z1D_Action",
    "Description",
    "Status",
    "Impact",
    "Urgency",
    "Change Type",
    "Timing",
    "Risk Level",
    "Company",
    "Location Company",
    "First Name",
    "Last Name",
)
_ID_PREFIX = {PEOPLE: "PPL", SUPPORT_GROUP: "SGP", COMPANY: "CPY", TASK: "TAS"}


class ApprovalError(ValueError):
    """``approve``/``reject`` on a change that is not waiting for the CAB."""


class Workflow:
    def __init__(self, state: RemedyState, config: RemedyConfig, clock: SimClock, rng: random.Random) -> None:
        self.state = state
        self.config = config
        self.clock = clock
        self.rng = rng

    # -- ids and stamps --------------------------------------------------------------------------

    def instance_id(self, prefix: str = "AG") -> str:
        alphabet = string.ascii_uppercase + string.digits
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(30 - len(prefix)))

    def numbered(self, sequence: str, prefix: str, start: int = 1) -> str:
        return f"{prefix}{self.state.next_number(sequence, start):0{15 - len(prefix)}d}"

    def _touch(self, values: dict[str, Any], user: str, modified: str = "Last Modified Date") -> None:
        values["Last Modified By"] = user
        values[modified] = self.clock.now_s()

    # -- dispatch from the REST layer -------------------------------------------------------------

    def create(self, form_name: str, raw: Mapping[str, Any], user: str) -> str:
        """Create an entry; returns its id (for the interface form: the interface entry's id)."""
        form = self.state.form(form_name)
        with self.state.lock:
            if form.name == CHANGE_CREATE:
                return self.create_change(raw, user)[0]
            if form.store == TASK:
                return create_task(self, raw, user)
            if form.store == WORK_LOG:
                return create_work_info(self, raw, user)
            if not form.creatable:
                hint = " use CHG:ChangeInterface_Create" if form.store == CHANGE else ""
                raise err.workflow(
                    f"Entries of {form.name} cannot be created through the API;{hint}".rstrip(";"), form.name
                )
            return self.create_plain(form_name, raw, user)

    def update(self, form_name: str, entry_id: str, raw: Mapping[str, Any], user: str) -> None:
        form = self.state.form(form_name)
        with self.state.lock:
            entry = self.state.get(form_name, entry_id)
            if entry is None:
                raise err.not_found(entry_id)
            if form.store == CHANGE:
                self.update_change(entry, raw, user)
            elif form.store == TASK:
                update_task(self, entry, raw, user)
            elif form.store == SIGNATURE:
                self.update_signature(entry, raw, user)
            elif form.store == WORK_LOG:
                update_work_info(self, entry, raw, user)
            else:
                values = form.coerce(raw)
                entry.values.update(values)
                self._touch(entry.values, user, self._modified_field(form_name))

    def delete(self, form_name: str, entry_id: str) -> None:
        with self.state.lock:
            store = self.state.store(form_name)
            if entry_id not in store:
                raise err.not_found(entry_id)
            del store[entry_id]

    def _modified_field(self, form_name: str) -> str:
        return (
            "Modified Date" if "Modified Date" in self.state.form(form_name).fields else "Last Modified Date"
        )

    # -- change requests -------------------------------------------------------------------------

    def create_change(self, raw: Mapping[str, Any], user: str) -> tuple[str, str]:
        """The interface create: returns (interface entry id, change Request ID)."""
        form = self.state.form(CHANGE_CREATE)
        values = form.coerce(raw)
        for name in CREATE_REQUIRED:
            if values.get(name) is None:
                raise err.ARError(400, err.REQUIRED_FIELD_BLANK, "Required field cannot be blank.", name)
        if str(values["z1D_Action"]).upper() != "CREATE":
            raise err.workflow('z1D_Action must be "CREATE" to submit a change request', values["z1D_Action"])
        status = values["Status"]
        if status not in self.config.initial_statuses:
            raise err.workflow(
                f'A change request cannot be created in status "{status}". Allowed: '
                + ", ".join(self.config.initial_statuses),
                status,
            )
        if "Company3" in values and "Support Company" not in values:
            values["Support Company"] = values["Company3"]
        check_references(self.state, self.config, values, values)
        self._check_status_reason(status, values.get("Status Reason"))

        now = self.clock.now_s()
        number = self.state.next_number("CRQ", 1)
        crq = f"CRQ{number:012d}"
        request_id = f"CRQ{number + self.config.request_id_offset:012d}"
        change_form = self.state.form(CHANGE)
        change: dict[str, Any] = {k: v for k, v in values.items() if k in change_form.fields}
        change.update(
            {
                "Request ID": request_id,
                "Infrastructure Change ID": crq,
                "InstanceId": self.instance_id("AG"),
                "Submitter": user,
                "Submit Date": now,
                "Last Modified By": user,
                "Last Modified Date": now,
                "Change Request Status": "Draft",
                "Status Reason": values.get("Status Reason") if status == "Draft" else None,
            }
        )
        self._derive(change)
        entry = self.state.add(CHANGE, change)
        if status != "Draft":
            self._enter_status(entry, status, user, values.get("Status Reason"))

        interface_id = self.numbered(CHANGE_CREATE, "")
        interface = dict(values)
        interface.update(
            {
                "Request ID": interface_id,
                "Submitter": user,
                "Create Date": now,
                "Last Modified By": user,
                "Last Modified Date": now,
                "Infrastructure Change Id": crq,
                "Change_Entry_ID": request_id,
            }
        )
        self.state.add(CHANGE_CREATE, interface)
        return interface_id, request_id

    def update_change(self, entry: Entry, raw: Mapping[str, Any], user: str) -> None:
        form = self.state.form(CHANGE)
        values = form.coerce(raw)
        merged = {**entry.values, **values}
        check_references(self.state, self.config, values, merged)
        current = entry.values["Change Request Status"]
        target = values.pop("Change Request Status", None) or current
        reason_given = "Status Reason" in values
        reason = values.pop("Status Reason", None)
        if target != current:
            waiting = "waiting" in entry.hidden
            options = allowed_next(
                current, waiting=waiting, before_pending=entry.hidden.get("before_pending")
            )
            if target not in options:
                why = f" while it waits for {entry.hidden['waiting']}" if waiting else ""
                raise err.workflow(
                    f'The change request cannot move from "{current}" to "{target}"{why}. '
                    f"Allowed next statuses: {', '.join(options) or 'none'}",
                    ", ".join(options),
                )
            if not reason_given and target == "Closed":
                reason = entry.values.get("Status Reason")
            self._check_status_reason(target, reason)
        elif reason_given:
            self._check_status_reason(current, reason, required=False)
            entry.values["Status Reason"] = reason
        entry.values.update(values)
        self._derive(entry.values)
        self._touch(entry.values, user)
        if target != current:
            self._enter_status(entry, target, user, reason)

    def _check_status_reason(self, status: str, reason: str | None, *, required: bool = True) -> None:
        allowed = STATUS_REASONS_BY_STATUS.get(status, ())
        if reason is None:
            if required and status in REASON_REQUIRED:
                raise err.workflow(
                    f'A Status Reason is required for status "{status}". Allowed: {", ".join(allowed)}',
                    ", ".join(allowed),
                )
            return
        if reason not in allowed:
            listed = ", ".join(allowed) if allowed else "none"
            raise err.workflow(
                f'Status Reason "{reason}" is not valid for status "{status}". Allowed: {listed}', listed
            )

    def _derive(self, values: dict[str, Any]) -> None:
        if self.config.derive_priority:
            values["Priority"] = derived_priority(values.get("Impact"), values.get("Urgency")) or values.get(
                "Priority"
            )
        if values.get("Support Group Name") and not values.get("ASGRP"):
            values["ASGRP"] = values["Support Group Name"]

    def _enter_status(self, entry: Entry, status: str, user: str, reason: str | None = None) -> None:
        """Set the status and run what follows: approval phases start or pass straight on."""
        values = entry.values
        previous = values["Change Request Status"]
        if previous != status and "waiting" in entry.hidden:  # leaving an approval (cancelled)
            self._close_signatures(values["Request ID"], "Cancelled", user)
            entry.hidden.pop("waiting", None)
        while True:
            if status == "Pending":
                entry.hidden["before_pending"] = values["Change Request Status"]
            elif values["Change Request Status"] == "Pending":
                entry.hidden.pop("before_pending", None)
            values["Change Request Status"] = status
            values["Status Reason"] = reason
            now = self.clock.now_s()
            if status == "Implementation In Progress" and values.get("Actual Start Date") is None:
                values["Actual Start Date"] = now
            if status == "Completed":
                values["Actual End Date"] = values.get("Actual End Date") or now
                values["Completed Date"] = now
            phase = PHASES.get(status)
            if phase is None:
                return
            if status in self.config.approval_statuses and self.config.cab_approvers:
                self._open_signatures(entry, phase.process, user)
                entry.hidden["waiting"] = phase.name
                return
            if not phase.passes_without_approvers:
                return
            status, reason = self._approved_to(entry, phase.name)

    def _approved_to(self, entry: Entry, phase: str) -> tuple[str, str | None]:
        if phase == "Review" and entry.values.get("Timing") == "Latent":
            return "Completed", "Final Review Required"  # latent changes are recorded after the fact
        return next(p.approved_to for p in PHASES.values() if p.name == phase), None

    # -- approvals -------------------------------------------------------------------------------

    def _open_signatures(self, entry: Entry, process: str, user: str) -> None:
        now = self.clock.now_s()
        for approver in self.config.cab_approvers:
            self.state.add(
                SIGNATURE,
                {
                    "Signature ID": self.numbered(SIGNATURE, ""),
                    "Submitter": APPROVAL_SERVER_USER,
                    "Create Date": now,
                    "Last Modified By": APPROVAL_SERVER_USER,
                    "Last Modified Date": now,
                    "InstanceId": self.instance_id("AP"),
                    "Application": CHANGE,
                    "Request": entry.values["Request ID"],
                    "Process": process,
                    "Approvers": approver,
                    "Approval Status": "Pending",
                },
            )

    def _pending_signatures(self, request_id: str) -> list[Entry]:
        found = [
            s
            for s in self.state.stores[SIGNATURE].values()
            if s.values.get("Request") == request_id and s.values.get("Approval Status") == "Pending"
        ]
        return sorted(found, key=lambda s: s.values["Signature ID"])

    def _close_signatures(self, request_id: str, status: str, user: str) -> None:
        for signature in self._pending_signatures(request_id):
            signature.values["Approval Status"] = status
            self._touch(signature.values, user)

    def decide(self, ref: str, *, approve: bool, approver: str | None, comment: str | None) -> Entry:
        """The CAB's decision on the phase a change waits in (``ref``: CRQ number or Request ID)."""
        with self.state.lock:
            entry = self.state.find_change(ref)
            if entry is None:
                raise KeyError(f"no change request {ref!r}")
            phase = entry.hidden.get("waiting")
            pending = self._pending_signatures(entry.values["Request ID"])
            if phase is None or not pending:
                raise ApprovalError(
                    f"{entry.values['Infrastructure Change ID']} is not waiting for approval "
                    f"(status {entry.values['Change Request Status']})"
                )
            signature = next((s for s in pending if s.values.get("Approvers") == approver), pending[0])
            signer = approver or signature.values["Approvers"]
            signature.values.update(
                {
                    "Approval Status": "Approved" if approve else "Rejected",
                    "Approver Signature": signer,
                    "Comments": comment,
                }
            )
            self._touch(signature.values, signer)
            if approve and self.config.approvals_required == "all" and len(pending) > 1:
                return entry
            self._close_signatures(entry.values["Request ID"], "Cancelled", APPROVAL_SERVER_USER)
            entry.hidden.pop("waiting", None)
            if approve:
                status, reason = self._approved_to(entry, phase)
            else:
                status, reason = self.config.reject_to.get(phase, "Rejected"), None
            self._touch(entry.values, APPROVAL_SERVER_USER)
            self._enter_status(entry, status, APPROVAL_SERVER_USER, reason)
            return entry

    def update_signature(self, entry: Entry, raw: Mapping[str, Any], user: str) -> None:
        """An approver signing through the API: Approval Status Approved / Rejected decides the phase."""
        values = self.state.form(SIGNATURE).coerce(raw)
        decision = values.pop("Approval Status", None)
        if decision not in (None, "Approved", "Rejected"):
            raise err.workflow('Approval Status can only be set to "Approved" or "Rejected"', decision)
        if decision is not None:
            if entry.values.get("Approval Status") != "Pending":
                raise err.workflow(
                    "This approval has already been decided", entry.values.get("Approval Status")
                )
            account = self.config.users.get(user)
            if user != entry.values.get("Approvers") and not (account and account.admin):
                raise err.workflow("You are not an approver of this change request", user)
        entry.values.update(values)
        self._touch(entry.values, user)
        if decision is None:
            return
        change = self.state.find_change(entry.values["Request"])
        if change is None:
            raise err.not_found(entry.values["Request"])
        self.decide(
            change.values["Request ID"],
            approve=decision == "Approved",
            approver=entry.values["Approvers"],
            comment=entry.values.get("Comments"),
        )

    # -- people, groups, companies ------------------------------------------------------------------

    def create_plain(self, form_name: str, raw: Mapping[str, Any], user: str) -> str:
        form = self.state.form(form_name)
        values = form.coerce(raw)
        now = self.clock.now_s()
        entry_id = self.numbered(form.store, _ID_PREFIX.get(form.store, ""))
        values.update(
            {
                form.id_field: entry_id,
                "Submitter": user,
                "Submit Date": now,
                "Last Modified By": user,
                "Last Modified Date": now,
                "InstanceId": self.instance_id("AG"),
            }
        )
        values.setdefault("Status" if "Status" in form.fields else "Profile Status", "Enabled")
        self.state.add(form_name, values)
        return entry_id

    # -- moving a change along (seed data, demo, tests) ---------------------------------------------

    def walk(
        self, ref: str, target: str, user: str, reason: str | None = None, approve: bool = True
    ) -> Entry:
        """Move a change along the normal path to ``target``, approving each phase on the way (or,
        with ``approve=False``, stopping at the first phase that waits for the CAB).

        ``reason`` is the Status Reason for Completed / Closed. Stops early when a status cannot be
        reached (e.g. from Rejected or Cancelled), raising :class:`ApprovalError`.
        """
        with self.state.lock:
            for _ in range(2 * len(HAPPY_PATH)):
                entry = self.state.find_change(ref)
                if entry is None:
                    raise KeyError(f"no change request {ref!r}")
                status = entry.values["Change Request Status"]
                if status == target:
                    return entry
                if "waiting" in entry.hidden:
                    if not approve:
                        return entry
                    self.decide(ref, approve=True, approver=None, comment=None)
                    continue
                if status not in HAPPY_PATH or HAPPY_PATH.index(status) >= HAPPY_PATH.index(target):
                    raise ApprovalError(f"cannot walk {ref} from {status!r} to {target!r}")
                step = HAPPY_PATH[HAPPY_PATH.index(status) + 1]
                change: dict[str, Any] = {"Change Request Status": step}
                if step in ("Completed", "Closed"):
                    change["Status Reason"] = reason or "Successful"
                self.update_change(entry, change, user)
            raise ApprovalError(f"cannot walk {ref} to {target!r}")


HAPPY_PATH = (
    "Draft",
    "Request For Authorization",
    "Request For Change",
    "Planning In Progress",
    "Scheduled For Review",
    "Scheduled For Approval",
    "Scheduled",
    "Implementation In Progress",
    "Completed",
    "Closed",
)

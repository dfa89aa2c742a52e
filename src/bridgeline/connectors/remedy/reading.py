"""Reading Remedy changes back the way reverse rules see them (docs/itsm.md, "The target").

::

    {"system": "remedy", "record": "change", "number": "CRQ000000000106", "url": "...",
     "state": "scheduled", "raw_state": "Scheduled", "approval": "approved", "approver": "Mary Mann",
     "approval_comment": "CAB 2024-05-02", "planned_start": "2024-06-15T03:00:00.000+0000",
     "planned_end": "...", "close_code": None, "close_notes": None, "fields": {...}}

The approval comes from the change's ``AP:Detail-Signature`` entries: an open one means the CAB
has been asked (``requested``); otherwise the latest decided one says ``approved`` or
``rejected``, who signed (their full name from ``CTM:People``) and what they wrote.
"""

from __future__ import annotations

from typing import Any

from bridgeline.connectors.remedy import status as flow
from bridgeline.connectors.remedy.client import RemedyClient, quoted
from bridgeline.model import TargetRef

CHANGE = "CHG:Infrastructure Change"
TASK = "TMS:Task"
WORK_LOG = "CHG:WorkLog"
# the change's work info, as a mapping or a deployment rule names it
WORK_INFO_NOTES = "Work Info Notes"
SIGNATURE = "AP:Detail-Signature"
PEOPLE = "CTM:People"
SIGNATURE_FIELDS = ("Signature ID", "Approval Status", "Approvers", "Approver Signature", "Comments")
WORK_LOG_FIELDS = (
    "Work Log ID",
    "Infrastructure Change ID",
    "Work Log Type",
    "Description",
    "Detailed Description",
    "Work Log Submitter",
    "Submit Date",
)
DECIDED = {"Approved": "approved", "Rejected": "rejected"}


class RemedyReader:
    def __init__(self, client: RemedyClient) -> None:
        self.client = client
        self._names: dict[str, str] = {}

    async def read(self, ref: TargetRef, url: str) -> dict[str, Any]:
        if ref.kind == "task":
            return await self._task(ref, url)
        values = await self.client.get(CHANGE, ref.id)
        status = str(values.get("Change Request Status") or "")
        approval, approver, comment = await self._approval(str(values.get("Request ID") or ref.id))
        final = status in (flow.COMPLETED, flow.CLOSED, flow.CANCELLED)
        return {
            "system": "remedy",
            "record": "change",
            "number": values.get("Infrastructure Change ID") or ref.number,
            "url": url,
            "state": flow.STATE_NAMES.get(status, status.lower()),
            "raw_state": status,
            "approval": approval,
            "approver": approver,
            "approval_comment": comment,
            "planned_start": values.get("Scheduled Start Date"),
            "planned_end": values.get("Scheduled End Date"),
            "close_code": values.get("Status Reason") if final else None,
            "close_notes": None,
            "fields": values,
        }

    async def work_info(self, number: str) -> list[dict[str, Any]]:
        """The work info entries (``CHG:WorkLog``) of a change by its CRQ number, oldest first."""
        return [
            values
            async for values in self.client.entries(
                WORK_LOG,
                f"'Infrastructure Change ID' = {quoted(number)}",
                fields=WORK_LOG_FIELDS,
                sort="Submit Date.asc,Work Log ID.asc",
            )
        ]

    async def last_journal(self, kind: str, request_id: str) -> dict[str, str]:
        """The text of the change's newest work info entry (absent when it has none), as for
        ServiceNow's journal fields: a note begun but not recorded is not added twice."""
        if kind == "task":
            return {}
        change = await self.client.get(CHANGE, request_id, fields=("Infrastructure Change ID",))
        number = str(change.get("Infrastructure Change ID") or request_id)
        entries = await self.work_info(number)
        if not entries:
            return {}
        return {WORK_INFO_NOTES: str(entries[-1].get("Detailed Description") or "")}

    async def _task(self, ref: TargetRef, url: str) -> dict[str, Any]:
        values = await self.client.get(TASK, ref.id)
        status = str(values.get("Status") or "")
        return {
            "system": "remedy",
            "record": "task",
            "number": values.get("Task ID") or ref.id,
            "url": url,
            "state": status.lower().replace(" ", "_"),
            "raw_state": status,
            "approval": None,
            "approver": None,
            "approval_comment": None,
            "planned_start": values.get("Scheduled Start Date"),
            "planned_end": values.get("Scheduled End Date"),
            "close_code": values.get("StatusReasonSelection"),
            "close_notes": values.get("Notes"),
            "fields": values,
        }

    async def _approval(self, request_id: str) -> tuple[str, str | None, str | None]:
        signatures = [
            s
            async for s in self.client.entries(
                SIGNATURE, f"'Request' = {quoted(request_id)}", fields=SIGNATURE_FIELDS
            )
        ]
        if any(s.get("Approval Status") == "Pending" for s in signatures):
            return "requested", None, None
        decided = [s for s in signatures if s.get("Approval Status") in DECIDED]
        if not decided:
            return "not requested", None, None
        last = max(decided, key=lambda s: str(s.get("Signature ID") or ""))
        login = str(last.get("Approver Signature") or last.get("Approvers") or "")
        return DECIDED[str(last["Approval Status"])], await self._person(login), last.get("Comments")

    async def _person(self, login: str) -> str | None:
        """A login's full name (``mary`` -> ``Mary Mann``), looked up once."""
        if not login:
            return None
        if login not in self._names:
            person = await self.client.first(
                PEOPLE,
                f"'Remedy Login ID' = {quoted(login)}",
                fields=("Full Name", "First Name", "Last Name"),
            )
            name = login
            if person:
                name = (
                    person.get("Full Name")
                    or " ".join(p for p in (person.get("First Name"), person.get("Last Name")) if p)
                    or login
                )
            self._names[login] = str(name)
        return self._names[login]

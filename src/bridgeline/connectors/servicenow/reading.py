"""Reading ServiceNow records back the way reverse rules see them (docs/itsm.md, "The target").

::

    {"system": "servicenow", "record": "change_request", "number": "CHG0030007", "url": "...",
     "state": "scheduled", "raw_state": "-2", "approval": "approved", "approver": "Alex Mercer",
     "approval_comment": "CAB 2025-03-04", "planned_start": "2025-03-07 20:00:00",
     "planned_end": "2025-03-08 04:00:00", "close_code": "", "close_notes": "", "fields": {...}}

The approver and the CAB's comment come from the decided ``sysapproval_approver`` record; its
comments, like every journal field, live in ``sys_journal_field`` (they read back empty on the
record itself).
"""

from __future__ import annotations

from typing import Any

from bridgeline.connectors.servicenow import states
from bridgeline.connectors.servicenow.client import ServiceNowClient
from bridgeline.connectors.servicenow.references import REFERENCE_FIELDS, ReferenceResolver
from bridgeline.errors import RemoteRejected
from bridgeline.log import get_logger
from bridgeline.model import TargetRef

log = get_logger("bridgeline.servicenow")

JOURNAL_FIELDS = ("work_notes", "comments")


def server_message(exc: RemoteRejected) -> str:
    """ServiceNow's own words from a refused call (``error.message`` and ``detail``)."""
    body = exc.details
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        message, detail = str(err.get("message") or ""), str(err.get("detail") or "")
        return f"{message} ({detail})" if message and detail else message or detail or str(exc)
    return str(exc)


def values_of(both: dict[str, Any]) -> dict[str, Any]:
    """A record read with ``sysparm_display_value=all`` as the plain values the Table API sends."""
    return {k: _value(v) for k, v in both.items()}


def _value(field: Any) -> str:
    """A value read with ``sysparm_display_value=all``: the stored value."""
    return str(field.get("value", "")) if isinstance(field, dict) else str(field or "")


def _display(field: Any) -> str:
    return str(field.get("display_value", "")) if isinstance(field, dict) else str(field or "")


class RecordReader:
    def __init__(self, client: ServiceNowClient, references: ReferenceResolver) -> None:
        self.client = client
        self.references = references

    async def read(self, ref: TargetRef, url: str) -> dict[str, Any]:
        both = await self.client.get(ref.kind, ref.id, display_value="all")
        return await self.normalize(ref, both, url)

    async def normalize(self, ref: TargetRef, both: dict[str, Any], url: str) -> dict[str, Any]:
        """A record answered with ``sysparm_display_value=all`` (by a read, or by the write that
        made it), normalized for reverse rules; a decided approval's approver and comment are read."""
        record = {k: _value(v) for k, v in both.items()}
        for name in REFERENCE_FIELDS:  # names seen here compare equal to the sys_ids they stand for
            if isinstance(both.get(name), dict):
                self.references.learn(name, _display(both[name]), record[name])
        raw_state = str(record.get("state", ""))
        approval = record.get("approval") or None
        approver = comment = None
        if ref.kind == "change_request" and approval in ("approved", "rejected"):
            approver, comment = await self._decision(ref.id, approval)
        return {
            "system": "servicenow",
            "record": ref.kind,
            "number": record.get("number"),
            "url": url,
            "state": states.state_name(ref.kind, raw_state),
            "raw_state": raw_state,
            "approval": approval,
            "approver": approver,
            "approval_comment": comment,
            "planned_start": record.get("start_date") or record.get("planned_start_date") or None,
            "planned_end": record.get("end_date") or record.get("planned_end_date") or None,
            "close_code": record.get("close_code") or None,
            "close_notes": record.get("close_notes") or None,
            "fields": record,
        }

    async def _decision(self, change_id: str, approval: str) -> tuple[str | None, str | None]:
        """Who decided (their name) and what they wrote, from the latest decided approval record."""
        rows = [
            row
            async for row in self.client.query(
                "sysapproval_approver",
                f"sysapproval={change_id}^state={approval}^ORDERBYDESCsys_updated_on",
                fields=["sys_id", "approver", "state", "sys_updated_on"],
                limit=1,
                display_value="all",
            )
        ]
        if not rows:
            return None, None
        row = rows[0]
        approver = _display(row.get("approver")) or _value(row.get("approver")) or None
        journal = await self._journal("sysapproval_approver", _value(row.get("sys_id")), ("comments",))
        return approver, journal.get("comments")

    async def last_journal(self, kind: str, sys_id: str) -> dict[str, str]:
        """What was last appended to each journal field of a record (absent when nothing was)."""
        try:
            return await self._journal(kind, sys_id, JOURNAL_FIELDS)
        except RemoteRejected as exc:  # sys_journal_field may be closed to the integration account
            log.warning("cannot read journal entries; they may be appended again", error=str(exc))
            return {}

    async def _journal(self, table: str, sys_id: str, elements: tuple[str, ...]) -> dict[str, str]:
        last: dict[str, str] = {}
        async for row in self.client.query(
            "sys_journal_field",
            f"element_id={sys_id}^name={table}^elementIN{','.join(elements)}^ORDERBYsys_created_on",
            fields=["element", "value", "sys_created_on"],
            limit=200,
        ):
            last[str(row.get("element"))] = str(row.get("value") or "")
        return last

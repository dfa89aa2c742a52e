"""ServiceNow as a target: find by correlation id, create, update only what changed, retire.

Creating is made safe against unknown outcomes (a timeout, a connection cut after the request
was sent, the 60 s transaction limit): before anything is sent again the record is looked up by
its correlation id, so a create is never repeated blindly.
"""

from __future__ import annotations

from typing import Any

from bridgeline.connectors.http import TransientHTTPError
from bridgeline.connectors.servicenow.client import ServiceNowClient
from bridgeline.errors import RetryableError
from bridgeline.model import TargetRef, WriteResult

CHANGE_STATES = {
    "-5": "new",
    "-4": "assess",
    "-3": "authorize",
    "-2": "scheduled",
    "-1": "implement",
    "0": "review",
    "3": "closed",
    "4": "canceled",
}
# What "cancel" and "close" mean for each record type, when the mapping does not say.
RETIRE_DEFAULTS: dict[str, dict[str, dict[str, str]]] = {
    "change_request": {
        "cancel": {"state": "4"},
        "close": {"state": "3", "close_code": "successful", "close_notes": "Closed by bridgeline"},
    },
    "change_task": {
        "cancel": {"state": "4", "close_notes": "Cancelled by bridgeline: removed from the release"},
        "close": {"state": "3", "close_notes": "Closed by bridgeline"},
    },
}


def _clean(value: Any) -> str:
    """ServiceNow stores strings; None clears a field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ServiceNowTarget:
    """Table API target (``servicenow.api: table``)."""

    system = "servicenow"

    def __init__(self, client: ServiceNowClient, *, base_url: str) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")

    def record_url(self, ref: TargetRef) -> str:
        return f"{self.base_url}/{ref.kind}.do?sys_id={ref.id}"

    def _ref(self, kind: str, record: dict[str, Any]) -> TargetRef:
        ref = TargetRef(self.system, kind, str(record["sys_id"]), record.get("number") or None)
        return TargetRef(ref.system, ref.kind, ref.id, ref.number, self.record_url(ref))

    async def find(
        self,
        kind: str,
        correlation_id: str,
        *,
        parent: TargetRef | None = None,
        options: dict[str, Any] | None = None,
    ) -> WriteResult | None:
        query = f"correlation_id={correlation_id}"
        if parent is not None and kind == "change_task":
            query += f"^change_request={parent.id}"  # the same issue may be in two releases
        record = await self.client.first(kind, query + "^ORDERBYsys_created_on")
        if record is None:
            return None
        return WriteResult("adopt", self._ref(kind, record), record=record)

    async def create(
        self,
        kind: str,
        fields: dict[str, Any],
        *,
        correlation_id: str,
        parent: TargetRef | None = None,
        options: dict[str, Any] | None = None,
    ) -> WriteResult:
        values = {k: _clean(v) for k, v in fields.items()}
        values["correlation_id"] = correlation_id
        values.setdefault("correlation_display", "bridgeline")
        if parent is not None and kind == "change_task":
            values["change_request"] = parent.id
        try:
            record = await self.client.insert(kind, values)
        except TransientHTTPError as exc:
            if not exc.maybe_applied:
                raise
            # The create may have happened: look before anyone tries again.
            found = await self.find(kind, correlation_id, parent=parent)
            if found is not None:
                return found
            raise RetryableError(
                f"creating a {kind} for {correlation_id} had an unknown outcome; it was not created, "
                "will retry"
            ) from exc
        return WriteResult("create", self._ref(kind, record), fields=values, record=record)

    async def update(
        self, ref: TargetRef, fields: dict[str, Any], *, options: dict[str, Any] | None = None
    ) -> WriteResult:
        values = {k: _clean(v) for k, v in fields.items()}
        record = await self.client.patch(ref.kind, ref.id, values)
        return WriteResult("update", self._ref(ref.kind, record), fields=values, record=record)

    async def retire(
        self, ref: TargetRef, action: str, fields: dict[str, Any], *, options: dict[str, Any] | None = None
    ) -> WriteResult:
        values = {
            **RETIRE_DEFAULTS.get(ref.kind, {}).get(action, {}),
            **{k: _clean(v) for k, v in fields.items()},
        }
        record = await self.client.patch(ref.kind, ref.id, values)
        return WriteResult("retire", self._ref(ref.kind, record), fields=values, record=record)

    async def read(self, ref: TargetRef) -> dict[str, Any]:
        record = await self.client.get(ref.kind, ref.id)
        state = str(record.get("state", ""))
        return {
            "system": self.system,
            "record": ref.kind,
            "number": record.get("number"),
            "url": self.record_url(ref),
            "state": CHANGE_STATES.get(state, state) if ref.kind == "change_request" else state,
            "raw_state": state,
            "approval": record.get("approval"),
            "planned_start": record.get("start_date"),
            "planned_end": record.get("end_date"),
            "close_code": record.get("close_code"),
            "close_notes": record.get("close_notes"),
            "fields": record,
        }

    async def aclose(self) -> None:
        await self.client.aclose()

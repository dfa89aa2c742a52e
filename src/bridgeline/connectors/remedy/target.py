"""BMC Remedy as a target: infrastructure changes (and their tasks) found by correlation value.

- **Create** through ``CHG:ChangeInterface_Create`` (``z1D_Action=CREATE``), asking the server for
  the new change's ``Change_Entry_ID`` (its Request ID) and ``Infrastructure Change Id`` (the CRQ
  number) instead of trusting ``Location``, which names the interface entry. The correlation id
  goes in ``Vendor Ticket Number``.
- **Update** with ``PUT`` on ``CHG:Infrastructure Change``; the interface form's spellings a
  mapping uses (``Status``, ``Company3``) are written as the change form's
  (``Change Request Status``, ``Support Company``).
- **Status** changes are walked through Remedy's flow one allowed status at a time; a refusal
  (a CAB gate, a missing Status Reason) is a :class:`TransitionRefused` with Remedy's own words.
- **Work info**: ``Work Info Notes`` among the fields of a create or update is not a field of the change
  but a new ``CHG:WorkLog`` entry on it (``Detailed Description``; ``Work Info Summary``,
  ``Work Info Type`` and ``Work Info View Access`` fill ``Description``, ``Work Log Type`` and
  ``View Access``, default the first line, ``General Information`` and ``Internal``), added after
  the change's own fields and status.
- **Tasks** (children of a change mapping) are ``TMS:Task`` entries under the change; their
  correlation id goes in a generic character field (``Character 01`` by default).

Creates are safe against unknown outcomes the same way as for ServiceNow: look up by correlation
value first; when it is not there, the retry waits ``create_settle_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from bridgeline.connectors.http import RetryPolicy
from bridgeline.connectors.remedy import status as flow
from bridgeline.connectors.remedy.client import RemedyClient, entry_id_from_location, quoted, remedy_messages
from bridgeline.connectors.remedy.reading import CHANGE, TASK, WORK_INFO_NOTES, WORK_LOG, RemedyReader
from bridgeline.errors import (
    PermanentError,
    RemoteRejected,
    RemoteUnavailable,
    RetryableError,
    TransitionRefused,
)
from bridgeline.log import get_logger
from bridgeline.model import TargetRef, WriteResult

log = get_logger("bridgeline.remedy")

CREATE = "CHG:ChangeInterface_Create"
CORRELATION_FIELD = "Vendor Ticket Number"
# the create interface's spellings -> the change form's
TO_CHANGE_FORM = {"Status": "Change Request Status", "Company3": "Support Company"}
CREATE_ONLY = frozenset({"z1D_Action", "TemplateID"})
STATUS = "Change Request Status"
WALK_FIELDS = ("Request ID", "Infrastructure Change ID", STATUS, "Status Reason")
RETIRE_CHANGE = {
    "cancel": {STATUS: flow.CANCELLED, "Status Reason": "No Longer Required"},
    "close": {STATUS: flow.CLOSED, "Status Reason": "Successful"},
}
RETIRE_TASK = {
    "cancel": {"Status": "Closed", "StatusReasonSelection": "Canceled"},
    "close": {"Status": "Closed", "StatusReasonSelection": "Success"},
}
_MAX_STEPS = 14
# what an update may say of a work info entry -> the CHG:WorkLog field
WORK_INFO = {
    WORK_INFO_NOTES: "Detailed Description",
    "Work Info Summary": "Description",
    "Work Info Type": "Work Log Type",
    "Work Info View Access": "View Access",
}


class RemedyTarget:
    """Changes and change tasks in BMC Remedy / Helix ITSM."""

    system = "remedy"

    def __init__(
        self,
        client: RemedyClient,
        *,
        web_url: str,
        ar_server: str = "remedy",
        task_correlation_field: str = "Character 01",
        create_settle_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        own_user: str | None = None,
        look_before_create: str = "after_interruption",
    ) -> None:
        self.client = client
        self.look_before_create = look_before_create  # read by the reconciler
        self.own_user = own_user  # the login bridgeline writes as
        self.reader = RemedyReader(client)
        self.web_url = web_url.rstrip("/")
        self.ar_server = ar_server
        self.task_field = task_correlation_field
        self.create_settle_seconds = create_settle_seconds
        self.clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> RemedyTarget:
        return cls(
            RemedyClient.from_settings(settings, transport=transport, retry=retry),
            web_url=settings.web_url or settings.url,
            ar_server=settings.ar_server,
            task_correlation_field=settings.task_correlation_field,
            create_settle_seconds=settings.create_settle_seconds,
            own_user=settings.username,
            look_before_create=settings.look_before_create,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def record_url(self, ref: TargetRef) -> str:
        form = TASK if ref.kind == "task" else CHANGE
        return f"{self.web_url}/arsys/forms/{self.ar_server}/{quote(form, safe=':')}/?eid={quote(ref.id)}"

    def _ref(self, kind: str, entry_id: str, number: str | None) -> TargetRef:
        ref = TargetRef(self.system, kind, entry_id, number or entry_id)
        return TargetRef(ref.system, ref.kind, ref.id, ref.number, self.record_url(ref))

    @staticmethod
    def _is_task(kind: str, parent: TargetRef | None) -> bool:
        # a child of a change mapping is a task, whatever record name the mapping gave it
        return kind == "task" or parent is not None

    # -- finding -----------------------------------------------------------------------------

    async def find(
        self,
        kind: str,
        correlation_id: str,
        *,
        parent: TargetRef | None = None,
        options: dict[str, Any] | None = None,
    ) -> WriteResult | None:
        if self._is_task(kind, parent):
            q = f"'{self.task_field}' = {quoted(correlation_id)}"
            if parent is not None:
                q += f" AND 'RootRequestID' = {quoted(parent.number or parent.id)}"
            values = await self.client.first(TASK, q, sort="Task ID.asc")
            if values is None:
                return None
            return WriteResult("adopt", self._ref("task", str(values["Task ID"]), None), record=values)
        q = f"'{CORRELATION_FIELD}' = {quoted(correlation_id)}"
        values = await self.client.first(CHANGE, q, sort="Submit Date.asc")
        if values is None:
            return None
        # what a mapping calls these on the create form, so an adopted change compares like for like
        for create_name, change_name in TO_CHANGE_FORM.items():
            values.setdefault(create_name, values.get(change_name))
        ref = self._ref("change", str(values["Request ID"]), values.get("Infrastructure Change ID"))
        return WriteResult("adopt", ref, record=values)

    # -- creating ----------------------------------------------------------------------------

    async def create(
        self,
        kind: str,
        fields: dict[str, Any],
        *,
        correlation_id: str,
        parent: TargetRef | None = None,
        options: dict[str, Any] | None = None,
    ) -> WriteResult:
        if self._is_task(kind, parent):
            return await self._create_task(fields, correlation_id, parent)
        values = {("Status" if k == STATUS else k): v for k, v in fields.items()}
        note = {k: values.pop(k) for k in WORK_INFO if k in values}  # an entry of its own, once it exists
        wanted = flow.status_label(values.pop("Status")) if values.get("Status") else flow.DRAFT
        reason = values.get("Status Reason")
        initial = wanted if wanted in flow.INITIAL else flow.DRAFT
        if initial != wanted:
            values.pop("Status Reason", None)  # it belongs to the status the walk ends in
        values.update({"z1D_Action": "CREATE", "Status": initial, CORRELATION_FIELD: correlation_id})
        sent_at = self.clock()
        try:
            _location, answered = await self.client.create(
                CREATE, values, fields=["Infrastructure Change Id", "Change_Entry_ID"]
            )
            request_id, number = answered.get("Change_Entry_ID"), answered.get("Infrastructure Change Id")
        except RemoteUnavailable as exc:
            if not exc.maybe_applied:
                raise
            # the create may have happened: look before anyone tries again
            found = await self.find(kind, correlation_id)
            if found is None:
                raise self._not_created(correlation_id, exc, sent_at) from exc
            request_id, number = found.target.id, found.target.number
        if not request_id:  # the server did not send the fields back (or the outcome was unknown)
            found = await self.find(kind, correlation_id)
            if found is None:
                raise RetryableError(f"remedy: the change for {correlation_id} is not found after its create")
            request_id, number = found.target.id, found.target.number
        ref = self._ref("change", str(request_id), number)
        record: dict[str, Any] = {"Request ID": request_id, "Infrastructure Change ID": number}
        values["Status"] = wanted
        if wanted != initial:
            current = await self.client.get(CHANGE, ref.id, fields=WALK_FIELDS)
            record = await self._walk(ref, current, wanted, reason, {})
        if note.get(WORK_INFO_NOTES):
            await self._add_note(ref, note)
        return WriteResult("create", ref, fields={**values, **note}, record=record)

    async def _create_task(
        self, fields: dict[str, Any], correlation_id: str, parent: TargetRef | None
    ) -> WriteResult:
        if parent is None:
            raise PermanentError("remedy: a change task is made under its change (no parent)")
        values = dict(fields)
        values[self.task_field] = correlation_id
        if self.task_field.startswith("Character 0"):
            values.setdefault("LabelCharacter0" + self.task_field[-1], "bridgeline correlation id")
        values["RootRequestID"] = parent.number or parent.id
        sent_at = self.clock()
        try:
            location, answered = await self.client.create(TASK, values, fields=["Task ID"])
        except RemoteUnavailable as exc:
            if not exc.maybe_applied:
                raise
            found = await self.find("task", correlation_id, parent=parent)
            if found is None:
                raise self._not_created(correlation_id, exc, sent_at) from exc
            return WriteResult("create", found.target, fields=values, record=found.record)
        task_id = answered.get("Task ID") or entry_id_from_location(location)
        if not task_id:
            raise RetryableError(f"remedy: the task for {correlation_id} was created but its id is unknown")
        return WriteResult("create", self._ref("task", str(task_id), None), fields=values, record=answered)

    def _not_created(self, correlation_id: str, exc: RemoteUnavailable, sent_at: float) -> RetryableError:
        answered = exc.status is not None and exc.status != 504
        wait = 0.0 if answered else max(0.0, self.create_settle_seconds - (self.clock() - sent_at))
        return RetryableError(
            f"remedy: creating the entry for {correlation_id} had an unknown outcome ({exc}); it is not "
            + (
                f"there yet, so it is looked for again in {wait:.0f}s before a retry"
                if wait
                else "there; will retry"
            ),
            retry_after=wait or None,
        )

    # -- updating ----------------------------------------------------------------------------

    async def update(
        self, ref: TargetRef, fields: dict[str, Any], *, options: dict[str, Any] | None = None
    ) -> WriteResult:
        if ref.kind == "task":
            await self.client.update(TASK, ref.id, dict(fields))
            return WriteResult("update", ref, fields=dict(fields))
        values = {TO_CHANGE_FORM.get(k, k): v for k, v in fields.items() if k not in CREATE_ONLY}
        note = {k: values.pop(k) for k in WORK_INFO if k in values}
        record = await self._write(ref, values) if values else {}
        if note.get(WORK_INFO_NOTES):
            await self._add_note(ref, note)
        return WriteResult("update", ref, fields={**values, **note}, record=record)

    async def _add_note(self, ref: TargetRef, note: dict[str, Any]) -> None:
        await self.add_work_info(
            ref,
            str(note[WORK_INFO_NOTES]),
            summary=note.get("Work Info Summary"),
            work_type=note.get("Work Info Type"),
            view_access=note.get("Work Info View Access"),
        )

    async def add_work_info(
        self,
        ref: TargetRef,
        text: str,
        *,
        summary: str | None = None,
        work_type: str | None = None,
        view_access: str | None = None,
    ) -> str | None:
        """A ``CHG:WorkLog`` entry on the change; its Work Log ID.

        Not repeated when the answer is lost: the change's work info is read instead, and a newest
        entry with this text is the one that was added."""
        number = ref.number or ref.id
        values = {
            "Infrastructure Change ID": number,
            "Work Log Type": work_type or "General Information",
            "Description": _summary(summary or text),
            "Detailed Description": text,
            "View Access": view_access or "Internal",
            "Secure Work Log": "No",
        }
        try:
            location, answered = await self.client.create(WORK_LOG, values, fields=["Work Log ID"])
        except RemoteUnavailable as exc:
            if not exc.maybe_applied:
                raise
            entries = await self.reader.work_info(number)
            if entries and entries[-1].get("Detailed Description") == text:
                return str(entries[-1].get("Work Log ID") or "") or None
            raise
        return answered.get("Work Log ID") or entry_id_from_location(location)

    async def retire(
        self, ref: TargetRef, action: str, fields: dict[str, Any], *, options: dict[str, Any] | None = None
    ) -> WriteResult:
        if ref.kind == "task":
            values = {**RETIRE_TASK.get(action, {}), **fields}
            await self.client.update(TASK, ref.id, values)
            return WriteResult("retire", ref, fields=values)
        values = {
            **RETIRE_CHANGE.get(action, {}),
            **{TO_CHANGE_FORM.get(k, k): v for k, v in fields.items() if k not in CREATE_ONLY},
        }
        record = await self._write(ref, values)
        return WriteResult("retire", ref, fields=values, record=record)

    async def _write(self, ref: TargetRef, values: dict[str, Any]) -> dict[str, Any]:
        if not values.get(STATUS):
            values.pop(STATUS, None)
            if values:
                await self.client.update(CHANGE, ref.id, values)
            return values
        rest = {k: v for k, v in values.items() if k not in (STATUS, "Status Reason")}
        reason = values.get("Status Reason") if "Status Reason" in values else None
        current = await self.client.get(CHANGE, ref.id, fields=WALK_FIELDS)
        return await self._walk(ref, current, flow.status_label(values[STATUS]), reason, rest)

    # -- the status flow ---------------------------------------------------------------------

    async def _walk(
        self, ref: TargetRef, record: dict[str, Any], target: str, reason: str | None, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Move a change to ``target`` one allowed status at a time; ``values`` go with the first
        write, the ``Status Reason`` with the status it belongs to."""
        for _ in range(_MAX_STEPS):
            current = str(record.get(STATUS) or flow.DRAFT)
            try:
                steps = flow.way_forward(current, target)
            except flow.Refusal as why:
                raise self._refused(record, target, target, str(why)) from None
            if not steps:
                if current == target and reason is not None and reason != record.get("Status Reason"):
                    values = {**values, "Status Reason": reason}
                if values:
                    await self.client.update(CHANGE, ref.id, values)
                return {**record, **values}
            step = steps[0]
            body = {**values, STATUS: step}
            if reason is not None and (step == target or (step == flow.COMPLETED and target == flow.CLOSED)):
                body["Status Reason"] = reason
            unknown: RemoteUnavailable | None = None
            try:
                await self.client.update(CHANGE, ref.id, body, idempotent=False)
            except RemoteRejected as exc:
                if exc.status != 400:
                    raise
                raise self._refused(record, step, target, remedy_messages(exc.details) or str(exc)) from exc
            except RemoteUnavailable as exc:
                if not exc.maybe_applied:
                    raise
                unknown = exc  # read what happened instead of repeating a status change
            values = {}
            moved = await self.client.get(CHANGE, ref.id, fields=WALK_FIELDS)
            if moved.get(STATUS) == current:
                if unknown is not None:
                    raise unknown
                raise self._refused(record, step, target, "the server kept its status")
            record = moved
        raise self._refused(record, target, target, f"not reached after {_MAX_STEPS} steps")

    @staticmethod
    def _refused(record: dict[str, Any], step: str, target: str, reason: str) -> TransitionRefused:
        number = record.get("Infrastructure Change ID") or record.get("Request ID")
        on_the_way = f' on the way to "{target}"' if step != target else ""
        return TransitionRefused(
            f'Remedy refused to move change {number} from "{record.get(STATUS)}" to "{step}"{on_the_way}: '
            f"{reason}"
        )

    # -- reading -----------------------------------------------------------------------------

    async def read(self, ref: TargetRef) -> dict[str, Any]:
        """The change normalized for reverse rules (status name, approval, approver, window, reason)."""
        return await self.reader.read(ref, self.record_url(ref))

    def written_only_by_us(self, kind: str, record: dict[str, Any]) -> bool:
        """Whether bridgeline's login made the entry's last change."""
        return bool(self.own_user) and record.get("Last Modified By") == self.own_user

    def same_value(self, kind: str, name: str, ours: Any, theirs: Any) -> bool:
        """Whether a value bridgeline wrote is what the entry now holds (``3`` is ``"3"``, a status
        in any case is its label)."""
        a = "" if ours is None else str(ours).strip()
        b = "" if theirs is None else str(theirs).strip()
        if a == b:
            return True
        if name in (STATUS, "Status") and kind == "change":
            try:
                return flow.status_label(a) == b
            except PermanentError:
                return False
        try:
            return float(a) == float(b)
        except ValueError:
            return False


def _summary(text: str, limit: int = 100) -> str:
    """A work info summary: the first line of ``text``, cut to what ``Description`` holds."""
    line = text.strip().splitlines()[0] if text.strip() else "bridgeline"
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."

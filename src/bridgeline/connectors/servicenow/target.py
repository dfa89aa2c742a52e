"""ServiceNow as a target: find by correlation id, create, update only what changed, walk states, retire.

Two ways in, chosen per mapping (``options["api"]``, default from the settings):

- ``table``: ``change_request`` and ``change_task`` through the Table API, the task pointing at
  its change through ``change_request``; states are walked along the model bridgeline knows.
- ``change``: the Change Management API: a normal, emergency or standard change (from a template,
  by sys_id or name), tasks under ``/change/{id}/task``, states walked as ``/nextstates`` allows.
  Updates of change tasks go through the Table API in both modes (a task is a plain record).

Creating is safe against unknown outcomes (a timeout, a connection cut after the request was
sent): the record is looked up by its correlation id before anything is sent again, and when it is
not there yet the retry waits until the instance has surely ended the first request (its REST
transaction limit), so a slow create that still lands never gets a twin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from bridgeline.connectors.http import RetryPolicy
from bridgeline.connectors.servicenow import states
from bridgeline.connectors.servicenow.batch import BatchAnswer, BatchClient, BatchRequest, item_error
from bridgeline.connectors.servicenow.changeapi import ChangeApiClient, flat_value, flatten
from bridgeline.connectors.servicenow.client import ServiceNowClient
from bridgeline.connectors.servicenow.reading import RecordReader, server_message, values_of
from bridgeline.connectors.servicenow.references import SYS_ID, ReferenceResolver
from bridgeline.connectors.target import BatchWrite
from bridgeline.errors import (
    BridgelineError,
    PermanentError,
    RemoteRejected,
    RemoteUnavailable,
    RetryableError,
    TransitionRefused,
)
from bridgeline.log import get_logger
from bridgeline.model import TargetRef, WriteResult

log = get_logger("bridgeline.servicenow")

# What "cancel" and "close" mean for each record type, when the mapping does not say.
RETIRE_DEFAULTS: dict[str, dict[str, dict[str, str]]] = {
    "change_request": {
        "cancel": {"state": states.CANCELED},
        "close": {"state": states.CLOSED, "close_code": "successful", "close_notes": "Closed by bridgeline"},
    },
    "change_task": {
        "cancel": {"state": "4", "close_notes": "Cancelled by bridgeline: removed from the release"},
        "close": {"state": "3", "close_notes": "Closed by bridgeline"},
    },
}
# Set by the Change API itself on create: not worth a warning when it says it ignored them.
_CREATE_MANAGED = {"state", "type", "approval", "number", "change_request", "parent"}
_MAX_STEPS = 12


def _clean(value: Any) -> str:
    """ServiceNow stores strings; None clears a field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ServiceNowTarget:
    """Change requests and change tasks in ServiceNow, through the Table API or the Change API."""

    system = "servicenow"

    def __init__(
        self,
        client: ServiceNowClient,
        *,
        base_url: str,
        api: str = "table",
        transaction_limit: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        own_user: str | None = None,
        look_before_create: str = "after_interruption",
        batch: bool = True,
        batch_size: int = 100,
    ) -> None:
        self.client = client
        self.look_before_create = look_before_create  # read by the reconciler
        self.batch = BatchClient(client.http) if batch else None
        self.batch_size = batch_size
        self.own_user = own_user  # the user_name bridgeline writes as
        self.change_api = ChangeApiClient(client.http)
        self.references = ReferenceResolver(client)
        self.reader = RecordReader(client, self.references)
        self.base_url = base_url.rstrip("/")
        self.default_api = api
        self.transaction_limit = transaction_limit
        self.clock = clock
        self._templates: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> ServiceNowTarget:
        client = ServiceNowClient.from_settings(settings, transport=transport, retry=retry)
        return cls(
            client,
            base_url=settings.url,
            api=settings.api,
            transaction_limit=settings.transaction_limit,
            own_user=settings.own_user,
            look_before_create=settings.look_before_create,
            batch=settings.batch,
            batch_size=settings.batch_size,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def record_url(self, ref: TargetRef) -> str:
        return f"{self.base_url}/{ref.kind}.do?sys_id={ref.id}"

    def _ref(self, kind: str, record: dict[str, Any]) -> TargetRef:
        ref = TargetRef(self.system, kind, str(record["sys_id"]), record.get("number") or None)
        return TargetRef(ref.system, ref.kind, ref.id, ref.number, self.record_url(ref))

    def _api(self, options: dict[str, Any] | None) -> str:
        api = (options or {}).get("api") or self.default_api
        if api not in ("table", "change"):
            raise PermanentError(f"servicenow: unknown api {api!r} (use table or change)")
        return str(api)

    # -- finding -----------------------------------------------------------------------------

    async def find(
        self,
        kind: str,
        correlation_id: str,
        *,
        parent: TargetRef | None = None,
        options: dict[str, Any] | None = None,
    ) -> WriteResult | None:
        """The record carrying ``correlation_id`` (the oldest, should there be several)."""
        query = f"correlation_id={_escape(correlation_id)}"
        use_change_api = self._api(options) == "change" and kind == "change_request"
        if parent is not None and kind == "change_task":
            query += f"^change_request={parent.id}"  # the same issue may be in two releases
        query += "^ORDERBYsys_created_on"
        if use_change_api:
            rows = await self.change_api.query(query, limit=1)
            record = rows[0] if rows else None
        else:
            record = await self.client.first(kind, query)
        if record is None:
            return None
        # journal fields read back empty: what was last appended is what they hold, for comparison
        record.update(await self.reader.last_journal(kind, str(record["sys_id"])))
        return WriteResult("adopt", self._ref(kind, record), record=record)

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
        options = options or {}
        api = self._api(options)
        values = await self.references.resolve({k: _clean(v) for k, v in fields.items()})
        wanted_state: str | None = None
        if kind == "change_request":
            # a change starts in New; a later state is reached step by step once it exists
            wanted_state = values.pop("state", "") or None
        elif kind == "change_task" and values.get("state"):
            values["state"] = states.task_state(values["state"])  # tasks move freely
        values["correlation_id"] = correlation_id
        values.setdefault("correlation_display", "bridgeline")
        sent_at = self.clock()
        # a change request's answers come with display values: they are what the way back reads
        answers: list[dict[str, Any]] | None = [] if kind == "change_request" else None
        try:
            record, ignored = await self._insert(kind, values, parent, options, api, answers)
        except RemoteUnavailable as exc:
            if not exc.maybe_applied:
                raise
            # The create may have happened: look before anyone tries again.
            found = await self.find(kind, correlation_id, parent=parent, options=options)
            if found is None:
                raise self._not_created(kind, correlation_id, exc, sent_at) from exc
            log.info("an unknown-outcome create did happen", kind=kind, number=found.target.number)
            record, ignored, answers = found.record, [], None
        if ignored:
            log.warning(
                "ServiceNow ignored fields of a create",
                kind=kind,
                number=record.get("number"),
                fields=sorted(set(ignored) - _CREATE_MANAGED),
            )
        if wanted_state is not None:
            values["state"] = wanted_state
            record = await self._walk(kind, record, states.change_state(wanted_state), api, {}, answers)
        ref = self._ref(kind, record)
        seen = await self.reader.normalize(ref, answers[-1], ref.url or "") if answers else None
        return WriteResult("create", ref, fields=values, record=record, seen=seen)

    async def _insert(
        self,
        kind: str,
        values: dict[str, Any],
        parent: TargetRef | None,
        options: dict[str, Any],
        api: str,
        answers: list[dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        if kind == "change_task":
            if parent is None:
                raise PermanentError("servicenow: a change_task is made under its change request (no parent)")
            if api == "change":
                written = await self.change_api.create_task(parent.id, values)
                return written.record, written.ignored
            values["change_request"] = parent.id
            return await self.client.insert(kind, values), []
        if kind == "change_request":
            if parent is not None:
                values["parent"] = parent.id  # a child change of a release train
            change_type = str(options.get("type") or values.get("type") or "normal").lower()
            if api == "change":
                values.pop("type", None)
                template = None
                if change_type == "standard":
                    if not options.get("template"):
                        raise PermanentError("servicenow: a standard change needs target.template")
                    template = await self._template(str(options["template"]))
                written = await self.change_api.create(change_type, values, template=template)
                if answers is not None:
                    answers.append(_pairs(written.raw))
                return written.record, written.ignored
            values.setdefault("type", change_type)
            if options.get("template"):
                log.warning(
                    "a standard change template is applied by the Change API only; "
                    "set target.api: change to use it",
                    template=options["template"],
                )
        if answers is None:
            return await self.client.insert(kind, values), []
        both = await self.client.insert(kind, values, display_value="all")
        answers.append(both)
        return values_of(both), []

    def _not_created(
        self, kind: str, correlation_id: str, exc: RemoteUnavailable, sent_at: float
    ) -> RetryableError:
        # An instance that answered (500) has ended the transaction: what we found is final. One that
        # did not answer (timeout, cut connection, gateway 504) may still be working on it.
        answered = exc.status is not None and exc.status != 504
        wait = 0.0 if answered else max(0.0, self.transaction_limit - (self.clock() - sent_at))
        return RetryableError(
            f"creating a {kind} for {correlation_id} had an unknown outcome ({exc}); it is not there "
            + (f"yet, so it is looked for again in {wait:.0f}s before a retry" if wait else "; will retry"),
            retry_after=wait or None,
        )

    async def _template(self, template: str) -> str:
        """A standard change template's sys_id, from its sys_id or its name (looked up once)."""
        if SYS_ID.match(template):
            return template
        if template not in self._templates:
            rows = await self.change_api.templates(f"name={_escape(template)}", fields=["sys_id", "name"])
            if not rows:
                raise PermanentError(
                    f"servicenow: no standard change template named {template!r}; "
                    "give target.template as a template's sys_id or exact name"
                )
            self._templates[template] = str(rows[0]["sys_id"])
        return self._templates[template]

    # -- several writes in one call -------------------------------------------------------------

    async def write_batch(self, ops: list[BatchWrite]) -> list[WriteResult | BaseException] | None:
        """A change's task creates and updates through the Batch API, ``batch_size`` at a time: each
        write's result or error, in order (an error is the write's own: send it again on its own);
        None when batches are off or the instance does not answer them (remembered)."""
        if self.batch is None:
            return None
        out: list[WriteResult | BaseException] = []
        for start in range(0, len(ops), self.batch_size):
            chunk = ops[start : start + self.batch_size]
            prepared: list[tuple[BatchRequest, dict[str, Any]] | BaseException] = []
            for n, op in enumerate(chunk):
                try:
                    prepared.append(await self._batch_request(str(start + n), op))
                except BridgelineError as exc:
                    prepared.append(exc)
            requests = [p[0] for p in prepared if not isinstance(p, BaseException)]
            answers = await self.batch.send(requests) if requests else {}
            if answers is None:
                log.info("this ServiceNow instance does not answer the Batch API; writing one call each")
                self.batch = None
                return None if not out else out + [_NOT_BATCHED] * (len(ops) - len(out))
            for op, p in zip(chunk, prepared, strict=True):
                if isinstance(p, BaseException):
                    out.append(p)
                    continue
                request, values = p
                out.append(self._batch_result(op, request, values, answers.get(request.id)))
        return out

    async def _batch_request(self, item_id: str, op: BatchWrite) -> tuple[BatchRequest, dict[str, Any]]:
        if op.kind != "change_task":
            raise _NotBatched(f"servicenow: {op.kind} writes are not batched")
        api = self._api(op.options)
        values = await self.references.resolve({k: _clean(v) for k, v in op.fields.items()})
        if values.get("state"):
            values["state"] = states.task_state(values["state"])  # tasks move freely
        if op.action == "update":
            assert op.ref is not None
            url = f"/api/now/table/change_task/{op.ref.id}?sysparm_exclude_reference_link=true"
            return BatchRequest(item_id, "PATCH", url, values), values
        assert op.parent is not None and op.correlation_id is not None
        values["correlation_id"] = op.correlation_id
        values.setdefault("correlation_display", "bridgeline")
        if api == "change":
            return BatchRequest(
                item_id, "POST", f"/api/sn_chg_rest/change/{op.parent.id}/task", values
            ), values
        values["change_request"] = op.parent.id
        url = "/api/now/table/change_task?sysparm_exclude_reference_link=true"
        return BatchRequest(item_id, "POST", url, values), values

    def _batch_result(
        self, op: BatchWrite, request: BatchRequest, values: dict[str, Any], answer: BatchAnswer | None
    ) -> WriteResult | BaseException:
        where = f"{request.method} {request.url.split('?')[0]}"
        if answer is None or not answer.ok or not isinstance(answer.body, dict):
            return item_error(answer, where, "the batched call failed")
        result = answer.body.get("result")
        if not isinstance(result, dict) or "sys_id" not in result:
            return item_error(answer, where, "the batched call answered no record")
        record = flatten(result)[0] if request.url.startswith("/api/sn_chg_rest/") else result
        ref = self._ref(op.kind, record)
        if op.action == "create":
            return WriteResult("create", ref, fields=values, record=record)
        return WriteResult("update", ref, fields=values, record=record)

    # -- updating ----------------------------------------------------------------------------

    async def update(
        self, ref: TargetRef, fields: dict[str, Any], *, options: dict[str, Any] | None = None
    ) -> WriteResult:
        api = self._api(options)
        values = await self.references.resolve({k: _clean(v) for k, v in fields.items()})
        record = await self._write(ref, values, api)
        return WriteResult("update", self._ref(ref.kind, record), fields=values, record=record)

    async def retire(
        self, ref: TargetRef, action: str, fields: dict[str, Any], *, options: dict[str, Any] | None = None
    ) -> WriteResult:
        api = self._api(options)
        values = {
            **RETIRE_DEFAULTS.get(ref.kind, {}).get(action, {}),
            **await self.references.resolve({k: _clean(v) for k, v in fields.items()}),
        }
        record = await self._write(ref, values, api)
        return WriteResult("retire", self._ref(ref.kind, record), fields=values, record=record)

    async def _write(self, ref: TargetRef, values: dict[str, Any], api: str) -> dict[str, Any]:
        if ref.kind == "change_request" and values.get("state"):
            rest = {k: v for k, v in values.items() if k != "state"}
            current = await self._current(ref, api)
            return await self._walk(ref.kind, current, states.change_state(values["state"]), api, rest)
        if ref.kind == "change_task" and values.get("state"):
            values = {**values, "state": states.task_state(values["state"])}
        return await self._patch(ref.kind, ref.id, values, api)

    async def _current(self, ref: TargetRef, api: str) -> dict[str, Any]:
        if api == "change":
            return await self.change_api.get(ref.id)
        return await self.client.get(ref.kind, ref.id, fields=["sys_id", "number", "state", "type"])

    async def _patch(
        self,
        kind: str,
        sys_id: str,
        values: dict[str, Any],
        api: str,
        answers: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``answers``: where to keep the answer with its display values (the caller wants them)."""
        if api == "change" and kind == "change_request":
            written = await self.change_api.patch(sys_id, values)
            unexpected = set(written.ignored) - {"number", "type"}
            if unexpected:
                log.warning("ServiceNow ignored updated fields", sys_id=sys_id, fields=sorted(unexpected))
            if answers is not None:
                answers.append(_pairs(written.raw))
            return written.record
        if answers is None:
            return await self.client.patch(kind, sys_id, values)
        both = await self.client.patch(kind, sys_id, values, display_value="all")
        answers.append(both)
        return values_of(both)

    # -- the state model ---------------------------------------------------------------------

    async def _walk(
        self,
        kind: str,
        record: dict[str, Any],
        target: str,
        api: str,
        values: dict[str, Any],
        answers: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Move a change request to ``target`` one allowed step at a time; ``values`` go with the
        first write. A refusal is reported as :class:`TransitionRefused`, never retried blindly."""
        sys_id = str(record["sys_id"])
        for _ in range(_MAX_STEPS):
            current = str(record.get("state") or states.NEW)
            try:
                steps = states.way_forward(str(record.get("type") or "normal"), current, target)
            except states.Refusal as why:
                raise self._refused(record, target, target, str(why)) from None
            if not steps:
                return await self._patch(kind, sys_id, values, api, answers) if values else record
            step = steps[0]
            if api == "change":
                nxt = await self.change_api.next_states(sys_id)
                if target in nxt.available:
                    step = target  # this instance's model allows the direct move
                elif step not in nxt.available:
                    raise self._refused(record, step, target, _why_not(nxt, step))
            try:
                moved = await self._patch(kind, sys_id, {**values, "state": step}, api, answers)
            except RemoteRejected as exc:
                if exc.status not in (400, 403):
                    raise
                raise self._refused(record, step, target, server_message(exc)) from exc
            values = {}
            record = {**record, **moved}
            if str(record.get("state")) == current:
                raise self._refused(
                    record, step, target, f"the instance kept it in {states.label(current)} (state unchanged)"
                )
        raise self._refused(record, target, target, f"not reached after {_MAX_STEPS} steps")

    def _refused(self, record: dict[str, Any], step: str, target: str, reason: str) -> TransitionRefused:
        number = record.get("number") or record.get("sys_id")
        current = str(record.get("state") or states.NEW)
        on_the_way = f" on the way to {states.label(target)}" if step != target else ""
        kind = record.get("type") or "normal"
        return TransitionRefused(
            f"ServiceNow refused to move {kind} change {number} from {states.label(current)} to "
            f"{states.label(step)}{on_the_way}: {reason}"
        )

    # -- reading -----------------------------------------------------------------------------

    async def read(self, ref: TargetRef) -> dict[str, Any]:
        """The record normalized for reverse rules (state names, approval, approver, window, closure)."""
        return await self.reader.read(ref, self.record_url(ref))

    def written_only_by_us(self, kind: str, record: dict[str, Any]) -> bool:
        """Whether bridgeline's account made the record's last change (nobody else has touched it
        since, as far as the record tells)."""
        who = record.get("sys_updated_by")
        if isinstance(who, dict):  # the Change API's {value, display_value}
            who = who.get("value")
        return bool(self.own_user) and who == self.own_user

    def same_value(self, kind: str, name: str, ours: Any, theirs: Any) -> bool:
        """Whether a value bridgeline wrote (as the mapping gave it) is what the record now holds:
        ``assess`` is ``-4``, ``Payments Platform`` is the group's sys_id, ``3.0`` is ``3``."""
        a, b = _clean(ours).strip(), _clean(theirs).strip()
        if a == b:
            return True
        try:
            if name == "state" and kind == "change_request":
                return states.change_state(a) == b
            if name == "state" and kind == "change_task":
                return states.task_state(a) == b
        except PermanentError:
            return False
        if self.references.known(name, a) == b:
            return True
        try:
            return float(a) == float(b)
        except ValueError:
            return False


def _why_not(nxt: Any, step: str) -> str:
    transition = nxt.transition(step)
    allowed = ", ".join(f"{nxt.label(s)} ({s})" for s in nxt.available) or "none"
    if transition is not None and transition.failed_conditions:
        return f"condition not met: {', '.join(transition.failed_conditions)}. Allowed next states: {allowed}"
    return f"not a next state of {nxt.label(nxt.current)}. Allowed next states: {allowed}"


class _NotBatched(RetryableError):
    """A write the batch did not carry: sent on its own."""


_NOT_BATCHED = _NotBatched("servicenow: not sent in a batch")


def _pairs(raw: dict[str, Any]) -> dict[str, Any]:
    """A Change API answer as the Table API's ``display_value=all`` has it (values as strings)."""
    return {
        k: {"value": flat_value(v), "display_value": v.get("display_value", "")}
        if isinstance(v, dict)
        else {"value": flat_value(v), "display_value": flat_value(v)}
        for k, v in raw.items()
    }


def _escape(value: str) -> str:
    return value.replace("^", "^^")

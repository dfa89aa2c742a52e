"""The Change Management API: ``/api/sn_chg_rest[/v1]/change/...``.

Records come as ``{"value", "display_value"}`` pairs; creates answer 200 (not 201) with the
fields nobody could set listed in ``__meta.ignoredFields``; field values may come in the JSON
body or in the URL. The state model is enforced with a 400 naming the allowed next states.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from bridgeline.sim.servicenow import _statemodel as sm
from bridgeline.sim.servicenow._errors import SimError, no_record
from bridgeline.sim.servicenow._http import Answer, Call, int_param, unknown_resource
from bridgeline.sim.servicenow._query import Condition, compile_query, parse
from bridgeline.sim.servicenow._render import Renderer
from bridgeline.sim.servicenow._rules import Written
from bridgeline.sim.servicenow._store import Row

if TYPE_CHECKING:
    from bridgeline.sim.servicenow._simulator import ServiceNowSimulator

TYPES = ("normal", "emergency", "standard")
# Set by the instance on create, never by the caller.
CREATE_READ_ONLY = frozenset({"state", "type", "approval", "number", "active", "std_change_producer_version"})
# A standard change takes these from its template.
TEMPLATE_LOCKED = frozenset({"description", "backout_plan", "test_plan", "implementation_plan"})


def handle(sim: ServiceNowSimulator, call: Call) -> Answer:
    parts = list(call.parts)
    if parts and parts[0].startswith("v") and parts[0][1:].isdecimal():
        parts.pop(0)
    if not parts or parts[0] != "change":
        raise unknown_resource()
    rest, method = parts[1:], call.method
    if not rest:
        if method == "GET":
            return _list(sim, call, None)
        if method == "POST":
            kind = str(call.json_object(required=False).get("type") or call.param("type") or "normal").lower()
            return _create(sim, call, kind if kind in ("normal", "emergency") else "normal")
    elif rest[0] in TYPES:
        return _typed(sim, call, rest[0], rest[1:])
    else:
        return _one(sim, call, rest[0], rest[1:])
    raise _method_not_allowed(call)


def _typed(sim: ServiceNowSimulator, call: Call, kind: str, rest: list[str]) -> Answer:
    method = call.method
    if not rest:
        if method == "GET":
            return _list(sim, call, kind)
        if method == "POST" and kind != "standard":
            return _create(sim, call, kind)
        raise _method_not_allowed(call)
    if kind == "standard" and rest[0] == "template":
        if method != "GET" or len(rest) > 2:
            raise _method_not_allowed(call)
        return _templates(sim, call, rest[1] if len(rest) == 2 else None)
    if len(rest) != 1:
        raise unknown_resource()
    if kind == "standard" and method == "POST":
        return _create(sim, call, "standard", template_id=rest[0])
    change = _change(sim, rest[0])
    if change.get("type") != kind:
        raise no_record()
    return _one(sim, call, rest[0], [])


def _one(sim: ServiceNowSimulator, call: Call, sys_id: str, rest: list[str]) -> Answer:
    method = call.method
    change = _change(sim, sys_id)
    if not rest:
        if method == "GET":
            return _record(sim, call, "change_request", change)
        if method in ("PATCH", "PUT"):
            return _update(sim, call, "change_request", sys_id)
        if method == "DELETE":
            deleted = sim.instance.delete("change_request", sys_id, call.user)
            return _record(sim, call, "change_request", deleted)
    elif rest == ["approvals"] and method in ("PATCH", "POST"):
        return _approvals(sim, call, sys_id)
    elif rest == ["nextstates"] and method == "GET":
        return Answer.result(next_states(change))
    elif rest[0] == "task" and len(rest) <= 2:
        return _tasks(sim, call, change, rest[1] if len(rest) == 2 else None)
    else:
        raise unknown_resource()
    raise _method_not_allowed(call)


def _method_not_allowed(call: Call) -> SimError:
    return SimError(405, "Method not Supported", f"{call.method} is not supported on {call.path}")


def _change(sim: ServiceNowSimulator, sys_id: str) -> Row:
    change = sim.store.get("change_request", sys_id)
    if change is None:
        raise no_record()
    return change


def _renderer(sim: ServiceNowSimulator, call: Call) -> Renderer:
    return Renderer(sim.store, call.base_url, typed_values=sim.settings.change_api_typed_values)


def _record(
    sim: ServiceNowSimulator, call: Call, table: str, row: Row, ignored: list[str] | None = None
) -> Answer:
    record = _renderer(sim, call).change_record(sim.store.defs[table], row)
    if ignored is not None:
        record["__meta"] = {"ignoredFields": ignored}
    return Answer.result(record)


def _values(call: Call) -> dict[str, Any]:
    """Field values from the URL, overridden by the JSON body."""
    return {**call.field_params(), **call.json_object(required=False)}


def _list(
    sim: ServiceNowSimulator,
    call: Call,
    kind: str | None,
    table: str = "change_request",
    extra: list[Condition] | None = None,
) -> Answer:
    definition = sim.store.defs[table]
    query = parse(call.param("sysparm_query"))
    if not query.parts:
        query.parts.append([])
    filters = [Condition("type", "=", kind)] if kind else []
    filters += extra or []
    renderer = _renderer(sim, call)
    for name, value in call.field_params().items():
        fdef = definition.fields.get(name)
        if fdef is not None and fdef.choices:  # name=value pairs may use the display value
            value = fdef.choice_value(value) or value
        filters.append(Condition(name, "=", value))
    for part in query.parts:
        part.extend([c] for c in filters)
    if not query.order:
        order = call.param("order") or ("number" if table in ("change_request", "change_task") else "")
        if order:
            query.order.append((order, False))
    compiled = compile_query(query, definition, sim.store, call.eval_context(sim.clock.now()))
    ids = sim.store.select(table, compiled)
    offset = int_param(call.param("sysparm_offset"), 0)
    limit = int_param(call.param("sysparm_limit"), 500, minimum=1)
    rows = sim.store.storage(table).rows
    result = [renderer.change_record(definition, rows[i]) for i in ids[offset : offset + limit]]
    return Answer.result(result, 200, **{"X-Total-Count": str(len(ids))})


def _create(sim: ServiceNowSimulator, call: Call, kind: str, template_id: str | None = None) -> Answer:
    values = _values(call)
    # `type` naming the kind being created is how POST /change chooses it, not an ignored field
    ignored = [
        n for n in values if n in CREATE_READ_ONLY and not (n == "type" and str(values[n]).lower() == kind)
    ]
    fields = {k: v for k, v in values.items() if k not in CREATE_READ_ONLY}
    if template_id is not None:
        template = sim.store.get("std_change_record_producer", template_id)
        if template is None or template.get("active") == "false":
            raise SimError(
                404, "No Record found", f"No active standard change template with sys_id {template_id}"
            )
        ignored += [name for name in fields if name in TEMPLATE_LOCKED]
        fields = {
            **template_values(template.get("template", "")),
            **{k: v for k, v in fields.items() if k not in TEMPLATE_LOCKED},
        }
        versions = sim.store.find("std_change_producer_version", "std_change_producer", template_id)
        if versions:
            fields["std_change_producer_version"] = versions[-1]["sys_id"]
    fields["type"] = kind
    written = sim.instance.insert("change_request", fields, call.user)
    return _record(sim, call, "change_request", written.row, ignored + written.ignored)


def template_values(template: str) -> dict[str, str]:
    """``short_description=Rotate^risk=4`` -> field values."""
    values: dict[str, str] = {}
    for part in template.replace("^^", "\x00").split("^"):
        name, sep, value = part.partition("=")
        if sep and name and name != "EQ":
            values[name] = value.replace("\x00", "^")
    return values


def _update(sim: ServiceNowSimulator, call: Call, table: str, sys_id: str) -> Answer:
    try:
        written: Written = sim.instance.update(table, sys_id, _values(call), call.user, refusal="error")
    except SimError as exc:
        if exc.status == 403:  # the Change API reports refusals as bad requests
            raise SimError(400, exc.message, exc.detail) from exc
        raise
    return _record(sim, call, table, written.row, written.ignored)


def _approvals(sim: ServiceNowSimulator, call: Call, sys_id: str) -> Answer:
    body = call.json_object()
    state = str(body.get("state", "")).lower()
    if state not in ("approved", "rejected"):
        raise SimError(400, "Invalid approval state", "'state' must be 'approved' or 'rejected'")
    comments = body.get("comments")
    row = sim.instance.cab.decide(
        sys_id,
        approve=state == "approved",
        acting=call.user,
        comments=str(comments) if comments is not None else None,
    )
    return _record(sim, call, "change_request", row)


def _tasks(sim: ServiceNowSimulator, call: Call, change: Row, task_id: str | None) -> Answer:
    method = call.method
    if task_id is None:
        if method == "GET":
            return _list(
                sim,
                call,
                None,
                table="change_task",
                extra=[Condition("change_request", "=", change["sys_id"])],
            )
        if method == "POST":
            values = {k: v for k, v in _values(call).items() if k not in ("change_request", "parent")}
            written = sim.instance.insert(
                "change_task", {**values, "change_request": change["sys_id"]}, call.user
            )
            return _record(sim, call, "change_task", written.row, written.ignored)
        raise _method_not_allowed(call)
    task = sim.store.get("change_task", task_id)
    if task is None or task.get("change_request") != change["sys_id"]:
        raise no_record()
    if method == "GET":
        return _record(sim, call, "change_task", task)
    if method in ("PATCH", "PUT"):
        return _update(sim, call, "change_task", task_id)
    if method == "DELETE":
        return _record(sim, call, "change_task", sim.instance.delete("change_task", task_id, call.user))
    raise _method_not_allowed(call)


def _templates(sim: ServiceNowSimulator, call: Call, template_id: str | None) -> Answer:
    if template_id is not None:
        template = sim.store.get("std_change_record_producer", template_id)
        if template is None:
            raise no_record()
        return _record(sim, call, "std_change_record_producer", template)
    return _list(sim, call, None, table="std_change_record_producer")


def next_states(change: Row) -> dict[str, Any]:
    """``GET /change/{sys_id}/nextstates``: the model's next states with their conditions."""
    current = change.get("state", sm.NEW)
    found = sm.transitions(change)
    available = [current, *[t.to_state for t in found]]
    transitions = []
    for t in found:
        transitions.append(
            [
                {
                    "sys_id": _stable_id(f"transition:{change.get('type')}:{t.from_state}:{t.to_state}"),
                    "display_value": f"{sm.label(t.from_state)} to {sm.label(t.to_state)}",
                    "from_state": t.from_state,
                    "to_state": t.to_state,
                    "transition_available": t.available,
                    "automatic_transition": t.automatic,
                    "conditions": [
                        {
                            "passed": passed,
                            "condition": {
                                "name": name,
                                "description": None,
                                "sys_id": _stable_id(f"condition:{name}"),
                            },
                        }
                        for name, passed in t.conditions
                    ],
                }
            ]
        )
    return {
        "available_states": available,
        "state_transitions": transitions,
        "state_label": {s: sm.label(s) for s in available},
    }


def _stable_id(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

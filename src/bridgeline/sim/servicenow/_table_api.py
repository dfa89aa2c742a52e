"""The Table API: ``/api/now/table/{table}[/{sys_id}]`` and its ``v1``/``v2`` forms.

GET lists and reads, POST inserts (201 + ``Location``), PUT/PATCH update (200), DELETE (204).
Lists carry ``X-Total-Count`` and a ``Link`` header (first/prev/next/last). On an empty list v1
answers 404, v2 and the unversioned path 200 with ``[]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bridgeline.sim.servicenow._errors import SimError, no_record
from bridgeline.sim.servicenow._http import Answer, Call, int_param, unknown_resource
from bridgeline.sim.servicenow._query import compile_query, parse
from bridgeline.sim.servicenow._render import Renderer, display_mode, parse_bool
from bridgeline.sim.servicenow._schema import TableDef
from bridgeline.sim.servicenow._store import Row

if TYPE_CHECKING:
    from bridgeline.sim.servicenow._simulator import ServiceNowSimulator

VERSIONS = ("v1", "v2")
DEFAULT_LIMIT = 10000


def handle(sim: ServiceNowSimulator, call: Call) -> Answer:
    parts = list(call.parts)
    version = None
    if parts and parts[0] in VERSIONS:
        version = parts.pop(0)
    if len(parts) not in (2, 3) or parts[0] != "table":
        raise unknown_resource()
    table = parts[1]
    sim.instance.definition(table)
    sys_id = parts[2] if len(parts) == 3 else None
    if sys_id is None:
        if call.method == "GET":
            return _list(sim, call, table, version)
        if call.method == "POST":
            return _insert(sim, call, table, version)
    else:
        if call.method == "GET":
            return _read(sim, call, table, sys_id)
        if call.method in ("PUT", "PATCH"):
            return _update(sim, call, table, sys_id)
        if call.method == "DELETE":
            sim.instance.delete(table, sys_id, call.user)
            return Answer(204)
    raise SimError(405, "Method not Supported", f"{call.method} is not supported on this resource")


def _render(renderer: Renderer, definition: TableDef, row: Row, call: Call) -> dict[str, Any]:
    """One record as the call's sysparm_fields / display_value / exclude_reference_link ask."""
    fields = [f.strip() for f in (call.param("sysparm_fields") or "").split(",") if f.strip()]
    return renderer.table_record(
        definition,
        row,
        fields=fields or None,
        mode=display_mode(call.param("sysparm_display_value")),
        exclude_reference_link=parse_bool(call.param("sysparm_exclude_reference_link")),
    )


def _list(sim: ServiceNowSimulator, call: Call, table: str, version: str | None) -> Answer:
    definition = sim.store.defs[table]
    query = compile_query(
        parse(call.param("sysparm_query")), definition, sim.store, call.eval_context(sim.clock.now())
    )
    ids = sim.store.select(table, query)
    offset = int_param(call.param("sysparm_offset"), 0)
    limit = int_param(call.param("sysparm_limit"), DEFAULT_LIMIT, minimum=1)
    page = ids[offset : offset + limit]
    renderer = Renderer(sim.store, call.base_url)
    rows = sim.store.storage(table).rows
    result = [_render(renderer, definition, rows[i], call) for i in page]
    if version == "v1" and not result:
        raise SimError(
            404,
            "No Record found",
            "Records matching query not found. Check query parameter or offset parameter",
        )
    headers: dict[str, str] = {}
    counted = not parse_bool(call.param("sysparm_no_count"))
    if counted:
        headers["X-Total-Count"] = str(len(ids))
    if not parse_bool(call.param("sysparm_suppress_pagination_header")):
        link = _link_header(call, offset, limit, len(ids) if counted else None, len(page))
        if link:
            headers["Link"] = link
    return Answer.result(result, 200, **headers)


def _link_header(call: Call, offset: int, limit: int, total: int | None, returned: int) -> str:
    def url(at: int) -> str:
        items = [(k, v) for k, v in call.params.multi_items() if k not in ("sysparm_offset", "sysparm_limit")]
        items += [("sysparm_offset", str(at)), ("sysparm_limit", str(limit))]
        return f"{call.base_url}{call.path}?{urlencode(items)}"

    links = [(url(0), "first")]
    if offset > 0:
        links.append((url(max(0, offset - limit)), "prev"))
    more = offset + limit < total if total is not None else returned == limit
    if more:
        links.append((url(offset + limit), "next"))
    if total is not None:
        last = ((total - 1) // limit) * limit if total > 0 else 0
        links.append((url(last), "last"))
    return ",".join(f'<{href}>;rel="{rel}"' for href, rel in links)


def _read(sim: ServiceNowSimulator, call: Call, table: str, sys_id: str) -> Answer:
    row = sim.store.get(table, sys_id)
    if row is None:
        raise no_record()
    return Answer.result(_render(Renderer(sim.store, call.base_url), sim.store.defs[table], row, call))


def _insert(sim: ServiceNowSimulator, call: Call, table: str, version: str | None) -> Answer:
    values = call.json_object()
    written = sim.instance.insert(
        table,
        values,
        call.user,
        refusal=sim.settings.table_transition_refusal,
        input_display=parse_bool(call.param("sysparm_input_display_value")),
    )
    renderer = Renderer(sim.store, call.base_url)
    prefix = f"/api/now/{version}/table" if version else "/api/now/table"
    location = f"{call.base_url}{prefix}/{table}/{written.row['sys_id']}"
    return Answer.result(_render(renderer, sim.store.defs[table], written.row, call), 201, Location=location)


def _update(sim: ServiceNowSimulator, call: Call, table: str, sys_id: str) -> Answer:
    values = call.json_object(required=False)
    written = sim.instance.update(
        table,
        sys_id,
        values,
        call.user,
        refusal=sim.settings.table_transition_refusal,
        input_display=parse_bool(call.param("sysparm_input_display_value")),
    )
    return Answer.result(
        _render(Renderer(sim.store, call.base_url), sim.store.defs[table], written.row, call)
    )

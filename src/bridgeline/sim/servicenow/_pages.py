"""Read-only HTML pages a person can open: ``/``, ``/change_request_list.do``, ``/change_request.do``.

The same URLs an instance uses (``change_request.do?sys_id=...``, also
``?sysparm_query=number=CHG0030001``), so links printed by the demo look familiar.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bridgeline.sim.servicenow._query import EvalContext, compile_query, parse
from bridgeline.sim.servicenow._render import Renderer
from bridgeline.sim.servicenow._store import Row

if TYPE_CHECKING:
    from bridgeline.sim.servicenow._simulator import ServiceNowSimulator

LIST_COLUMNS = {
    "change_request": (
        "number",
        "short_description",
        "type",
        "state",
        "approval",
        "assignment_group",
        "correlation_id",
        "sys_updated_on",
        "sys_updated_by",
    ),
    "change_task": (
        "number",
        "change_request",
        "short_description",
        "state",
        "assignment_group",
        "correlation_id",
        "sys_updated_on",
    ),
    "sysapproval_approver": ("sysapproval", "approver", "state", "sys_updated_on"),
}
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2b36}
h1{font-size:1.4rem}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #d5dde3;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#eef3f6}.muted{color:#6b7c88}pre{white-space:pre-wrap;margin:0}
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><p class='muted'><a href='/'>ServiceNow simulator</a></p>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status)


def page_routes(sim: ServiceNowSimulator) -> list[Route]:
    async def index(request: Request) -> Response:
        with sim.lock:
            rows = "".join(
                f"<tr><td><a href='/{name}_list.do'>{escape(d.label)}</a></td><td>{name}</td>"
                f"<td>{sum(1 for _ in sim.store.rows(name))}</td></tr>"
                for name, d in sim.store.defs.items()
            )
        body = (
            f"<table><tr><th>Table</th><th>Name</th><th>Records</th></tr>{rows}</table>"
            "<p class='muted'>APIs: /api/now/table/{table}, /api/sn_chg_rest/change, /oauth_token.do; "
            "simulator controls under <a href='/_sim'>/_sim</a>.</p>"
        )
        return _page("ServiceNow simulator", body)

    async def form_or_list(request: Request) -> Response:
        page = request.path_params["page"]
        if not page.endswith(".do"):
            return _page("Not found", "<p>No such page.</p>", 404)
        name = page[:-3]
        with sim.lock:
            if name.endswith("_list") and name[:-5] in sim.store.defs:
                return _list(sim, request, name[:-5])
            if name in sim.store.defs:
                return _form(sim, request, name)
        return _page("Not found", f"<p>No table {escape(name)}.</p>", 404)

    return [Route("/", index, methods=["GET"]), Route("/{page}", form_or_list, methods=["GET"])]


def _cell(renderer: Renderer, sim: ServiceNowSimulator, table: str, row: Row, name: str) -> str:
    fdef = sim.store.defs[table].fields.get(name)
    if fdef is None:
        return ""
    value = row.get(name, "")
    shown = escape(renderer.display(fdef, value))
    if name == "number":
        return f"<a href='/{table}.do?sys_id={row['sys_id']}'>{shown}</a>"
    if fdef.type == "reference" and value and fdef.reference in ("change_request", "change_task"):
        return f"<a href='/{fdef.reference}.do?sys_id={value}'>{shown}</a>"
    return shown


def _list(sim: ServiceNowSimulator, request: Request, table: str) -> Response:
    definition = sim.store.defs[table]
    text = request.query_params.get("sysparm_query") or ""
    query = parse(text or "ORDERBYDESCsys_updated_on")
    ids = sim.store.select(table, compile_query(query, definition, sim.store, EvalContext(sim.clock.now())))
    columns = [c for c in LIST_COLUMNS.get(table, list(definition.fields)[:6]) if c in definition.fields]
    renderer = Renderer(sim.store, str(request.base_url))
    rows = sim.store.storage(table).rows
    opener = "number" not in columns  # without a number column, give each row a link of its own
    head = ("<th></th>" if opener else "") + "".join(
        f"<th>{escape(definition.fields[c].label)}</th>" for c in columns
    )
    body_rows = []
    for sys_id in ids[:500]:
        cells = "".join(f"<td>{_cell(renderer, sim, table, rows[sys_id], c)}</td>" for c in columns)
        if opener:
            cells = f"<td><a href='/{table}.do?sys_id={sys_id}'>open</a></td>{cells}"
        body_rows.append(f"<tr>{cells}</tr>")
    shown = f"{len(ids)} record(s)" + (f" matching <code>{escape(text)}</code>" if text else "")
    return _page(
        f"{definition.label} list",
        f"<p class='muted'>{shown}</p><table><tr>{head}</tr>{''.join(body_rows)}</table>",
    )


def _form(sim: ServiceNowSimulator, request: Request, table: str) -> Response:
    definition = sim.store.defs[table]
    row = None
    if request.query_params.get("sys_id"):
        row = sim.store.get(table, request.query_params["sys_id"])
    elif request.query_params.get("sysparm_query"):
        query = compile_query(
            parse(request.query_params["sysparm_query"]), definition, sim.store, EvalContext(sim.clock.now())
        )
        found = sim.store.select(table, query)
        row = sim.store.get(table, found[0]) if found else None
    if row is None:
        return _page(f"{definition.label}: not found", "<p>Record not found.</p>", 404)
    renderer = Renderer(sim.store, str(request.base_url))
    fields = "".join(
        f"<tr><th>{escape(f.label)}</th><td><pre>{_cell(renderer, sim, table, row, name)}</pre></td></tr>"
        for name, f in definition.fields.items()
        if f.type not in ("journal", "password") and row.get(name)
    )
    sections = [f"<table>{fields}</table>"]
    if table == "change_request":
        sections.append(
            _related(sim, renderer, "change_task", "change_request", row["sys_id"], "Change tasks")
        )
        sections.append(
            _related(sim, renderer, "sysapproval_approver", "sysapproval", row["sys_id"], "Approvals")
        )
    entries = sim.store.find("sys_journal_field", "element_id", row["sys_id"])
    if entries:
        items = "".join(
            "<tr>"
            + "".join(
                f"<td>{escape(e.get(k, ''))}</td>" for k in ("sys_created_on", "sys_created_by", "element")
            )
            + f"<td><pre>{escape(e.get('value', ''))}</pre></td></tr>"
            for e in reversed(entries)
        )
        sections.append(
            f"<h2>Activity</h2><table><tr><th>When</th><th>Who</th><th>Field</th><th>Text</th></tr>"
            f"{items}</table>"
        )
    title = f"{definition.label} {row.get(definition.display_field or 'sys_id', '')}"
    return _page(title, "".join(sections))


def _related(
    sim: ServiceNowSimulator, renderer: Renderer, table: str, field: str, sys_id: str, title: str
) -> str:
    related = sim.store.find(table, field, sys_id)
    if not related:
        return f"<h2>{escape(title)}</h2><p class='muted'>None.</p>"
    columns = LIST_COLUMNS[table]
    definition = sim.store.defs[table]
    head = "".join(f"<th>{escape(definition.fields[c].label)}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(renderer, sim, table, r, c)}</td>" for c in columns) + "</tr>"
        for r in related
    )
    link = f"/{table}_list.do?sysparm_query={quote(f'{field}={sys_id}')}"
    return f"<h2><a href='{link}'>{escape(title)}</a></h2><table><tr>{head}</tr>{rows}</table>"

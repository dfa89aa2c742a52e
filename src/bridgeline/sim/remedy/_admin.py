"""The simulator's own controls under ``/_sim/`` (never fault-injected) and its read-only web pages.

=====================================  ===========================================================
``GET|PUT /_sim/faults``               fault settings (PUT takes any subset of the settings)
``POST /_sim/reset``                   back to the seed data; tokens and call counters cleared
``GET /_sim/state``                    every form's entries as the API renders them, sequences
``GET|PUT /_sim/clock``                ``{"advance_seconds"|"offset_seconds"|"now"|"freeze"}``
``GET|DELETE /_sim/counters``          API calls per endpoint, injected faults
``GET /_sim/changes/{crq}``            the change, the phase waiting for the CAB, approvals, tasks, work info
``POST /_sim/changes/{crq}/approve``   ``{"approver"?, "comment"?}``: the CAB approves
``POST /_sim/changes/{crq}/reject``    ``{"reason", "approver"?}``: the CAB rejects
``POST /_sim/changes/{crq}/status``    ``{"status", "status_reason"?, "user"?}``: one manual step
``POST /_sim/changes/{crq}/advance``   ``{"to", "status_reason"?, "approve"?}``: walk there, approving
                                       on the way (``"approve": false``: stop where the CAB decides)
``GET /`` and ``GET /changes/{crq}``   HTML pages a person can open
=====================================  ===========================================================
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._clock import format_ar, parse_ar
from bridgeline.sim.remedy._forms import CHANGE
from bridgeline.sim.remedy._workflow import ApprovalError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bridgeline.sim.remedy._simulator import RemedySimulator


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def admin_routes(sim: RemedySimulator) -> list[Route]:
    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except KeyError as error:
                return _problem(404, str(error.args[0] if error.args else error))
            except ApprovalError as error:
                return _problem(409, str(error))
            except err.ARError as error:
                return JSONResponse(
                    {"error": error.text, "detail": error.appended, "messageNumber": error.number},
                    status_code=409,
                )
            except ValueError as error:
                return _problem(400, str(error))

        return run

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            sim.faults.update(await _json(request))
            sim.injector.reseed()
        return JSONResponse(sim.faults.as_dict())

    async def reset(request: Request) -> Response:
        sim.reset()
        return JSONResponse({"reset": True})

    async def state(request: Request) -> Response:
        return JSONResponse(sim.dump())

    async def clock(request: Request) -> Response:
        if request.method == "PUT":
            body = await _json(request)
            if "now" in body:
                sim.clock.set_now(parse_ar(body["now"]))
            if "offset_seconds" in body:
                sim.clock.set_offset(float(body["offset_seconds"]))
            if "advance_seconds" in body:
                sim.clock.advance(float(body["advance_seconds"]))
            if body.get("freeze") is True:
                sim.clock.freeze()
            elif body.get("freeze") is False:
                sim.clock.unfreeze()
        return JSONResponse(
            {
                "now": format_ar(sim.clock.now_s()),
                "epoch": sim.clock.now(),
                "offset_seconds": sim.clock.offset_seconds,
                "frozen": sim.clock.frozen,
            }
        )

    async def counters(request: Request) -> Response:
        if request.method == "DELETE":
            sim.reset_counters()
        return JSONResponse(sim.call_counts())

    async def change(request: Request) -> Response:
        crq = request.path_params["crq"]
        return JSONResponse(
            {
                "change": sim.state.change(crq),
                "waiting_for": sim.waiting_for(crq),
                "approvals": sim.state.approvals(crq),
                "tasks": sim.state.tasks(crq),
                "work_info": sim.state.work_info(crq),
            }
        )

    async def decide(request: Request) -> Response:
        crq, action = request.path_params["crq"], request.path_params["action"]
        body = await _json(request)
        if action == "approve":
            change = sim.approve(crq, approver=body.get("approver"), comment=body.get("comment"))
        elif action == "reject":
            change = sim.reject(
                crq, reason=str(body.get("reason") or "Rejected by the CAB"), approver=body.get("approver")
            )
        elif action == "status":
            change = sim.set_status(
                crq,
                str(body["status"]),
                status_reason=body.get("status_reason"),
                user=str(body.get("user") or "mary"),
            )
        elif action == "advance":
            change = sim.advance(
                crq,
                str(body["to"]),
                status_reason=body.get("status_reason"),
                approve=body.get("approve", True) is not False,
            )
        else:
            return _problem(404, f"unknown action {action!r}")
        return JSONResponse(change)

    return [
        Route("/_sim/faults", guarded(faults), methods=["GET", "PUT"]),
        Route("/_sim/reset", guarded(reset), methods=["POST"]),
        Route("/_sim/state", guarded(state), methods=["GET"]),
        Route("/_sim/clock", guarded(clock), methods=["GET", "PUT"]),
        Route("/_sim/counters", guarded(counters), methods=["GET", "DELETE"]),
        Route("/_sim/changes/{crq}", guarded(change), methods=["GET"]),
        Route("/_sim/changes/{crq}/{action}", guarded(decide), methods=["POST"]),
    ]


_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f3f3}
.status{font-weight:600}h1 small{color:#777;font-weight:normal}"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>",
        status_code=status,
    )


def _text_html(value: object) -> str:
    """Text as its writer laid it out: a paragraph per blank-line-separated block, line breaks kept."""
    text = "" if value is None else str(value).replace("\r\n", "\n")
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    if len(blocks) <= 1 and "\n" not in text:
        return html.escape(text)
    return "".join("<p>" + "<br>".join(html.escape(line) for line in b.split("\n")) + "</p>" for b in blocks)


def _table(rows: list[dict[str, Any]], columns: list[str], link: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    lines = []
    for row in rows:
        cells = []
        for c in columns:
            text = _text_html(row.get(c))
            if c == link:
                text = f"<a href='/changes/{text}'>{text}</a>"
            cells.append(f"<td>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(lines)}</table>"


def page_routes(sim: RemedySimulator) -> list[Route]:
    async def index(request: Request) -> Response:
        changes = sorted(sim.state.entries(CHANGE), key=lambda c: c["Infrastructure Change ID"], reverse=True)
        columns = [
            "Infrastructure Change ID",
            "Description",
            "Change Request Status",
            "Timing",
            "Submitter",
            "Last Modified Date",
        ]
        return _page(
            "Remedy simulator",
            "<h1>Change requests <small>BMC Remedy simulator</small></h1>"
            + _table(changes, columns, link="Infrastructure Change ID"),
        )

    async def change_page(request: Request) -> Response:
        ref = request.path_params["crq"]
        try:
            change = sim.state.change(ref)
        except KeyError:
            return _page("Not found", f"<h1>No change request {html.escape(ref)}</h1>", 404)
        fields = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{_text_html(v)}</td></tr>" for k, v in change.items()
        )
        tasks = _table(
            sim.state.tasks(ref), ["Task ID", "Summary", "Status", "Assignee Group", "Modified Date"]
        )
        approvals = _table(
            sim.state.approvals(ref),
            [
                "Process",
                "Approvers",
                "Approval Status",
                "Approver Signature",
                "Comments",
                "Last Modified Date",
            ],
        )
        work_info = _table(
            sim.state.work_info(ref),
            [
                "Work Log Submit Date",
                "Work Log Type",
                "Description",
                "Detailed Description",
                "Work Log Submitter",
            ],
        )
        title = f"{change['Infrastructure Change ID']}: {change['Description']}"
        detail = _text_html(change.get("Detailed Description"))
        return _page(
            title,
            f"<p><a href='/'>All change requests</a></p><h1>{html.escape(title)}</h1>"
            f"<p class='status'>{html.escape(str(change['Change Request Status']))}</p>"
            f"<h2>Detailed Description</h2><div class='text'>{detail}</div>"
            f"<h2>Tasks</h2>{tasks}<h2>Work Info</h2>{work_info}"
            f"<h2>Approvals</h2>{approvals}<h2>Fields</h2><table>{fields}</table>",
        )

    async def mid_tier(request: Request) -> Response:
        eid = request.query_params.get("eid")
        return RedirectResponse(f"/changes/{eid}" if eid else "/", status_code=302)

    return [
        Route("/", index, methods=["GET"]),
        Route("/changes/{crq}", change_page, methods=["GET"]),
        Route("/arsys/forms/{rest:path}", mid_tier, methods=["GET"]),
    ]

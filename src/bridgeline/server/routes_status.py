"""The status page (server-rendered HTML): sign-in, the status, dead-letter replay and drop, the preview.

``GET /status`` shows connectors and their lag, the queue, dead letters, links (Jira release <->
change number, each linking to its system) and recent sync actions; ``/status/preview`` renders a
mapping on pasted Jira JSON. All of it needs ``server.admin_token``: signing in with it starts a
session (:mod:`bridgeline.server.auth`) held in an ``HttpOnly``, ``SameSite=Strict`` cookie; a
request with ``Authorization: Bearer <token>`` is let in too. A stranger sees the sign-in form and
nothing else; without a configured token, the page is closed.
"""

from __future__ import annotations

import hmac
import unicodedata
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bridgeline import __version__
from bridgeline.mapping import MappingSet
from bridgeline.model import utcnow
from bridgeline.server.auth import (
    CLOSED,
    SESSION_COOKIE,
    admin_token,
    caller,
    client_address,
    refuse_if_limited,
    require_operator,
    sessions,
    sign_ins,
)
from bridgeline.server.dead_letters import ACTIONS, dead_letter_action
from bridgeline.server.preview import PreviewBusy, preview, preview_off_loop
from bridgeline.server.routes_api import busy, live_mappings
from bridgeline.server.snapshot import status_snapshot

if TYPE_CHECKING:
    from bridgeline.sync.service import Service

router = APIRouter()
MAX_NAME = 100
_NOTICES = {
    "replay": "{entity} queued again",
    "drop": "{entity} dropped",
    "replay-all": "{count} dead letter(s) queued again",
    "drop-all": "{count} dead letter(s) dropped",
    "missing": "{entity} is not a dead letter (any more)",
    "signed-in": "signed in as {name}",
    "signed-out": "signed out",
    "bad-token": "that admin token is not right",
}


def _ago(value: str | None) -> str:
    if not value:
        return "-"
    try:
        seconds = (utcnow() - datetime.fromisoformat(value)).total_seconds()
    except ValueError:
        return value
    return _duration(seconds) + " ago" if seconds >= 0 else "in " + _duration(-seconds)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("bridgeline.server", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["ago"] = _ago
_env.filters["duration"] = _duration
_env.filters["urlquote"] = lambda v: quote(str(v), safe="")


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(version=__version__, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _back(notice: str, **values: Any) -> RedirectResponse:
    query = f"notice={quote(notice)}" + "".join(f"&{k}={quote(str(v), safe='')}" for k, v in values.items())
    return RedirectResponse(f"/status?{query}#dead-letters", status_code=303)


def _notice(notice: str | None, **values: Any) -> str | None:
    return _NOTICES.get(notice or "", "").format(**values) or None


def _sign_in_page(request: Request, notice: str | None = None, status: int = 401) -> HTMLResponse:
    """What a stranger sees of the page: the sign-in form, or that the page is closed."""
    configured = admin_token(_service(request).settings.server) is not None
    response = _render(
        "sign_in.html",
        status=status if configured else 403,
        notice=notice,
        notice_kind="error" if notice and notice != _NOTICES["signed-out"] else "ok",
        closed=None if configured else CLOSED,
    )
    if configured:
        response.headers["WWW-Authenticate"] = 'Bearer realm="bridgeline"'
    return response


def _person(name: str) -> str:
    """The name given at sign-in, as the audit log shows it: printable, trimmed, bounded."""
    text = "".join(c for c in name if unicodedata.category(c)[0] not in "CZ" or c == " ").strip()
    return " ".join(text.split())[:MAX_NAME] or "operator"


# -- pages -------------------------------------------------------------------------------------


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
async def status_page(
    request: Request, notice: str | None = None, entity: str = "", count: int = 0
) -> Response:
    who = await caller(request)
    message = _notice(notice, entity=entity, count=count, name=who.name)
    if not who.operator:
        return _sign_in_page(request, message if notice in ("bad-token", "signed-out") else None)
    state = request.app.state
    snapshot = await status_snapshot(
        _service(request), state.health, started=state.started, stopping=state.stopping.is_set()
    )
    return _render(
        "status.html",
        s=snapshot,
        notice=message,
        notice_kind="error" if notice in ("bad-token", "missing") else "ok",
        who=who,
    )


@router.get("/status/style.css", include_in_schema=False)
async def stylesheet() -> Response:
    css = resources.files("bridgeline.server").joinpath("static/style.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})


@router.post("/status/login", include_in_schema=False)
async def login(
    request: Request, admin_token_: str = Form("", alias="admin_token"), name: str = Form("")
) -> Response:
    token = admin_token(_service(request).settings.server)
    if token is None:
        raise HTTPException(403, CLOSED)
    client = client_address(request)
    limiter = sign_ins(request)
    try:
        refuse_if_limited(limiter, client)
    except HTTPException as exc:
        page = _sign_in_page(request, str(exc.detail), status=exc.status_code)
        page.headers.update(exc.headers or {})
        return page
    if not hmac.compare_digest(admin_token_.strip().encode(), token.encode()):
        limiter.failed(client or "")
        return _back("bad-token")
    limiter.succeeded(client or "")
    book = sessions(request)
    if old := request.cookies.get(SESSION_COOKIE):
        await book.close(old)  # a new id on every sign-in: one planted before it is worthless
    person = _person(name)
    session_id = await book.open(token, person, client)
    response = _back("signed-in")
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=_https(request),
        max_age=int(_service(request).settings.server.session_seconds),
        path="/",
    )
    return response


def _https(request: Request) -> bool:
    public = _service(request).settings.server.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


@router.post("/status/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    if cookie := request.cookies.get(SESSION_COOKIE):
        await sessions(request).close(cookie)
    response = _back("signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/", secure=_https(request), httponly=True, samesite="strict")
    return response


@router.post("/status/dead-letters/{action}", include_in_schema=False)
async def dead_letter_form(
    request: Request, action: str, entity: str = Form(""), every: str = Form("", alias="all")
) -> Response:
    if action not in ACTIONS:
        raise HTTPException(404, "unknown action")
    who = await require_operator(request)
    result = await dead_letter_action(_service(request), action, entity, every=every == "1", asked_by=who)
    if every == "1":
        return _back(f"{action}-all", count=len(result["done"]))
    return _back(action if result["done"] else "missing", entity=entity)


@router.get("/status/preview", response_class=HTMLResponse, include_in_schema=False)
async def preview_form(request: Request, mapping: str = "") -> Response:
    if not (await caller(request)).operator:
        return _sign_in_page(request)
    names = [m.name for m in live_mappings(request).mappings]
    return _render(
        "preview.html", names=names, chosen=mapping or (names[0] if names else ""), text="", result=None
    )


@router.post("/status/preview", response_class=HTMLResponse, include_in_schema=False)
async def preview_submit(request: Request, mapping: str = Form(""), payload: str = Form("")) -> Response:
    await require_operator(request)
    mappings = live_mappings(request)
    try:
        status, html = await preview_off_loop(
            request.app.state.previews, _preview_page, mappings, mapping, payload
        )
    except PreviewBusy:
        raise busy() from None
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _preview_page(mappings: MappingSet, mapping: str, payload: str) -> tuple[int, str]:
    """(status, the page) of a preview: 422 when it could not render. A large one is CPU work: it
    runs in a worker thread."""
    result = preview(mappings, mapping, payload).as_dict()
    names = [m.name for m in mappings.mappings]
    page = _env.get_template("preview.html").render(
        version=__version__, names=names, chosen=mapping, text=payload, result=result
    )
    return (422 if result["error"] else 200), page

"""The status page (server-rendered HTML) and the dead-letter and preview API.

``GET /status`` shows connectors and their lag, the queue, dead letters, links (Jira release <->
change number, each linking to its system) and recent sync actions; ``/status/preview`` renders a
mapping on pasted Jira JSON. Replaying or dropping a dead letter changes state, so it needs
``server.admin_token``: as ``Authorization: Bearer <token>`` on the API, or through the page's
sign-in, which sets a cookie holding an HMAC of the token (never the token) with ``SameSite=Strict``.
Without a configured token, replay and drop are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bridgeline import __version__, metrics
from bridgeline.model import AuditEntry, utcnow
from bridgeline.server.preview import preview
from bridgeline.server.snapshot import status_snapshot

if TYPE_CHECKING:
    from bridgeline.sync.service import Service

router = APIRouter()
SESSION_COOKIE = "bridgeline_admin"
_NOTICES = {
    "replay": "{entity} queued again",
    "drop": "{entity} dropped",
    "replay-all": "{count} dead letter(s) queued again",
    "drop-all": "{count} dead letter(s) dropped",
    "missing": "{entity} is not a dead letter (any more)",
    "signed-in": "signed in: replay and drop are enabled",
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


def _admin_token(request: Request) -> str | None:
    secret = _service(request).settings.server.admin_token
    value = secret.get_secret_value() if secret is not None else ""
    return value or None


def _session_value(token: str) -> str:
    return hmac.new(token.encode(), b"bridgeline status page session", hashlib.sha256).hexdigest()


def _signed_in(request: Request) -> bool:
    token = _admin_token(request)
    if token is None:
        return False
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, _session_value(token))


def _same_origin(request: Request) -> bool:
    """A form post must come from this page (a cookie alone would let another site post).

    Browsers send ``Origin`` (or at least ``Referer``) with form posts; a tool without either is
    let through, as it cannot carry the browser's cookie unasked.
    """
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return True
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")} - {""}
    return origin != "null" and urlsplit(origin).netloc in hosts


def require_admin(request: Request, *, form: bool = False) -> None:
    """Refuse unless the admin token is configured and presented."""
    if _admin_token(request) is None:
        raise HTTPException(
            403, "replay and drop are disabled: set server.admin_token (BRIDGELINE_SERVER__ADMIN_TOKEN)"
        )
    if form and not _same_origin(request):
        raise HTTPException(403, "cross-site form post refused")
    if not _signed_in(request):
        raise HTTPException(401, "the admin token is required (Authorization: Bearer <server.admin_token>)")


def _render(name: str, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(version=__version__, **context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _back(notice: str, **values: Any) -> RedirectResponse:
    query = f"notice={quote(notice)}" + "".join(f"&{k}={quote(str(v), safe='')}" for k, v in values.items())
    return RedirectResponse(f"/status?{query}#dead-letters", status_code=303)


async def _dead_letter_action(
    request: Request, action: str, entity: str | None, every: bool
) -> dict[str, Any]:
    """Replay or drop one dead letter (or all); audited with who asked: an operator."""
    service = _service(request)
    store = service.store
    entities = (
        [r.entity for r in await store.inbox_rows(state="dead", limit=100000)] if every else [entity or ""]
    )
    done: list[str] = []
    for e in entities:
        ok = await (store.replay(e) if action == "replay" else store.drop(e))
        if ok:
            done.append(e)
            metrics.DEAD_LETTER_ACTIONS.labels(action).inc()
    if done:
        await store.audit(
            [
                AuditEntry(
                    action=action, entity=e, detail=f"{action} asked by an operator ({request.url.path})"
                )
                for e in done
            ]
        )
    return {"action": action, "done": done, "missing": [e for e in entities if e not in done]}


# -- pages -------------------------------------------------------------------------------------


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
async def status_page(
    request: Request, notice: str | None = None, entity: str = "", count: int = 0
) -> Response:
    state = request.app.state
    snapshot = await status_snapshot(
        _service(request), state.health, started=state.started, stopping=state.stopping.is_set()
    )
    message = _NOTICES.get(notice or "", "").format(entity=entity, count=count) or None
    return _render(
        "status.html",
        s=snapshot,
        notice=message,
        notice_kind="error" if notice in ("bad-token", "missing") else "ok",
        admin_configured=_admin_token(request) is not None,
        signed_in=_signed_in(request),
    )


@router.get("/status/style.css", include_in_schema=False)
async def stylesheet() -> Response:
    css = resources.files("bridgeline.server").joinpath("static/style.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})


@router.post("/status/login", include_in_schema=False)
async def login(request: Request, admin_token: str = Form("")) -> Response:
    token = _admin_token(request)
    if token is None:
        raise HTTPException(403, "replay and drop are disabled: set server.admin_token")
    if not _same_origin(request):
        raise HTTPException(403, "cross-site form post refused")
    if not hmac.compare_digest(admin_token.strip(), token):
        return _back("bad-token")
    response = _back("signed-in")
    response.set_cookie(
        SESSION_COOKIE,
        _session_value(token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=8 * 3600,
    )
    return response


@router.post("/status/logout", include_in_schema=False)
async def logout() -> Response:
    response = _back("signed-out")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/status/dead-letters/{action}", include_in_schema=False)
async def dead_letter_form(
    request: Request, action: str, entity: str = Form(""), every: str = Form("", alias="all")
) -> Response:
    if action not in ("replay", "drop"):
        raise HTTPException(404, "unknown action")
    require_admin(request, form=True)
    result = await _dead_letter_action(request, action, entity, every == "1")
    if every == "1":
        return _back(f"{action}-all", count=len(result["done"]))
    return _back(action if result["done"] else "missing", entity=entity)


@router.get("/status/preview", response_class=HTMLResponse, include_in_schema=False)
async def preview_form(request: Request, mapping: str = "") -> Response:
    names = [m.name for m in _service(request).mappings.current.mappings]
    return _render(
        "preview.html", names=names, chosen=mapping or (names[0] if names else ""), text="", result=None
    )


@router.post("/status/preview", response_class=HTMLResponse, include_in_schema=False)
async def preview_submit(request: Request, mapping: str = Form(""), payload: str = Form("")) -> Response:
    mappings = _service(request).mappings.current
    names = [m.name for m in mappings.mappings]
    result = preview(mappings, mapping, payload).as_dict()
    return _render("preview.html", names=names, chosen=mapping, text=payload, result=result)


# -- API ---------------------------------------------------------------------------------------


@router.get("/api/dead-letters")
async def list_dead_letters(request: Request) -> dict[str, Any]:
    snapshot = await status_snapshot(_service(request), audit_limit=0, links_limit=0, dead_limit=1000)
    return {"dead_letters": snapshot["dead_letters"]}


@router.post("/api/dead-letters/{entity:path}/{action}")
async def dead_letter_api(request: Request, entity: str, action: str) -> JSONResponse:
    if action not in ("replay", "drop"):
        raise HTTPException(404, "unknown action: use replay or drop")
    require_admin(request)
    every = entity == "*"
    result = await _dead_letter_action(request, action, None if every else entity, every)
    status = 200 if result["done"] or every else 404
    return JSONResponse(result, status_code=status)


@router.post("/api/preview")
async def preview_api(request: Request) -> JSONResponse:
    """``{"mapping": "...", "input": {...}}`` -> the rendered record, or ``error`` / ``skipped``."""
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("mapping"), str):
        raise HTTPException(400, 'expected {"mapping": "<name>", "input": {...}}')
    result = preview(_service(request).mappings.current, body["mapping"], json.dumps(body.get("input")))
    return JSONResponse(result.as_dict(), status_code=200 if result.error is None else 422)

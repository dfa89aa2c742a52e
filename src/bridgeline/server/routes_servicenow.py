"""``POST /webhooks/servicenow``: notifications from the Business Rule in ``integrations/servicenow/``.

The call is accepted only with a valid ``X-Bridgeline-Signature: sha256=<hex HMAC of the raw
body>`` or the shared ``Authorization: Bearer <token>`` (compared in constant time); anything else
is a 401 and nothing is stored. An accepted notification becomes one inbox event
(``servicenow:change_request:<sys_id>``), de-duplicated on ``X-Bridgeline-Delivery``; the engine
reads the record itself, so a late or repeated notification can move nothing backwards.

Answers: 202 stored, 200 a duplicate delivery or bridgeline's own write, 400 not JSON or not a
notification, 401 not authenticated, 404 ServiceNow not configured, 413 too large, 503 the
database is away (the Business Rule does not retry, but polling catches up).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bridgeline.connectors.servicenow import notification_event, verify_notification
from bridgeline.errors import RetryableError
from bridgeline.log import get_logger
from bridgeline.server.jsonbody import BadBody, parse_json
from bridgeline.sync.polling import count_received

log = get_logger("bridgeline.webhooks")
router = APIRouter()


def _answer(status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _rejected(reason: str) -> JSONResponse:
    log.info("ServiceNow notification rejected", reason=reason)  # once, and never the body
    return _answer(400, error=reason)


@router.post("/webhooks/servicenow")
async def servicenow_webhook(request: Request) -> JSONResponse:
    service = request.app.state.service
    settings = service.settings.servicenow
    if settings is None:
        return _answer(404, error="ServiceNow is not configured")
    body = await request.body()  # the guard has limited its size and the time it may take
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    token = settings.webhook_token.get_secret_value() if settings.webhook_token else None
    if not verify_notification(
        body,
        signature_header=request.headers.get("x-bridgeline-signature"),
        authorization=request.headers.get("authorization"),
        secret=secret,
        token=token,
    ):
        log.warning("ServiceNow notification refused: bad or missing signature/token")
        why = (
            "bad signature or token" if (secret or token) else "no webhook_secret or webhook_token configured"
        )
        return _answer(401, error=f"not authenticated: {why}")
    try:
        payload = parse_json(body)
        event = notification_event(payload, delivery_id=request.headers.get("x-bridgeline-delivery"))
    except BadBody as exc:
        return _rejected(str(exc))
    except ValueError as exc:
        return _rejected(f"not a ServiceNow notification: {exc}")
    if settings.own_user and payload.get("sys_updated_by") == settings.own_user:
        log.info("ServiceNow notification ignored", entity=str(event.ref), reason="bridgeline's own write")
        return _answer(200, accepted=0, note="bridgeline's own write")
    try:
        stored = await service.store.enqueue([event])
    except RetryableError as exc:
        log.warning("ServiceNow notification not stored: database unavailable", error=str(exc))
        return JSONResponse({"error": "database unavailable"}, status_code=503, headers={"Retry-After": "5"})
    count_received([event] if stored else [])
    if not stored:
        return _answer(200, accepted=0, duplicate=True)
    log.info("ServiceNow notification", entity=str(event.ref), operation=(event.hint or {}).get("operation"))
    return _answer(202, accepted=1, entity=str(event.ref))

"""``POST /webhooks/jira``: Jira's webhook deliveries become inbox events, and nothing else happens here.

The handler checks the signature on the raw body, reads which entities changed, appends them to
the inbox (de-duplicated on ``X-Atlassian-Webhook-Identifier``, stable across Jira's retries) and
answers. It makes no remote call: the workers read the current state later.

=====  ================================================================================
202    stored: the events are in the inbox
200    nothing new to store: a repeated delivery, or an event bridgeline does not act on
400    the body is not a JSON object (or is nested too deeply, holds a lone surrogate, names an
       identifier longer than Jira makes them); the reason is in the answer
401    a secret is configured and the signature is missing or wrong: nothing is stored
404    Jira is not configured
413    the body is larger than ``server.max_body_bytes``
503    the database is unavailable: Jira retries later
=====  ================================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bridgeline.connectors.jira.webhooks import (
    IDENTIFIER_HEADER,
    SIGNATURE_HEADER,
    InvalidDelivery,
    parse_delivery,
    signature_valid,
)
from bridgeline.errors import BridgelineError, RetryableError
from bridgeline.log import get_logger
from bridgeline.server.jsonbody import BadBody, parse_json
from bridgeline.sync.polling import count_received, issue_prefilter

if TYPE_CHECKING:
    from bridgeline.sync.service import Service

log = get_logger("bridgeline.webhooks.jira")

router = APIRouter()

RETRY_AFTER_SECONDS = 30


def _one_writer(request: Request, service: Service) -> contextlib.AbstractAsyncContextManager[Any]:
    """SQLite has one writer: concurrent deliveries queue here, in order and at once, rather than
    in SQLite's busy-wait, whose growing sleeps make the slowest answers seconds long."""
    if service.store.dialect != "sqlite":
        return contextlib.nullcontext()
    lock: asyncio.Lock | None = getattr(request.app.state, "jira_inbox_lock", None)
    if lock is None:
        lock = request.app.state.jira_inbox_lock = asyncio.Lock()
    return lock


def _answer(status: int, **body: Any) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _rejected(request: Request, reason: str) -> JSONResponse:
    """400, said to the sender and logged once (without the body, which may hold anything)."""
    log.info("Jira webhook rejected", reason=reason, client=request.client.host if request.client else None)
    return _answer(400, error=reason)


@router.post("/webhooks/jira")
async def jira_webhook(request: Request) -> JSONResponse:
    """Append the events of one Jira delivery to the inbox."""
    started = time.perf_counter()
    service: Service = request.app.state.service
    jira = service.settings.jira
    if jira is None:
        return _answer(404, error="Jira is not configured on this bridgeline")
    raw = await request.body()  # the guard has limited its size and the time it may take
    if jira.webhook_secret is not None:
        secret = jira.webhook_secret.get_secret_value()
        if not signature_valid(secret, raw, request.headers.get(SIGNATURE_HEADER)):
            log.warning(
                "Jira webhook refused: signature missing or wrong",
                signed=SIGNATURE_HEADER in request.headers,
                client=request.client.host if request.client else None,
            )
            return _answer(401, error=f"{SIGNATURE_HEADER} is missing or does not match the shared secret")
    try:
        payload = parse_json(raw)
    except BadBody as exc:
        return _rejected(request, str(exc))
    if not isinstance(payload, dict):
        return _rejected(request, f"the body must be a JSON object, not {type(payload).__name__}")
    identifier = request.headers.get(IDENTIFIER_HEADER) or None
    try:
        issue_events = issue_prefilter(service.mappings.current)
    except BridgelineError:
        issue_events = False
    try:
        delivery = parse_delivery(
            payload, identifier=identifier, issue_events=issue_events, projects=jira.projects
        )
    except InvalidDelivery as exc:
        return _rejected(request, str(exc))
    accepted = 0
    if delivery.events:
        try:
            async with _one_writer(request, service):
                accepted = await service.store.enqueue(delivery.events)
        except RetryableError as exc:
            log.error(
                "Jira webhook not stored; Jira will retry", webhook_event=delivery.event, error=str(exc)
            )
            return _answer(503, error="the inbox is unavailable; try again later")
        if accepted:
            count_received(delivery.events)
    if delivery.ignored and not delivery.events:
        # one line, never the body: what came and why nothing is to be done
        log.info("Jira webhook ignored", webhook_event=delivery.event, reason=delivery.ignored)
    log.debug(
        "Jira webhook",
        webhook_event=delivery.event,
        identifier=identifier,
        events=len(delivery.events),
        accepted=accepted,
        ignored=delivery.ignored,
        ms=round((time.perf_counter() - started) * 1000, 2),
    )
    body: dict[str, Any] = {
        "event": delivery.event,
        "events": len(delivery.events),
        "accepted": accepted,
    }
    if delivery.events and accepted == 0:
        body["duplicate"] = True
    if delivery.ignored:
        body["ignored"] = delivery.ignored
    return _answer(202 if accepted else 200, **body)

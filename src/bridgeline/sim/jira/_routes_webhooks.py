"""Admin webhooks: ``/rest/webhooks/1.0/webhook`` registration (Jira administrators only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from bridgeline.sim.jira._errors import JiraError
from bridgeline.sim.jira._http import Ctx, api_route, json_response, no_content
from bridgeline.sim.jira._jql_parse import parse
from bridgeline.sim.jira._model import Webhook
from bridgeline.sim.jira._webhook_events import webhook_json

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator

BASE = "/rest/webhooks/1.0/webhook"


def _require_admin(ctx: Ctx) -> None:
    if not ctx.actor.admin:
        raise JiraError(403, "Only Jira administrators can manage webhooks.")


def _find(ctx: Ctx) -> Webhook:
    raw = ctx.path("id")
    webhook = ctx.state.webhooks.get(int(raw)) if raw.isdecimal() else None
    if webhook is None:
        raise JiraError(404, f"Webhook with id {raw} does not exist.")
    return webhook


def _apply(ctx: Ctx, webhook: Webhook, body: dict[str, Any], *, creating: bool) -> None:
    errors: dict[str, str] = {}
    name = body.get("name")
    if (creating or "name" in body) and (not isinstance(name, str) or not name.strip()):
        errors["name"] = "Name is required."
    if creating or "url" in body:
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            errors["url"] = "URL must be a valid http or https address."
    if creating or "events" in body:
        events = body.get("events")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            errors["events"] = "Events must be a list of event names."
    filters = body.get("filters") or {}
    jql = filters.get("issue-related-events-section") if isinstance(filters, dict) else None
    if jql:
        try:
            parse(jql)
        except JiraError as exc:
            errors["filters"] = exc.messages[0] if exc.messages else "Invalid JQL."
    if errors:
        raise JiraError(400, errors=errors)
    if "name" in body:
        webhook.name = body["name"]
    if "url" in body:
        webhook.url = body["url"]
    if "events" in body:
        webhook.events = list(body["events"])
    if "filters" in body:
        webhook.jql = jql or None
    if "secret" in body:
        webhook.secret = body["secret"] or None
    if "excludeBody" in body:
        webhook.exclude_body = bool(body["excludeBody"])
    if "enabled" in body:
        webhook.enabled = bool(body["enabled"])
    if "description" in body:
        webhook.description = str(body["description"] or "")
    webhook.last_updated = ctx.state.clock.now_ms()
    webhook.last_updated_user = ctx.actor.account_id
    ctx.state.dirty = True


async def register(ctx: Ctx) -> Response:
    body = ctx.json_body()
    with ctx.state.lock:
        _require_admin(ctx)
        webhook = Webhook(id=ctx.state.counters.webhook + 1, name="", url="", events=[])
        _apply(ctx, webhook, body, creating=True)
        ctx.state.counters.next("webhook")
        ctx.state.webhooks[webhook.id] = webhook
        data = webhook_json(webhook, ctx.base_url, ctx.state)
    return json_response(data, 201)


async def list_webhooks(ctx: Ctx) -> Response:
    with ctx.state.lock:
        _require_admin(ctx)
        data = [webhook_json(w, ctx.base_url, ctx.state) for w in ctx.state.webhooks.values()]
    return json_response(data)


async def get_webhook(ctx: Ctx) -> Response:
    with ctx.state.lock:
        _require_admin(ctx)
        data = webhook_json(_find(ctx), ctx.base_url, ctx.state)
    return json_response(data)


async def update_webhook(ctx: Ctx) -> Response:
    body = ctx.json_body()
    with ctx.state.lock:
        _require_admin(ctx)
        webhook = _find(ctx)
        _apply(ctx, webhook, body, creating=False)
        data = webhook_json(webhook, ctx.base_url, ctx.state)
    return json_response(data)


async def delete_webhook(ctx: Ctx) -> Response:
    with ctx.state.lock:
        _require_admin(ctx)
        webhook = _find(ctx)
        del ctx.state.webhooks[webhook.id]
        ctx.state.dirty = True
    return no_content()


def routes(sim: JiraSimulator) -> list[Route]:
    return [
        api_route(BASE, register, ["POST"], sim),
        api_route(BASE, list_webhooks, ["GET"], sim),
        api_route(BASE + "/{id}", get_webhook, ["GET"], sim),
        api_route(BASE + "/{id}", update_webhook, ["PUT"], sim),
        api_route(BASE + "/{id}", delete_webhook, ["DELETE"], sim),
    ]

"""Registering bridgeline's webhook in Jira, idempotently: one registration per URL, kept up to date.

::

    spec = WebhookSpec(url="https://bridgeline.example.com/webhooks/jira", projects=["PAY", "WEB"], secret=s)
    outcome = await ensure_webhook(jira, spec)   # created | updated | unchanged
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bridgeline.connectors.jira.client import JiraClient
from bridgeline.connectors.jira.webhooks import HANDLED_EVENTS

WEBHOOK_PATH = "/webhooks/jira"
WEBHOOK_EVENTS = sorted(HANDLED_EVENTS)


def project_filter(projects: Sequence[str]) -> str:
    """The JQL filter of issue and comment events: only the configured projects."""
    return "project in (" + ", ".join(f'"{p}"' for p in projects) + ")" if projects else ""


def webhook_url(url: str) -> str:
    """A bare base URL gets bridgeline's webhook path: ``https://b.example.com`` -> ``.../webhooks/jira``."""
    url = url.strip()
    _scheme, sep, rest = url.partition("://")
    if sep and "/" not in rest.rstrip("/"):
        return url.rstrip("/") + WEBHOOK_PATH
    return url


@dataclass
class WebhookSpec:
    url: str
    projects: Sequence[str]
    secret: str | None = None
    name: str = "bridgeline"
    events: list[str] = field(default_factory=lambda: list(WEBHOOK_EVENTS))

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "url": self.url,
            "events": list(self.events),
            "filters": {"issue-related-events-section": project_filter(self.projects)},
            "excludeBody": False,
            "enabled": True,
        }
        if self.secret:
            body["secret"] = self.secret
        return body


@dataclass
class WebhookOutcome:
    action: str  # created | updated | unchanged | would create | would update
    webhook: dict[str, Any]
    differences: list[str] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # other registrations of the same URL


def _differences(existing: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if existing.get("name") != wanted["name"]:
        out.append("name")
    if sorted(existing.get("events") or []) != sorted(wanted["events"]):
        out.append("events")
    filters = existing.get("filters") or {}
    have = filters.get("issue-related-events-section", "") if isinstance(filters, dict) else ""
    if (have or "") != wanted["filters"]["issue-related-events-section"]:
        out.append("filters")
    if existing.get("enabled") is False:
        out.append("enabled")
    if existing.get("excludeBody") is True:
        out.append("excludeBody")
    return out


def _webhook_id(webhook: dict[str, Any]) -> str:
    link = str(webhook.get("self") or "")
    return link.rstrip("/").rsplit("/", 1)[-1] if link else str(webhook.get("id", ""))


async def ensure_webhook(jira: JiraClient, spec: WebhookSpec, *, dry_run: bool = False) -> WebhookOutcome:
    """Create bridgeline's webhook, or bring the one already registered for ``spec.url`` up to date.

    Jira never shows a webhook's secret, so with a secret the registration is always re-sent:
    a rotated secret reaches Jira by running the command again.
    """
    wanted = spec.body()
    same_url = [w for w in await jira.webhooks() if str(w.get("url", "")).rstrip("/") == spec.url.rstrip("/")]
    if not same_url:
        if dry_run:
            return WebhookOutcome("would create", wanted)
        return WebhookOutcome("created", await jira.create_webhook(wanted))
    existing, duplicates = same_url[0], same_url[1:]
    differences = _differences(existing, wanted)
    if not differences and not spec.secret:
        return WebhookOutcome("unchanged", existing, [], duplicates)
    if dry_run:
        return WebhookOutcome("would update", existing, differences or ["secret"], duplicates)
    updated = await jira.update_webhook(_webhook_id(existing), wanted)
    return WebhookOutcome("updated", updated or existing, differences or ["secret"], duplicates)

"""Building the ITSM side from settings: one target connector per configured system, and its pollers."""

from __future__ import annotations

import httpx

from bridgeline.config import Settings
from bridgeline.connectors.servicenow import ServiceNowClient, ServiceNowTarget
from bridgeline.connectors.target import TargetConnector
from bridgeline.store import Store
from bridgeline.sync.polling import Poller


async def build_targets(
    settings: Settings, transports: dict[str, httpx.AsyncBaseTransport] | None = None
) -> dict[str, TargetConnector]:
    """A connected target per configured ITSM system (``servicenow``, ``remedy``)."""
    transports = transports or {}
    targets: dict[str, TargetConnector] = {}
    if settings.servicenow is not None:
        client = ServiceNowClient.from_settings(settings.servicenow, transport=transports.get("servicenow"))
        targets["servicenow"] = ServiceNowTarget(client, base_url=settings.servicenow.url)
    return targets


def build_pollers(settings: Settings, store: Store, targets: dict[str, TargetConnector]) -> list[Poller]:
    """Pollers that bring the ITSM side's changes (the CAB's answers) into the inbox."""
    return []

"""Building the ITSM side from settings: one target connector per configured system, and its pollers.

The pollers bring the ITSM side's changes (the CAB's answers, a change's progress) into the inbox
as ``servicenow:change_request:<sys_id>``, ``servicenow:change_task:<sys_id>`` and
``remedy:change:<Request ID>`` events, each poll storing its events, marks and cursor in one
transaction. They only report records bridgeline made (it holds a link to them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx

from bridgeline import metrics
from bridgeline.config import Settings
from bridgeline.connectors.remedy import RemedyChanges, RemedyTarget
from bridgeline.connectors.servicenow import ServiceNowChanges, ServiceNowTarget
from bridgeline.connectors.servicenow.changes import cursor_name
from bridgeline.connectors.target import TargetConnector
from bridgeline.log import get_logger
from bridgeline.store import Store
from bridgeline.sync.polling import Poller, count_received

log = get_logger("bridgeline.poll")


async def build_targets(
    settings: Settings, transports: dict[str, httpx.AsyncBaseTransport] | None = None
) -> dict[str, TargetConnector]:
    """A connected target per configured ITSM system (``servicenow``, ``remedy``)."""
    transports = transports or {}
    targets: dict[str, TargetConnector] = {}
    if settings.servicenow is not None:
        targets["servicenow"] = ServiceNowTarget.from_settings(
            settings.servicenow, transport=transports.get("servicenow")
        )
    if settings.remedy is not None:
        targets["remedy"] = RemedyTarget.from_settings(settings.remedy, transport=transports.get("remedy"))
    return targets


def build_pollers(settings: Settings, store: Store, targets: dict[str, TargetConnector]) -> list[Poller]:
    """Pollers that bring the ITSM side's changes (the CAB's answers) into the inbox."""
    pollers: list[Poller] = []
    snow, remedy = targets.get("servicenow"), targets.get("remedy")
    if settings.servicenow is not None and isinstance(snow, ServiceNowTarget):
        changes = ServiceNowChanges(
            snow.client,
            overlap_seconds=settings.servicenow.poll_overlap,
            own_user=settings.servicenow.own_user,
            page_size=settings.servicenow.poll_page_size,
        )
        pollers.append(ServiceNowPoller(store, changes, interval=settings.servicenow.poll_interval))
    if settings.remedy is not None and isinstance(remedy, RemedyTarget):
        remedy_changes = RemedyChanges(
            remedy.client,
            overlap_seconds=settings.remedy.poll_overlap,
            page_size=settings.remedy.poll_page_size,
        )
        pollers.append(RemedyPoller(store, remedy_changes, interval=settings.remedy.poll_interval))
    return pollers


class _OwnedBy:
    """Which of a poll's records bridgeline made: those it holds a link to."""

    def __init__(self, store: Store, system: str) -> None:
        self.store = store
        self.system = system

    async def __call__(self, kind: str, ids: Sequence[str]) -> set[str]:
        owned = set()
        for target_id in dict.fromkeys(ids):
            if await self.store.link_by_target(self.system, target_id) is not None:
                owned.add(target_id)
        return owned


class _PollerBase:
    name = ""

    def __init__(self, store: Store, *, interval: float) -> None:
        self.store = store
        self.interval = interval
        self.last_success: float | None = None

    def lag(self) -> float | None:
        """Seconds since the last successful poll."""
        return None if self.last_success is None else time.time() - self.last_success

    async def _store(self, result: Any) -> int:
        stored = await self.store.enqueue(result.events, cursor=result.cursor, marks=result.marks)
        count_received(result.events)
        return stored

    def _done(self, stored: int) -> int:
        self.last_success = time.time()
        metrics.SYNC_LAG.labels(self.name).set(0)
        if stored:
            log.info("poll found changes", connector=self.name, events=stored)
        return stored


class ServiceNowPoller(_PollerBase):
    """Change requests and change tasks by ``sys_updated_on``, de-duplicated on ``sys_mod_count``."""

    name = "servicenow"

    def __init__(self, store: Store, changes: ServiceNowChanges, *, interval: float = 60.0) -> None:
        super().__init__(store, interval=interval)
        self.changes = changes
        self.owned = _OwnedBy(store, "servicenow")

    async def poll(self) -> int:
        stored = 0
        for table in self.changes.tables:
            cursor = await self.store.get_cursor(cursor_name(table))
            result = await self.changes.poll(table, cursor, self.store.get_marks_for, self.owned)
            stored += await self._store(result)
        return self._done(stored)


class RemedyPoller(_PollerBase):
    """Change requests by ``Last Modified Date``, de-duplicated on what the poll reads of them."""

    name = "remedy"

    def __init__(self, store: Store, changes: RemedyChanges, *, interval: float = 60.0) -> None:
        super().__init__(store, interval=interval)
        self.changes = changes
        self.owned = _OwnedBy(store, "remedy")

    async def poll(self) -> int:
        cursor = await self.store.get_cursor(self.changes.cursor_name)
        result = await self.changes.poll(cursor, self.store.get_marks_for, self.owned)
        return self._done(await self._store(result))

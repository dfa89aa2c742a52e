"""Poll jobs: ask a connector what changed, and store the events with the cursor in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from bridgeline import metrics
from bridgeline.connectors.jira import JiraChanges
from bridgeline.connectors.jira.changes import issues_cursor_name, versions_scope
from bridgeline.log import get_logger
from bridgeline.mapping import MappingSet
from bridgeline.model import Event
from bridgeline.store import Store
from bridgeline.sync.mappings import LiveMappings

log = get_logger("bridgeline.poll")


def count_received(events: list[Event]) -> None:
    for ev in events:
        metrics.EVENTS_RECEIVED.labels(ev.ref.system, ev.ref.kind, ev.source).inc()


def issue_prefilter(mappings: MappingSet) -> bool | Callable[[dict[str, Any]], bool]:
    """Which changed issues are worth reading for issue mappings, judged on the fields a poll or a
    webhook carries (project, issue type, labels): False when no mapping reads issues.

    ``when`` conditions need the whole issue: the engine applies them after reading it.
    """
    sources = [m.source for m in mappings.for_source(system="jira", entity="issue")]
    if not sources:
        return False

    def wanted(issue: dict[str, Any]) -> bool:
        fields = issue.get("fields") or {}
        project = (fields.get("project") or {}).get("key")
        issue_type = (fields.get("issuetype") or {}).get("name")
        labels = fields.get("labels")
        for s in sources:
            if s.projects and project is not None and project not in s.projects:
                continue
            if s.issue_types and issue_type is not None and issue_type not in s.issue_types:
                continue
            if s.labels and labels is not None and not set(labels) & set(s.labels):
                continue
            return True
        return False

    return wanted


class Poller(Protocol):
    """A scheduled job that asks one system what changed and stores the events."""

    name: str
    interval: float  # seconds between polls

    async def poll(self) -> int:
        """Poll once; the number of events stored."""

    def lag(self) -> float | None:
        """Seconds since the last successful poll (None before the first)."""


class JiraPoller:
    """Versions of each configured project by snapshot hash; issues by an epoch-ms cursor."""

    name = "jira"

    def __init__(
        self, store: Store, changes: JiraChanges, mappings: LiveMappings, *, interval: float = 60.0
    ) -> None:
        self.store = store
        self.changes = changes
        self.mappings = mappings
        self.interval = interval
        self.last_success: float | None = None

    async def poll(self) -> int:
        """One poll of every project; the number of events stored."""
        stored = 0
        for project in self.changes.projects:
            known = await self.store.get_marks(versions_scope(project))
            result = await self.changes.poll_versions(project, known)
            stored += await self.store.enqueue(result.events, marks=result.marks)
            count_received(result.events)
        cursor = await self.store.get_cursor(issues_cursor_name(self.changes.projects))
        result = await self.changes.poll_issues(
            cursor, self.store.get_marks_for, issue_events=issue_prefilter(self.mappings.current)
        )
        stored += await self.store.enqueue(result.events, cursor=result.cursor, marks=result.marks)
        count_received(result.events)
        self.last_success = time.time()
        metrics.SYNC_LAG.labels(self.name).set(0)
        if stored:
            log.info("poll found changes", connector=self.name, events=stored)
        return stored

    def lag(self) -> float | None:
        """Seconds since the last successful poll."""
        return None if self.last_success is None else time.time() - self.last_success

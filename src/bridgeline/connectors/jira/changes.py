"""Detecting what changed in Jira: version polling by snapshot hash, issue polling by cursor.

Nothing here writes anywhere: a poll returns the events to append, the marks to remember and
the cursor to advance, and the caller stores all three in one transaction, so the cursor never
moves past events that were not stored.

Issues are polled with ``updated >= <epoch ms>`` - an unquoted number is epoch milliseconds in
JQL, immune to the searching user's time zone and to the minute precision of date literals -
re-reading ``overlap`` seconds behind the cursor and dropping what was already seen by its
``(id, updated)`` mark.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bridgeline.connectors.jira.client import JiraClient
from bridgeline.model import EntityRef, Event, content_hash

MarkLookup = Callable[[Sequence[str]], Awaitable[dict[str, str]]]

ISSUE_MARK_SCOPE = "jira:issues"
DELETED = "deleted"


def versions_scope(project: str) -> str:
    return f"jira:project:{project}:versions"


def issues_cursor_name(projects: Sequence[str]) -> str:
    return "jira:issues:" + ",".join(sorted(projects))


def parse_jira_time(value: str) -> datetime:
    """``2017-11-16T18:28:14.672+0800`` (Jira's format, offset without a colon) -> aware datetime."""
    text = value.strip()
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def jira_time_ms(value: str) -> int:
    return int(parse_jira_time(value).timestamp() * 1000)


@dataclass
class PollResult:
    events: list[Event] = field(default_factory=list)
    marks: dict[str, tuple[str, str]] = field(default_factory=dict)
    cursor: tuple[str, str] | None = None
    seen: int = 0  # entities read by the poll


class JiraChanges:
    """Change detection for the configured projects."""

    def __init__(
        self, client: JiraClient, projects: Sequence[str], *, overlap_seconds: float = 120.0
    ) -> None:
        self.client = client
        self.projects = list(projects)
        self.overlap_ms = int(overlap_seconds * 1000)

    async def poll_versions(self, project: str, known: dict[str, str]) -> PollResult:
        """Versions created, changed, released, archived or deleted since their last recorded hash."""
        scope = versions_scope(project)
        result = PollResult()
        present: set[str] = set()
        for version in await self.client.project_versions(project):
            ref = EntityRef("jira", "version", str(version["id"]))
            entity = str(ref)
            present.add(entity)
            result.seen += 1
            # `self` carries the base URL, which is not content: a moved instance is not a changed release
            mark = content_hash({k: v for k, v in version.items() if k != "self"})
            if known.get(entity) != mark:
                result.events.append(Event(ref, source="poll"))
                result.marks[entity] = (scope, mark)
        for entity, mark in known.items():
            if entity not in present and mark != DELETED:
                result.events.append(Event(EntityRef.parse(entity), source="poll"))
                result.marks[entity] = (scope, DELETED)
        return result

    async def poll_issues(self, cursor: str | None, lookup: MarkLookup, *, issue_events: bool) -> PollResult:
        """Issues updated since ``cursor`` (epoch ms); each change also enqueues its releases.

        An issue's mark remembers its fix versions, so one removed from a release re-syncs that
        release too. With ``issue_events`` the issues themselves are enqueued (issue mappings).
        """
        result = PollResult()
        if not self.projects:
            return result
        since = max(0, int(cursor) - self.overlap_ms) if cursor else 0
        keys = ", ".join(f'"{p}"' for p in self.projects)
        jql = f"project in ({keys}) AND updated >= {since} ORDER BY updated ASC"
        page: list[dict] = []
        newest = int(cursor) if cursor else 0
        async for issue in self.client.search(jql, fields=["updated", "fixVersions", "project"]):
            page.append(issue)
        result.seen = len(page)
        entities = [str(EntityRef("jira", "issue", str(i["id"]))) for i in page]
        known = await lookup(entities) if entities else {}
        versions: dict[str, None] = {}
        for issue, entity in zip(page, entities, strict=True):
            fields = issue.get("fields") or {}
            updated = str(fields.get("updated") or "")
            fix = sorted(str(v["id"]) for v in fields.get("fixVersions") or [])
            mark = f"{updated}|{','.join(fix)}"
            if updated:
                newest = max(newest, jira_time_ms(updated))
            previous = known.get(entity)
            if previous == mark:
                continue
            result.marks[entity] = (ISSUE_MARK_SCOPE, mark)
            if issue_events:
                result.events.append(Event(EntityRef.parse(entity), source="poll"))
            before = previous.split("|", 1)[1].split(",") if previous and "|" in previous else []
            for vid in [*fix, *before]:
                if vid:
                    versions[vid] = None
        result.events.extend(Event(EntityRef("jira", "version", vid), source="poll") for vid in versions)
        result.cursor = (issues_cursor_name(self.projects), str(newest))
        return result

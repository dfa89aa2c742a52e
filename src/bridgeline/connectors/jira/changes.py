"""Detecting what changed in Jira: version polling by snapshot hash, issue polling by cursor.

Nothing here writes anywhere: a poll returns the events to append, the marks to remember and
the cursor to advance, and the caller stores all three in one transaction, so the cursor never
moves past events that were not stored.

Issues are polled with ``updated >= <epoch ms>`` - an unquoted number is epoch milliseconds in
JQL, immune to the searching user's time zone and to the minute precision of date literals -
re-reading ``overlap`` seconds behind the cursor (searches are eventually consistent) and
dropping what was already seen by its ``(id, updated)`` mark. Marks hold ``updated`` as epoch
milliseconds too: the same instant rendered in another time zone is not a change.

Pages are fetched one after another; an issue edited during a poll jumps to the end of the
``ORDER BY updated`` result and shifts the issues behind it across a page boundary, where one
can be skipped. Seeing an issue twice with different ``updated`` reveals it (as does a shrinking
total on Data Center): the cursor then stops at the earliest point that may have been skipped,
so the next poll reads it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridgeline.connectors.jira.client import JiraClient
from bridgeline.errors import NotFound
from bridgeline.log import get_logger
from bridgeline.model import EntityRef, Event, content_hash

log = get_logger("bridgeline.jira.changes")

MarkLookup = Callable[[Sequence[str]], Awaitable[dict[str, str]]]

ISSUE_MARK_SCOPE = "jira:issues"
DELETED = "deleted"
POLL_FIELDS = ("updated", "fixVersions", "project", "issuetype", "labels")
# issue -> does an issue mapping want it? (decided on the polled fields: project, type, labels)
IssueFilter = Callable[[dict[str, Any]], bool]


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
    return round(parse_jira_time(value).timestamp() * 1000)


def issue_mark(updated_ms: int, fix_versions: Sequence[str], wanted: bool = False) -> str:
    """What the poller remembers of an issue: when it changed, which releases it was in, and whether
    an issue mapping wanted it (``|i``), so one that stops matching is still sent once more."""
    return f"{updated_ms}|{','.join(sorted(fix_versions))}" + ("|i" if wanted else "")


def mark_versions(mark: str | None) -> list[str]:
    if not mark or "|" not in mark:
        return []
    return [v for v in mark.split("|")[1].split(",") if v]


def mark_wanted(mark: str | None) -> bool:
    return bool(mark) and mark.endswith("|i")  # type: ignore[union-attr]


@dataclass
class PollResult:
    events: list[Event] = field(default_factory=list)
    marks: dict[str, tuple[str, str]] = field(default_factory=dict)
    cursor: tuple[str, str] | None = None
    seen: int = 0  # entities read by the poll
    rescan_from: int | None = None  # epoch ms the next poll must read again (pages shifted under us)


class JiraChanges:
    """Change detection for the configured projects."""

    def __init__(
        self,
        client: JiraClient,
        projects: Sequence[str],
        *,
        overlap_seconds: float = 120.0,
        page_size: int | None = None,
    ) -> None:
        self.client = client
        self.projects = list(projects)
        self.overlap_ms = int(overlap_seconds * 1000)
        self.page_size = page_size
        self.unavailable: set[str] = set()  # projects the account cannot see (404): left out of JQL

    async def poll_versions(self, project: str, known: dict[str, str]) -> PollResult:
        """Versions created, changed, released, archived or deleted since their last recorded hash."""
        scope = versions_scope(project)
        result = PollResult()
        try:
            versions = await self.client.project_versions(project)
        except NotFound as exc:
            if project not in self.unavailable:
                log.warning(
                    "Jira project not found or not visible to bridgeline's account; skipping it",
                    project=project,
                    error=str(exc),
                )
            self.unavailable.add(project)
            return result
        self.unavailable.discard(project)
        present: set[str] = set()
        for version in versions:
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

    def issue_query(self, since_ms: int) -> str | None:
        projects = [p for p in self.projects if p not in self.unavailable]
        if not projects:
            return None
        keys = ", ".join(f'"{p}"' for p in projects)
        return f"project in ({keys}) AND updated >= {since_ms} ORDER BY updated ASC"

    async def poll_issues(
        self, cursor: str | None, lookup: MarkLookup, *, issue_events: bool | IssueFilter
    ) -> PollResult:
        """Issues updated since ``cursor`` (epoch ms); each change also enqueues its releases.

        An issue's mark remembers its fix versions, so one removed from a release re-syncs that
        release too. ``issue_events`` says which issues are enqueued themselves (for issue mappings):
        all (True), none (False), or those a filter accepts - and those it accepted last time.
        """
        result = PollResult()
        previous = int(cursor) if cursor else 0
        since = max(0, previous - self.overlap_ms) if cursor else 0
        jql = self.issue_query(since)
        if jql is None:
            return result
        latest: dict[str, tuple[int, list[str], bool]] = {}  # issue id -> (updated ms, fix versions, wanted)
        first_seen: dict[str, int] = {}
        rescan: int | None = None
        newest = previous
        last_total: int | None = None
        last_updated = since
        async for page in self.client.search_pages(jql, fields=POLL_FIELDS, page_size=self.page_size):
            if page.total is not None and last_total is not None and page.total < last_total:
                rescan = min(rescan if rescan is not None else last_updated, last_updated)
            last_total = page.total if page.total is not None else last_total
            for issue in page.issues:
                issue_id = str(issue["id"])
                fields = issue.get("fields") or {}
                updated = str(fields.get("updated") or "")
                ms = jira_time_ms(updated) if updated else 0
                fix = sorted(str(v["id"]) for v in fields.get("fixVersions") or [] if "id" in v)
                if issue_id in first_seen and first_seen[issue_id] != ms:
                    # edited while we paged: it moved to the end and may have pushed another past us
                    rescan = min(rescan if rescan is not None else first_seen[issue_id], first_seen[issue_id])
                first_seen.setdefault(issue_id, ms)
                wanted = issue_events(issue) if callable(issue_events) else issue_events
                latest[issue_id] = (ms, fix, wanted)
                newest = max(newest, ms)
                last_updated = max(last_updated, ms)
        result.seen = len(latest)
        entities = {issue_id: str(EntityRef("jira", "issue", issue_id)) for issue_id in latest}
        known = await lookup(list(entities.values())) if entities else {}
        versions: dict[str, None] = {}
        filtered = callable(issue_events)
        for issue_id, (ms, fix, wanted) in latest.items():
            entity = entities[issue_id]
            mark = issue_mark(ms, fix, wanted and filtered)
            before = known.get(entity)
            if before == mark:
                continue
            result.marks[entity] = (ISSUE_MARK_SCOPE, mark)
            if wanted or mark_wanted(before):
                result.events.append(Event(EntityRef("jira", "issue", issue_id), source="poll"))
            for vid in [*fix, *mark_versions(before)]:
                versions[vid] = None
        result.events.extend(Event(EntityRef("jira", "version", vid), source="poll") for vid in versions)
        cursor_ms = newest
        if rescan is not None:
            result.rescan_from = rescan
            cursor_ms = max(previous, min(newest, rescan))
            log.info("issues moved while paging; the next poll reads again from", rescan_from=rescan)
        result.cursor = (issues_cursor_name(self.projects), str(cursor_ms))
        return result

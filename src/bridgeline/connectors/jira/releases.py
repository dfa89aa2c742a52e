"""Reading releases together: releases asked for at the same moment share their Jira calls.

The engine reads a release - the version and its issues - each time it processes one. When several
are asked for at once (a backfill works a batch of releases concurrently, a burst of webhooks
arrives), the reads are gathered for a few milliseconds and answered together: the versions of a
project come from one listing of its versions, and the issues of all of them from one search
(``fixVersion in (...)``), paged as usual. Every call is made after the reads were asked for, so
the answers are as fresh as separate reads would have been; a release read alone costs what it
always did (the version, then a search)::

    releases = ReleaseReader(jira, projects=["PAY"])
    found = await releases.read("10042", fields=["summary", "fixVersions"])  # None: version deleted
    if found is not None:
        version, issues = found

Which project a version belongs to never changes; it is learned from what Jira returns (and, when
only a few projects are configured, from listing them), so a project is listed only when at least
two of its versions are wanted. Jira does not page that listing: a project of thousands of versions
answers with all of them. So a project is listed again only when enough of its versions are wanted
at once: one in :attr:`ReleaseReader.per_listing` (500) of those it had when last listed. Reading a
listing of 500 versions takes about the CPU of three reads of one version, in one call. Fewer are
read one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bridgeline.connectors.jira.client import JiraClient
from bridgeline.errors import NotFound, RemoteRejected

Release = tuple[dict[str, Any], list[dict[str, Any]]]


@dataclass
class _Batch:
    """Reads asked for within one window, with the same issue fields."""

    fields: tuple[str, ...] | None
    waiting: dict[str, list[asyncio.Future[Release | None]]] = field(default_factory=dict)


class ReleaseReader:
    """Versions and their issues, read with as few calls as the moment allows."""

    def __init__(
        self,
        jira: JiraClient,
        *,
        projects: Sequence[str] = (),
        window: float = 0.005,
        max_batch: int = 50,
        list_up_to: int = 3,
        per_listing: int = 500,
    ) -> None:
        self.jira = jira
        self.projects = list(projects)
        self.window = window
        self.max_batch = max_batch
        self.list_up_to = list_up_to  # list every configured project to place unknown versions, if few
        self.per_listing = per_listing  # a listing of n versions is worth it for n / per_listing wanted
        self._listed: dict[str, int] = {}  # project key or id -> how many versions its last listing had
        self._project_of: dict[str, str] = {}  # version id -> project id (fixed for a version's life)
        self._open: dict[tuple[str, ...] | None, _Batch] = {}
        self._timers: dict[tuple[str, ...] | None, asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def read(self, version_id: str, *, fields: Sequence[str] | None = None) -> Release | None:
        """The version and its issues (``fixVersion = <id>`` in key order); None when it is gone."""
        key = tuple(fields) if fields else None
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Batch(key)
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(self.window, self._close, key)
        future: asyncio.Future[Release | None] = asyncio.get_running_loop().create_future()
        batch.waiting.setdefault(str(version_id), []).append(future)
        if len(batch.waiting) >= self.max_batch:
            self._close(key)
        return await future

    def _close(self, key: tuple[str, ...] | None) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        batch = self._open.pop(key, None)
        if batch is None:
            return
        task = asyncio.create_task(self._answer(batch), name="read releases")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _answer(self, batch: _Batch) -> None:
        try:
            found = await self._read_all(list(batch.waiting), batch.fields)
        except BaseException as exc:
            for futures in batch.waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for version_id, futures in batch.waiting.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(version_id))

    async def _read_all(self, ids: list[str], fields: tuple[str, ...] | None) -> dict[str, Release | None]:
        versions = await self._versions(ids)
        present = {vid: v for vid, v in versions.items() if v is not None}
        issues = await self._issues(list(present), fields)
        return {vid: (present[vid], issues[vid]) if vid in present else None for vid in ids}

    # -- versions --------------------------------------------------------------------------------

    async def _versions(self, ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Each version by id (None when it does not exist)."""
        found: dict[str, dict[str, Any] | None] = {}
        unplaced = [vid for vid in ids if vid not in self._project_of]
        if len(unplaced) > 1 and 0 < len(self.projects) <= self.list_up_to:
            for project in self.projects:
                if self._worth_listing(project, len(unplaced)):
                    found.update(self._take(project, await self.jira.project_versions(project), unplaced))
        by_project: dict[str, list[str]] = {}
        for vid in ids:
            if vid not in found and vid in self._project_of:
                by_project.setdefault(self._project_of[vid], []).append(vid)
        for project, wanted in by_project.items():
            if self._worth_listing(project, len(wanted)):
                found.update(self._take(project, await self.jira.project_versions(project), wanted))
        missing = [vid for vid in ids if vid not in found]
        for vid, version in zip(
            missing, await asyncio.gather(*(self._one(vid) for vid in missing)), strict=True
        ):
            found[vid] = version
        return found

    def _worth_listing(self, project: str, wanted: int) -> bool:
        """Whether one listing of the project beats ``wanted`` reads of one version each."""
        listed = self._listed.get(project)
        return wanted > 1 and (listed is None or wanted * self.per_listing >= listed)

    def _take(
        self, project: str, listed: list[dict[str, Any]], wanted: list[str]
    ) -> dict[str, dict[str, Any]]:
        """Learn where every listed version lives; the wanted ones found in the listing."""
        self._listed[project] = len(listed)
        if listed and listed[0].get("projectId") is not None:
            self._listed[str(listed[0]["projectId"])] = len(listed)
        wanted_set = set(wanted)
        taken: dict[str, dict[str, Any]] = {}
        for version in listed:
            vid = str(version.get("id"))
            if version.get("projectId") is not None:
                self._project_of[vid] = str(version["projectId"])
            if vid in wanted_set:
                taken[vid] = version
        return taken

    async def _one(self, version_id: str) -> dict[str, Any] | None:
        try:
            version = await self.jira.version(version_id)
        except NotFound:
            return None
        if version.get("projectId") is not None:
            self._project_of[version_id] = str(version["projectId"])
        return version

    # -- issues ----------------------------------------------------------------------------------

    async def _issues(
        self, ids: list[str], fields: tuple[str, ...] | None
    ) -> dict[str, list[dict[str, Any]]]:
        """The issues of each version, in key order, from one search (pages as Jira gives them)."""
        if not ids:
            return {}
        if len(ids) == 1:
            return {ids[0]: await self._search(f"fixVersion = {ids[0]}", fields)}
        if fields is not None and "fixVersions" not in fields:
            fields = (*fields, "fixVersions")  # what tells the releases' issues apart
        try:
            issues = await self._search(f"fixVersion in ({', '.join(ids)})", fields)
        except RemoteRejected as exc:
            if exc.status != 400:
                raise
            # a version deleted since it was read makes the whole query invalid: ask one by one
            searched = await asyncio.gather(*(self._issues([vid], fields) for vid in ids))
            return {vid: part[vid] for part, vid in zip(searched, ids, strict=True)}
        grouped: dict[str, list[dict[str, Any]]] = {vid: [] for vid in ids}
        for issue in issues:
            for fix in (issue.get("fields") or {}).get("fixVersions") or ():
                vid = str(fix.get("id")) if isinstance(fix, dict) else ""
                if vid in grouped:
                    grouped[vid].append(issue)
        return grouped

    async def _search(self, clause: str, fields: tuple[str, ...] | None) -> list[dict[str, Any]]:
        return await self.jira.search_all(
            f"{clause} ORDER BY key ASC", fields=list(fields) if fields is not None else None
        )

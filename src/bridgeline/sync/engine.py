"""The engine: for one entity, read its current state, map it, reconcile every target it maps to.

The state is always read from the source system (authoritative), so replayed, duplicated or
out-of-order events can never move a record backwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bridgeline import metrics
from bridgeline.connectors.jira import JiraClient
from bridgeline.connectors.jira.client import BASE_ISSUE_FIELDS
from bridgeline.connectors.jira.releases import ReleaseReader
from bridgeline.connectors.target import TargetConnector
from bridgeline.errors import NotFound, PermanentError, RenderError, RetryableError
from bridgeline.log import get_logger
from bridgeline.mapping import Mapping, Rendered, issue_context, version_context
from bridgeline.model import AuditEntry, EntityRef, Link, TargetRef, utcnow
from bridgeline.store import Store
from bridgeline.sync.mappings import LiveMappings
from bridgeline.sync.reconcile import DesiredRecord, Reconciler, RetirePolicy
from bridgeline.sync.reports import EntityReport, MappingResult
from bridgeline.sync.reverse import ReverseSync

log = get_logger("bridgeline.engine")


class _ProjectCache:
    """Projects change rarely; reading one per release per pass would double the calls."""

    def __init__(self, jira: JiraClient, ttl: float = 300.0) -> None:
        self.jira = jira
        self.ttl = ttl
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, key_or_id: str) -> dict[str, Any]:
        hit = self._items.get(key_or_id)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        project = await self.jira.project(key_or_id)
        now = time.monotonic()
        self._items[str(project.get("id"))] = (now, project)
        self._items[str(project.get("key"))] = (now, project)
        return project


class JiraReader:
    """Reads a Jira entity's current state and builds its mapping context (authoritative reads)."""

    def __init__(
        self, jira: JiraClient, mappings: LiveMappings, projects: set[str], clock: Callable[[], datetime]
    ) -> None:
        self.jira = jira
        self.mappings = mappings
        self.projects = projects
        self.clock = clock
        self._projects = _ProjectCache(jira)
        self.releases = ReleaseReader(jira, projects=sorted(projects))  # concurrent reads share calls

    def issue_fields(self) -> list[str] | None:
        wanted = self.mappings.current.jira_fields(entity="issue")
        if wanted is None:
            return None
        return sorted(set(BASE_ISSUE_FIELDS) | set(wanted))

    async def context(self, ref: EntityRef) -> tuple[dict[str, Any], str] | None:
        """``(context, label)`` of a Jira version or issue; None when it no longer exists.

        Raises :class:`PermanentError` for an entity of a project that is not configured.
        """
        if ref.kind == "version":
            release = await self.releases.read(ref.id, fields=self.issue_fields())
            if release is None:
                return None
            version, issues = release
            project = await self._project(str(version.get("projectId")))
            label = f"{project.get('key')} {version.get('name')}"
            return version_context(version, project, issues, self.clock()), label
        if ref.kind == "issue":
            try:
                issue = await self.jira.issue(ref.id, fields=self.issue_fields())
            except NotFound:
                return None
            project = await self._project(str((issue.get("fields") or {}).get("project", {}).get("id")))
            return issue_context(issue, project, self.clock()), str(issue.get("key"))
        raise PermanentError(f"bridgeline does not read Jira {ref.kind} entities ({ref})")

    async def _project(self, key_or_id: str) -> dict[str, Any]:
        project = await self._projects.get(key_or_id)
        if self.projects and project.get("key") not in self.projects:
            raise NotConfigured(f"project {project.get('key')} is not among the configured jira.projects")
        return project


class NotConfigured(Exception):
    """The entity belongs to a project bridgeline is not configured to sync."""


class Handoff:
    """Contexts a forward pass read, kept a few seconds for the first pass of the way back of the
    records it created: taken once, by this process only, and never older than ``ttl`` seconds
    (a CAB answer polled later is always judged against Jira read fresh)."""

    def __init__(self, *, ttl: float = 30.0, size: int = 1000) -> None:
        self.ttl = ttl
        self.size = size
        self._kept: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self.used = 0

    def put(self, target: TargetRef, ctx: dict[str, Any]) -> None:
        now = time.monotonic()
        if len(self._kept) >= self.size:  # expired first, then the oldest
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self.ttl}
            while len(self._kept) >= self.size:
                del self._kept[next(iter(self._kept))]
        self._kept[(target.system, target.id)] = (now, ctx)

    def take(self, system: str, target_id: str) -> dict[str, Any] | None:
        kept = self._kept.pop((system, target_id), None)
        if kept is None or time.monotonic() - kept[0] >= self.ttl:
            return None
        self.used += 1
        return kept[1]


class SyncEngine:
    def __init__(
        self,
        store: Store,
        mappings: LiveMappings,
        *,
        jira: JiraClient | None,
        targets: dict[str, TargetConnector],
        projects: list[str] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.mappings = mappings
        self.jira = jira
        self.targets = targets
        self.clock = clock
        self.reconciler = Reconciler(store)
        self.reader = JiraReader(jira, mappings, set(projects or []), clock) if jira else None
        self.reverse = ReverseSync(self) if jira else None
        # The Jira side a forward pass read, for the way back of the records it just created: their
        # queued events (processed under their own claims, moments later) need not read it again.
        self.handoff = Handoff()

    async def process(self, ref: EntityRef) -> EntityReport:
        if ref.system == "jira":
            return await self._forward(ref)
        if ref.system in self.targets and self.reverse is not None:
            return await self.reverse.process(ref)
        return EntityReport(ref, note=f"nothing maps {ref.system} {ref.kind} entities")

    # -- forward: a Jira release or issue -> target records ------------------------------------

    async def _forward(self, ref: EntityRef) -> EntityReport:
        report = EntityReport(ref)
        mappings = self.mappings.current.for_source(system="jira", entity=ref.kind)
        if not mappings or self.reader is None:
            report.note = f"no mapping reads Jira {ref.kind} entities"
            return report
        try:
            read = await self.reader.context(ref)
        except NotConfigured as exc:
            report.note = str(exc)
            return report
        if read is None:
            await self.store.audit(
                [
                    AuditEntry(
                        action="source_deleted",
                        entity=str(ref),
                        detail=f"the Jira {ref.kind} no longer exists; its records are left as they are",
                    )
                ]
            )
            report.note = "deleted in Jira"
            return report
        ctx, label = read
        await self._apply_all(report, mappings, ctx, label=label)
        for result in report.results:
            outcome = result.outcome
            if (
                outcome is not None
                and outcome.action in ("create", "adopt")
                and outcome.link.parent_id is None
            ):
                self.handoff.put(outcome.link.target, ctx)
        return report

    async def _apply_all(
        self, report: EntityReport, mappings: list[Mapping], ctx: dict[str, Any], *, label: str
    ) -> None:
        """Every mapping of the entity; a render failure of one does not stop the others."""
        failures: list[str] = []
        for mapping in mappings:
            try:
                report.results.append(await self._apply(mapping, report.ref, ctx, label))
            except RenderError as exc:
                if mapping.on_error == "skip":
                    await self.store.audit(
                        [
                            AuditEntry(
                                action="skip",
                                entity=str(report.ref),
                                mapping=mapping.name,
                                outcome="skipped",
                                detail=str(exc),
                            )
                        ]
                    )
                    report.results.append(MappingResult(mapping.name, skipped=str(exc)))
                elif mapping.on_error == "fail":
                    raise RetryableError(str(exc)) from exc
                else:
                    failures.append(str(exc))
        if failures:
            raise PermanentError("; ".join(failures))

    async def _apply(
        self, mapping: Mapping, ref: EntityRef, ctx: dict[str, Any], label: str
    ) -> MappingResult:
        # the record made earlier, if any: a mapping may keep it up to date without opening new ones
        existing = await self.store.get_link(mapping.name, str(ref))
        ctx = {**ctx, "link": link_view(existing) if existing else None}
        if not mapping.applies(ctx):
            return MappingResult(mapping.name, skipped="conditions not met")
        started = time.perf_counter()
        rendered: Rendered = mapping.render(ctx)
        metrics.RENDER_SECONDS.labels(mapping.name).observe(time.perf_counter() - started)
        target = self._target(rendered.target.system)
        key = str(ref)
        desired = DesiredRecord(
            mapping=mapping.name,
            key=key,
            source=ref,
            correlation_id=rendered.identity,
            kind=rendered.target.record,
            fields=rendered.fields,
            options=_options(rendered.target),
            label=label,
            source_url=_source_url(ctx, ref),
            conflicts=dict(rendered.conflicts),
        )
        outcome = await self.reconciler.record(target, desired, link=existing)
        result = MappingResult(mapping.name, outcome)
        if rendered.children or mapping.children:
            # with no children rendered (all issues left the release), existing ones still retire
            wanted = [
                DesiredRecord(
                    mapping=mapping.name,
                    key=f"{key}/{child.group}/{child.source_key}",
                    source=EntityRef.parse(child.source_key),
                    correlation_id=child.identity,
                    kind=child.target.record,
                    fields=child.fields,
                    options=_options(child.target),
                    on_remove=RetirePolicy(child.on_remove.action, dict(child.on_remove.fields)),
                )
                for child in rendered.children
            ]
            result.children = await self.reconciler.children(
                target, outcome.link, wanted, parent_created=outcome.action == "create"
            )
        return result

    def _target(self, system: str) -> TargetConnector:
        try:
            return self.targets[system]
        except KeyError:
            raise PermanentError(
                f"a mapping targets {system}, but no {system} connection is configured "
                f"(add a '{system}:' section to the configuration)"
            ) from None


def _source_url(ctx: dict[str, Any], ref: EntityRef) -> str | None:
    """The page a person opens for the source: ``version.url`` or ``issue.url`` of the context."""
    entity = ctx.get(ref.kind)
    url = entity.get("url") if isinstance(entity, dict) else None
    return str(url) if url else None


def link_view(link: Link) -> dict[str, Any]:
    """A link as mapping templates see it (``link.number``, ``link.url``...)."""
    return {
        "system": link.target.system,
        "record": link.target.kind,
        "number": link.target.number,
        "url": link.target.url,
        "id": link.target.id,
        "correlation_id": link.correlation_id,
    }


def _options(spec: Any) -> dict[str, Any]:
    return {k: getattr(spec, k) for k in ("api", "type", "template") if getattr(spec, k, None) is not None}

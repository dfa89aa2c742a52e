"""The engine: for one entity, read its current state, map it, reconcile every target it maps to.

The state is always read from the source system (authoritative), so replayed, duplicated or
out-of-order events can never move a record backwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridgeline import metrics
from bridgeline.connectors.jira import JiraClient
from bridgeline.connectors.jira.client import BASE_ISSUE_FIELDS
from bridgeline.connectors.jira.releases import ReleaseReader
from bridgeline.connectors.target import TargetConnector
from bridgeline.errors import NotFound, OutOfScope, PermanentError, RenderError, RetryableError
from bridgeline.log import get_logger
from bridgeline.mapping import Mapping, Rendered, issue_context, version_context
from bridgeline.model import AuditEntry, EntityRef, Link, TargetRef, utcnow
from bridgeline.store import Claim, Store
from bridgeline.sync.deployments import DeploymentSync
from bridgeline.sync.gate import Gate
from bridgeline.sync.mappings import LiveMappings
from bridgeline.sync.reconcile import DesiredRecord, Reconciler, RetirePolicy
from bridgeline.sync.reports import EntityReport, MappingResult
from bridgeline.sync.reverse import ReverseSync
from bridgeline.sync.trains import TrainSync, child_label

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

    async def project_key(self, key_or_id: str) -> str | None:
        """A project's key (cached), whether or not it is among the configured projects."""
        return str((await self._projects.get(key_or_id)).get("key") or "") or None

    async def _project(self, key_or_id: str) -> dict[str, Any]:
        project = await self._projects.get(key_or_id)
        if self.projects and project.get("key") not in self.projects:
            raise OutOfScope(f"project {project.get('key')} is not among the configured jira.projects")
        return project


@dataclass(frozen=True, slots=True)
class HandedOff:
    """What a forward pass knows of a record it has just written, for that record's way back."""

    ctx: dict[str, Any]  # the Jira side it read
    seen: dict[str, Any] | None  # the record as the create answered it, normalized (None: read it)


class Handoff:
    """What a forward pass read and wrote, kept a few seconds for the first pass of the way back of
    the records it created: taken once, by this process only, and never older than ``ttl`` seconds
    (a CAB answer polled later is always judged against Jira read fresh). The way back's event is
    due from when the forward pass's news arrived, so it is claimed next, whatever the backlog."""

    def __init__(self, *, ttl: float = 30.0, size: int = 1000) -> None:
        self.ttl = ttl
        self.size = size
        self._kept: dict[tuple[str, str], tuple[float, HandedOff]] = {}
        self.used = 0

    def put(self, target: TargetRef, ctx: dict[str, Any], seen: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if len(self._kept) >= self.size:  # expired first, then the oldest
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self.ttl}
            while len(self._kept) >= self.size:
                del self._kept[next(iter(self._kept))]
        self._kept[(target.system, target.id)] = (now, HandedOff(ctx, seen))

    def take(self, system: str, target_id: str) -> HandedOff | None:
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
        blackout_schedules: list[str] | None = None,
    ) -> None:
        self.store = store
        self.mappings = mappings
        self.jira = jira
        self.targets = targets
        self.clock = clock
        self.reconciler = Reconciler(store)
        self.reader = JiraReader(jira, mappings, set(projects or []), clock) if jira else None
        self.reverse = ReverseSync(self) if jira else None
        self.trains = TrainSync(self)
        # The Jira side a forward pass read, for the way back of the records it just created: their
        # queued events (processed under their own claims, moments later) need not read it again.
        self.handoff = Handoff()
        # pipelines: the deployment gate (a read) and the deployments they report (the same path)
        self.gate = Gate(self, blackout_schedules=blackout_schedules or [])
        self.deployments = DeploymentSync(self)

    async def process(self, ref: EntityRef, claim: Claim | None = None) -> EntityReport:
        """``claim``: the inbox's claim of the entity, when a worker holds one (what news it carries)."""
        if ref.system == "jira":
            return await self._forward(ref, claim.received_at if claim else None)
        if ref.system == "deployment" and self.reverse is not None:
            return await self.deployments.process(ref)
        if ref.system in self.targets and self.reverse is not None:
            return await self.reverse.process(ref, claim)
        return EntityReport(ref, note=f"nothing maps {ref.system} {ref.kind} entities")

    # -- forward: a Jira release or issue -> target records ------------------------------------

    async def _forward(self, ref: EntityRef, received_at: datetime | None = None) -> EntityReport:
        if ref.kind == "train" and self.reader is not None:
            return await self.trains.process(ref)
        report = EntityReport(ref)
        mappings = self.mappings.current.for_source(system="jira", entity=ref.kind)
        trains = self.trains.mappings() if ref.kind == "version" else []
        if (not mappings and not trains) or self.reader is None:
            report.note = f"no mapping reads Jira {ref.kind} entities"
            return report
        try:
            read = await self.reader.context(ref)
        except OutOfScope as exc:
            report.note = str(exc)
            return report
        if trains:
            # the trains it is on now and was on before hear of it, whatever the version mappings do
            await self.trains.follow(ref, read[0] if read else None)
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
        if not mappings:
            report.note = "read for its release trains; no mapping maps it alone"
            return report
        await self._apply_all(report, mappings, ctx, label=label, received_at=received_at)
        for result in report.results:
            outcome = result.outcome
            if (
                outcome is not None
                and outcome.action in ("create", "adopt")
                and outcome.link.parent_id is None
            ):
                self.handoff.put(outcome.link.target, ctx, outcome.seen)
        return report

    async def _apply_all(
        self,
        report: EntityReport,
        mappings: list[Mapping],
        ctx: dict[str, Any],
        *,
        label: str,
        received_at: datetime | None = None,
    ) -> None:
        """Every mapping of the entity; a render failure of one does not stop the others."""
        failures: list[str] = []
        for mapping in mappings:
            try:
                report.results.append(await self._apply(mapping, report.ref, ctx, label, received_at))
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
        self,
        mapping: Mapping,
        ref: EntityRef,
        ctx: dict[str, Any],
        label: str,
        received_at: datetime | None = None,
    ) -> MappingResult:
        # the record made earlier, if any: a mapping may keep it up to date without opening new ones
        existing = await self.store.get_link(mapping.name, str(ref))
        ctx = {**ctx, "link": link_view(existing) if existing else None}
        # templates run in a worker thread under their budget: the loop keeps serving meanwhile
        rendered = await asyncio.to_thread(render_if_applies, mapping, ctx, measured=True)
        if rendered is None:
            return MappingResult(mapping.name, skipped="conditions not met")
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
            write=dict(rendered.write),
            received_at=received_at,
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
                    write=dict(child.write),
                    label=child_label(ctx, child.source_key),
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


def render_if_applies(mapping: Mapping, ctx: dict[str, Any], *, measured: bool = False) -> Rendered | None:
    """The mapping's record for ``ctx``, or None when its filters or ``when`` leave the entity out.

    Blocking (templates run here, under their budget): call it in a worker thread.
    """
    if not mapping.applies(ctx):
        return None
    started = time.perf_counter()
    rendered = mapping.render(ctx)
    if measured:
        metrics.RENDER_SECONDS.labels(mapping.name).observe(time.perf_counter() - started)
    return rendered


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

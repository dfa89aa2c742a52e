"""Release trains on the one path: a member version's event enqueues its train; the train's own event
reads its members fresh and reconciles one parent change with its children.

A train is an entity of its own (``jira:train:<key>``) with its own inbox row, claim and links, so
the exactly-once guarantees of every other entity hold for it unchanged:

- **Detect.** Processing a version of a train mapping's member project renders its train key and
  enqueues the train it is in now and, when the key changed (renamed, archived, deleted), the train it
  was in before. The key last seen is a source mark (``jira:version:<id>#train:<mapping>``), written
  with those events in one transaction: a crash before it repeats both, one after it lost nothing.
- **Read.** The train's event lists the versions of every member project, keeps those whose key is
  the train's, and reads them with their issues (``ReleaseReader``: reads asked for together share
  calls). A version that left is simply no longer among them.
- **Reconcile.** The parent and its children go through the same :class:`Reconciler` as a release's:
  a member that joined gets its child (and the parent's fields follow), one that left has its child
  retired as the child's ``on_remove`` says.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bridgeline.errors import OutOfScope, PermanentError, RenderError
from bridgeline.log import get_logger
from bridgeline.mapping import Mapping, split_child_key, train_context, train_level, version_context
from bridgeline.model import EntityRef, Event, Link
from bridgeline.sync.reports import EntityReport

if TYPE_CHECKING:
    from bridgeline.sync.engine import SyncEngine

log = get_logger("bridgeline.trains")


def member_mark(version: EntityRef, mapping: str) -> str:
    """The source mark holding the train key a version had when last processed under ``mapping``."""
    return f"{version}#train:{mapping}"


def mark_scope(mapping: str) -> str:
    return f"jira:trains:{mapping}"


def child_label(ctx: dict[str, Any], source_key: str) -> str | None:
    """How people call a train's child: its member's release ("PAY 1.9.0") or its service."""
    for member in ctx.get("members") or ():
        if member["ref"] == source_key:
            return f"{member['project']['key']} {member['version']['name']}"
    for service in ctx.get("services") or ():
        if service["ref"] == source_key:
            return str(service["name"])
    return None


class TrainSync:
    """The train half of the engine: following member versions, and processing trains."""

    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self.store = engine.store

    def mappings(self) -> list[Mapping]:
        return self.engine.mappings.current.for_source(system="jira", entity="train")

    # -- a member version changed --------------------------------------------------------------

    async def follow(self, version: EntityRef, ctx: dict[str, Any] | None) -> list[str]:
        """Enqueue the trains ``version`` is in now and was in before (``ctx`` None: it was deleted).
        Returns the trains enqueued."""
        mappings = self.mappings()
        if not mappings:
            return []
        marks = [member_mark(version, m.name) for m in mappings]
        before = await self.store.get_marks_for(marks)
        try:
            keys = await asyncio.to_thread(lambda: [m.key_of(ctx) if ctx else "" for m in mappings])
        except RenderError as exc:
            raise PermanentError(str(exc)) from exc
        trains: set[str] = set()
        changed: dict[str, tuple[str, str]] = {}
        for mapping, mark, key in zip(mappings, marks, keys, strict=True):
            old = before.get(mark, "")
            trains.update(k for k in (old, key) if k)
            if key != old:
                changed[mark] = (mark_scope(mapping.name), key)
        events = [Event(EntityRef("jira", "train", key), source="member") for key in sorted(trains)]
        if events or changed:
            await self.store.enqueue(events, marks=changed)
        return sorted(trains)

    # -- a train changed -----------------------------------------------------------------------

    async def process(self, ref: EntityRef) -> EntityReport:
        report = EntityReport(ref)
        mappings = self.mappings()
        if not mappings:
            report.note = "no mapping reads release trains"
            return report
        for mapping in mappings:
            ctx = await self.context(mapping, ref.id)
            if not ctx["members"] and await self.store.get_link(mapping.name, str(ref)) is None:
                continue  # no version of this mapping's projects is on the train: nothing to govern
            label = f"train {ref.id}"
            await self.engine._apply_all(report, [mapping], ctx, label=label)
            for result in report.results:
                outcome = result.outcome
                if (
                    outcome is not None
                    and outcome.action in ("create", "adopt")
                    and outcome.link.parent_id is None
                ):
                    self.engine.handoff.put(outcome.link.target, ctx)
        if not report.results:
            report.note = f"no version is on train {ref.id}"
        return report

    async def context(self, mapping: Mapping, key: str) -> dict[str, Any]:
        """The train's context under ``mapping``, read fresh: every member project's versions whose
        key is ``key``, with their issues."""
        reader = self.engine.reader
        assert reader is not None
        projects = list(mapping.source.projects or ())
        try:
            found = await asyncio.gather(*(reader._project(p) for p in projects))
        except OutOfScope as exc:
            raise PermanentError(f"train mapping {mapping.name!r}: {exc}") from exc
        listings = await asyncio.gather(*(reader.jira.project_versions(p) for p in projects))
        now = reader.clock()

        def candidates() -> list[tuple[dict[str, Any], dict[str, Any]]]:
            out = []
            for project, versions in zip(found, listings, strict=True):
                for version in versions:
                    if mapping.key_of(version_context(version, project, [], now)) == key:
                        out.append((version, project))
            return out

        try:
            wanted = await asyncio.to_thread(candidates)
        except RenderError as exc:
            raise PermanentError(str(exc)) from exc
        fields = reader.issue_fields()
        releases = await asyncio.gather(
            *(reader.releases.read(str(v["id"]), fields=fields) for v, _ in wanted)
        )
        members = [
            (release[0], project, release[1])
            for (_, project), release in zip(wanted, releases, strict=True)
            if release is not None  # deleted meanwhile: no longer a member
        ]
        return train_context(key, members, now)

    async def level_context(self, mapping: Mapping, link: Link) -> dict[str, Any] | None:
        """The train context as the reverse rules of ``link``'s record see it (parent or child)."""
        if link.source.kind == "train":
            return train_level(await self.context(mapping, link.source.id))
        split = split_child_key(link.key, str(link.source))
        if split is None:
            return None
        parent, group = split
        ctx = await self.context(mapping, EntityRef.parse(parent).id)
        return train_level(ctx, group, str(link.source))

    @staticmethod
    def level_of(ctx: dict[str, Any], link: Link) -> dict[str, Any]:
        """A context handed over by the forward pass (the parent's), at the level of ``link``."""
        if "level" in ctx:
            return ctx
        if link.source.kind == "train":
            return train_level(ctx)
        split = split_child_key(link.key, str(link.source))
        return train_level(ctx, split[1] if split else None, str(link.source))

"""The deployment gate's view of release trains: a member ships with its train, or not at all.

A question about a member version (its train key rendered fresh from the version), about the train's
parent change or about one of its child changes names the whole train. This module finds the train
(:func:`train_of_version`, :func:`train_of_parent`, :func:`train_of_child`) and reads its parent and
every child change request fresh (:func:`read_train`); :func:`bridgeline.sync.gate.decide_train`
judges them::

    train = await train_of_version(engine, version, "PAY")   # Train("2026.12", "servicenow-train", ...)
    changes = await read_train(engine, train)                 # [("parent CHG0030010 (train 2026.12)", {...}),
                                                              #  ("child CHG0030012 (WEB)", {...}), ...]
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bridgeline.errors import NotFound, OutOfScope, RemoteRejected, RenderError
from bridgeline.log import get_logger
from bridgeline.mapping import split_child_key, version_context
from bridgeline.model import Link

if TYPE_CHECKING:
    from bridgeline.sync.engine import SyncEngine

log = get_logger("bridgeline.gate")

TRAIN_PREFIX = "jira:train:"
TASK_KINDS = frozenset({"change_task", "task"})  # a train's change tasks have no approval of their own


@dataclass(slots=True)
class Train:
    """A release train as the gate judges it: its parent change and its child change requests."""

    key: str
    mapping: str
    parent: Link | None  # None: no change made for the train yet
    children: list[Link] = field(default_factory=list)  # the active child change requests

    def has_member_children(self) -> bool:
        """Whether the mapping makes a child per member version (rather than per service)."""
        return any(c.source.kind == "version" for c in self.children)

    def child_of(self, version_id: str) -> Link | None:
        return next(
            (c for c in self.children if c.source.kind == "version" and c.source.id == version_id), None
        )


async def train_of_version(engine: SyncEngine, version: dict[str, Any], project_key: str) -> Train | None:
    """The train ``version`` (Jira's JSON, read fresh) is on now under a train mapping; None: none."""
    reader = engine.reader
    mappings = [m for m in engine.trains.mappings() if project_key in (m.source.projects or ())]
    if reader is None or not mappings:
        return None
    try:
        project = await reader._project(project_key)
    except OutOfScope:
        return None
    ctx = version_context(version, project, [], reader.clock())
    for mapping in mappings:
        try:
            key = await asyncio.to_thread(mapping.key_of, ctx)
        except RenderError as exc:  # the mapping's key is broken: the version is on none of its trains
            log.warning("train key not rendered", mapping=mapping.name, error=str(exc))
            continue
        if key:
            parent = await engine.store.get_link(mapping.name, TRAIN_PREFIX + key)
            return await train_of_parent(engine, parent) if parent else Train(key, mapping.name, None)
    return None


async def train_of_parent(engine: SyncEngine, parent: Link) -> Train:
    """The train whose parent change ``parent`` is, with its active child change requests."""
    assert parent.id is not None
    children = [
        c
        for c in await engine.store.children_of(parent.id)
        if c.state == "active" and c.target.kind not in TASK_KINDS
    ]
    return Train(parent.source.id, parent.mapping, parent, children)


async def train_of_child(engine: SyncEngine, child: Link) -> Train | None:
    """The train ``child`` is a child change of; None when it is a child of something else."""
    split = split_child_key(child.key, str(child.source))
    if split is None or not split[0].startswith(TRAIN_PREFIX):
        return None
    parent = await engine.store.get_link(child.mapping, split[0])
    return await train_of_parent(engine, parent) if parent else None


async def read_train(engine: SyncEngine, train: Train) -> list[tuple[str, dict[str, Any] | None]]:
    """The parent and every child, each ``(name, change read fresh or None when gone)``: names as
    the reasons call them, ``parent CHG0030010 (train 2026.12)``, ``child CHG0030012 (WEB)``."""
    assert train.parent is not None
    links = [train.parent, *train.children]
    changes, labels = await asyncio.gather(
        asyncio.gather(*(_read(engine, link) for link in links)),
        asyncio.gather(*(_label(engine, child) for child in train.children)),
    )
    names = [f"parent {train.parent.target.number} (train {train.key})"] + [
        f"child {child.target.number}" + (f" ({label})" if label else "")
        for child, label in zip(train.children, labels, strict=True)
    ]
    return list(zip(names, changes, strict=True))


async def member_projects(engine: SyncEngine, train: Train) -> list[str]:
    """The projects with a version on ``train`` now (their versions listed and keyed fresh)."""
    reader = engine.reader
    if reader is None or train.mapping not in engine.mappings.current:
        return []
    mapping = engine.mappings.current.get(train.mapping)
    projects = list(mapping.source.projects or ())
    try:
        found = await asyncio.gather(*(reader._project(p) for p in projects))
    except OutOfScope:
        return []
    listings = await asyncio.gather(*(reader.jira.project_versions(p) for p in projects))
    now = reader.clock()

    def on_train() -> list[str]:
        return [
            key
            for key, project, versions in zip(projects, found, listings, strict=True)
            if any(mapping.key_of(version_context(v, project, [], now)) == train.key for v in versions)
        ]

    try:
        return await asyncio.to_thread(on_train)
    except RenderError as exc:
        log.warning("train key not rendered", mapping=mapping.name, error=str(exc))
        return []


async def _read(engine: SyncEngine, link: Link) -> dict[str, Any] | None:
    target = engine.targets[link.target.system]
    try:
        return await target.read(link.target)
    except NotFound:
        return None


async def _label(engine: SyncEngine, child: Link) -> str | None:
    """How people call a child: its member's project (read fresh), or the service it was made for."""
    if child.source.kind == "component":
        return child.source.id
    if child.source.kind != "version" or engine.jira is None or engine.reader is None:
        return None
    try:
        version = await engine.jira.version(child.source.id)
    except (NotFound, RemoteRejected):
        return None  # the member version is gone: the child is named by its number alone
    return await engine.reader.project_key(str(version.get("projectId")))

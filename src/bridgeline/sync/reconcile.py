"""Reconcile: make one desired record (and its children) exist in a target, writing as little as possible.

For each record the rule is the same:

- **No link yet**: search the target by correlation id (a crash between "created" and "recorded"
  must not create a second record); adopt what is found, else create.
- **Link present**: diff the desired fields against the snapshot last pushed; send only the
  changed fields; nothing changed, no call at all.

Each write is recorded (link, snapshot, audit row) in one transaction right after it succeeds, so
a crash loses at most the knowledge of one write, which the correlation-id search recovers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bridgeline import metrics
from bridgeline.connectors.target import TargetConnector
from bridgeline.log import get_logger
from bridgeline.model import AuditEntry, EntityRef, Event, Link, Snapshot, TargetRef
from bridgeline.store import Store
from bridgeline.sync import conflicts

log = get_logger("bridgeline.sync")
T = TypeVar("T")


@dataclass
class DesiredRecord:
    """What one mapping wants one target record to look like."""

    mapping: str
    key: str  # link key, unique within the mapping
    source: EntityRef
    correlation_id: str
    kind: str
    fields: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    on_remove: RetirePolicy | None = None  # for children: what to do once the source leaves
    label: str | None = None  # how people call the source ("PAY 3.4.0"), kept on the link for display
    source_url: str | None = None  # where people see the source (the Jira version or issue)
    conflicts: dict[str, str] = field(default_factory=dict)  # field -> declared conflict policy


@dataclass
class RetirePolicy:
    """What happens to a child record whose source left (an issue removed from the release)."""

    action: str  # cancel | close | keep
    fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "fields": self.fields}


@dataclass
class Outcome:
    """What reconciling did, for the caller's report."""

    link: Link
    action: str  # create | adopt | update | noop | retire
    changed: dict[str, Any] = field(default_factory=dict)


class _Unread:
    """A link not read yet (distinct from None: read, and there is none)."""


UNREAD = _Unread()


class Reconciler:
    def __init__(self, store: Store, *, child_concurrency: int = 8) -> None:
        self.store = store
        self.child_concurrency = child_concurrency

    async def record(
        self,
        target: TargetConnector,
        desired: DesiredRecord,
        *,
        parent: Link | None = None,
        link: Link | _Unread | None = UNREAD,
        look: bool = True,
    ) -> Outcome:
        """``link``: the record's link when the caller has read it already (None: there is none).
        ``look``: search the target before creating; only a child of a parent created in this pass
        can skip it, since nothing can be filed under a record that did not exist."""
        if isinstance(link, _Unread):
            link = await self.store.get_link(desired.mapping, desired.key)
        if link is None:
            return await self._first_write(target, desired, parent, look=look)
        # target_wins fields stay as the target has them; newest_wins edits stand until the source moves
        yielded = set(link.extra.get("yielded") or [])
        wanted = {k: v for k, v in desired.fields.items() if k not in yielded}
        changed = link.pushed.diff(wanted)
        accepted = dict(link.extra.get("accepted") or {})
        overruled = sorted(f for f in changed if f in accepted)
        for name in overruled:
            del accepted[name]
        reactivated = link.state != "active"
        if not changed and not reactivated:
            return Outcome(link, "noop")
        started = time.perf_counter()
        result = await target.update(link.target, changed, options=desired.options) if changed else None
        link.pushed = Snapshot.of({**link.pushed.fields, **wanted})
        link.state = "active"
        link.extra = {**link.extra, **_extra(desired), "accepted": accepted}
        if result is not None:
            link.target = _merge_ref(link.target, result.target)
        detail = (
            f"the source changed {', '.join(overruled)} after an edit in the target (newest wins)"
            if overruled
            else None
        )
        await self.store.record(
            link=link,
            audit=[self._audit("update", desired, link.target, changed, started, detail=detail)]
            if changed
            else [],
        )
        if changed:
            metrics.WRITES.labels(target.system, "update").inc()
            log.info(
                "updated",
                entity=str(desired.source),
                mapping=desired.mapping,
                target=link.target.number,
                fields=sorted(changed),
                ms=_ms(started),
            )
        return Outcome(link, "update", changed)

    async def _first_write(
        self, target: TargetConnector, desired: DesiredRecord, parent: Link | None, *, look: bool = True
    ) -> Outcome:
        started = time.perf_counter()
        found = (
            await target.find(
                desired.kind,
                desired.correlation_id,
                parent=parent.target if parent else None,
                options=desired.options,
            )
            if look
            else None
        )
        adopted_extra: dict[str, Any] = {}
        notes: list[AuditEntry] = []
        if found is not None:
            # Made earlier by us (the link was lost) or by a previous crash: bring it up to date - but
            # what the CAB did meanwhile stands, as each field's conflict policy says.
            changed, adopted_extra, notes = self._adoption(target, desired, found.record, found.target)
            ref = found.target
            if changed:
                ref = _merge_ref(ref, (await target.update(ref, changed, options=desired.options)).target)
            action = "adopt"
        else:
            result = await target.create(
                desired.kind,
                desired.fields,
                correlation_id=desired.correlation_id,
                parent=parent.target if parent else None,
                options=desired.options,
            )
            ref, changed, action = result.target, dict(desired.fields), result.action
        link = Link(
            mapping=desired.mapping,
            key=desired.key,
            source=desired.source,
            target=ref,
            correlation_id=desired.correlation_id,
            pushed=Snapshot.of(desired.fields),
            parent_id=parent.id if parent else None,
            extra={**_extra(desired), **adopted_extra},
        )
        await self.store.record(
            link=link,
            audit=[self._audit(action, desired, ref, changed, started), *notes],
            # the record's state may already hold news (an answer the CAB gave while the link was lost,
            # which the ITSM poller passed by): the way back reads it once now. Queued with the link,
            # in one transaction: the event always finds it.
            events=[Event(EntityRef(ref.system, ref.kind, ref.id), source=action)] if parent is None else (),
        )
        metrics.WRITES.labels(target.system, action).inc()
        log.info(
            action + "d" if action.endswith("e") else action + "ed",
            entity=str(desired.source),
            mapping=desired.mapping,
            target=ref.number or ref.id,
            ms=_ms(started),
        )
        return Outcome(link, action, changed)

    def _adoption(
        self, target: TargetConnector, desired: DesiredRecord, record: dict[str, Any], ref: TargetRef
    ) -> tuple[dict[str, Any], dict[str, Any], list[AuditEntry]]:
        """What adopting a found record writes: the fields Jira owns that differ. Fields the target
        owns or where the newest change wins keep the record's value (accepted, and audited) - unless
        nobody but bridgeline touched the record: then its work was cut short, and it finishes it."""
        same = getattr(target, "same_value", None)
        ours = getattr(target, "written_only_by_us", None)
        finishing = bool(ours and ours(desired.kind, record))
        changed: dict[str, Any] = {}
        accepted: dict[str, Any] = {}
        yielded: list[str] = []
        notes: list[AuditEntry] = []
        for name, wanted in desired.fields.items():
            if name in record:
                equal = (
                    same(desired.kind, name, wanted, record[name])
                    if same
                    else not _differs(record[name], wanted)
                )
                if equal:
                    continue
            policy = (
                "source_wins" if finishing else conflicts.policy_for(target.system, name, desired.conflicts)
            )
            if name not in record or name in conflicts.JOURNAL_FIELDS or policy == "source_wins":
                changed[name] = wanted
                continue
            accepted[name] = record[name]
            if policy == "target_wins":
                yielded.append(name)
            notes.append(
                AuditEntry(
                    action="conflict",
                    entity=desired.key,
                    mapping=desired.mapping,
                    target_system=ref.system,
                    target_kind=ref.kind,
                    target_id=ref.id,
                    target_number=ref.number,
                    fields={"field": name, "bridgeline": wanted, "target": record[name], "policy": policy},
                    detail=f"{name} differs in the record bridgeline adopted; its value stands ({policy})",
                )
            )
        extra: dict[str, Any] = {"accepted": accepted} if accepted else {}
        if yielded:
            extra["yielded"] = yielded
        return changed, extra, notes

    async def children(
        self,
        target: TargetConnector,
        parent: Link,
        wanted: list[DesiredRecord],
        *,
        parent_created: bool = False,
    ) -> list[Outcome]:
        """Reconcile a parent's children; retire the ones whose source is gone, as each one's
        ``on_remove`` policy (remembered from its last render) says.

        The children's links are read at once; under a parent created in this pass (``parent_created``)
        there are none, in the store or in the target, so nothing is read or searched for.
        """
        existing = [] if parent_created else await self.store.children_of(parent.id or 0)
        known: dict[str, Link | _Unread | None] = {link.key: link for link in existing}
        fallback: Link | _Unread | None = None if parent_created else UNREAD

        def one(d: DesiredRecord) -> Callable[[], Awaitable[Outcome]]:
            link = known.get(d.key, fallback)
            return lambda: self.record(target, d, parent=parent, link=link, look=not parent_created)

        outcomes = await _bounded([one(d) for d in wanted], self.child_concurrency)
        wanted_keys = {d.key for d in wanted}
        for link in existing:
            if link.key in wanted_keys or link.state != "active":
                continue
            remembered = link.extra.get("on_remove") or {}
            policy = RetirePolicy(remembered.get("action", "keep"), remembered.get("fields") or {})
            outcomes.append(await self._retire(target, link, policy))
        return outcomes

    async def _retire(self, target: TargetConnector, link: Link, policy: RetirePolicy) -> Outcome:
        started = time.perf_counter()
        desired = DesiredRecord(
            link.mapping, link.key, link.source, link.correlation_id, link.target.kind, {}
        )
        if policy.action == "keep":
            link.state = "retired"
            await self.store.record(
                link=link,
                audit=[
                    self._audit(
                        "retire",
                        desired,
                        link.target,
                        {},
                        started,
                        detail="source left; kept as is (on_remove: keep)",
                    )
                ],
            )
            return Outcome(link, "retire")
        result = await target.retire(link.target, policy.action, policy.fields)
        link.state = "retired"
        link.pushed = Snapshot.of({**link.pushed.fields, **result.fields})
        await self.store.record(
            link=link,
            audit=[
                self._audit(
                    "retire",
                    desired,
                    link.target,
                    result.fields,
                    started,
                    detail=f"source left; {policy.action}",
                )
            ],
        )
        metrics.WRITES.labels(target.system, "retire").inc()
        log.info(
            "retired",
            entity=str(link.source),
            mapping=link.mapping,
            target=link.target.number,
            how=policy.action,
            ms=_ms(started),
        )
        return Outcome(link, "retire", result.fields)

    @staticmethod
    def _audit(
        action: str,
        desired: DesiredRecord,
        ref: TargetRef,
        fields: dict[str, Any],
        started: float,
        *,
        detail: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            action=action,
            entity=desired.key,
            mapping=desired.mapping,
            target_system=ref.system,
            target_kind=ref.kind,
            target_id=ref.id,
            target_number=ref.number,
            fields=fields or None,
            detail=detail,
            duration_ms=_ms(started),
        )


def _extra(desired: DesiredRecord) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if desired.on_remove is not None:
        extra["on_remove"] = desired.on_remove.as_dict()
    if desired.label:
        extra["label"] = desired.label
    if desired.source_url:
        extra["source_url"] = desired.source_url
    if desired.conflicts:
        extra["conflicts"] = dict(desired.conflicts)
    return extra


def _differs(current: Any, desired: Any) -> bool:
    if current is None:
        return desired not in (None, "")
    return str(current) != ("" if desired is None else str(desired))


def _merge_ref(old: TargetRef, new: TargetRef) -> TargetRef:
    return TargetRef(old.system, old.kind, old.id, new.number or old.number, new.url or old.url)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def _bounded(factories: list[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run coroutine factories, at most ``limit`` at once; results in order.

    Every write is let finish (and so recorded) before the first error is raised.
    """
    semaphore = asyncio.Semaphore(limit)

    async def run(factory: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await factory()

    results = await asyncio.gather(*(run(f) for f in factories), return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]

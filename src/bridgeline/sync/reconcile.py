"""Reconcile: make one desired record (and its children) exist in a target, writing as little as possible.

For each record the rule is the same:

- **No link yet**: search the target by correlation id (a crash between "created" and "recorded"
  must not create a second record); adopt what is found, else create.
- **Link present**: diff the desired fields against the snapshot last pushed; send only the
  changed fields; nothing changed, no call at all. A field written ``once`` is left out of the
  diff once it holds a value; one written ``until_approved`` once the change is approved (read from
  the target the first time such a field would change, then remembered on the link).

Each write is recorded (link, snapshot, audit row) in one transaction right after it succeeds, so
a crash loses at most the knowledge of one write, which the correlation-id search recovers.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from bridgeline import metrics
from bridgeline.connectors.target import BatchWrite, TargetConnector
from bridgeline.log import get_logger
from bridgeline.model import AuditEntry, EntityRef, Event, Link, Snapshot, TargetRef, WriteResult
from bridgeline.store import AppliedAction, Store
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
    write: dict[str, str] = field(default_factory=dict)  # field -> once | until_approved
    # when the news that asked for this record reached bridgeline: a new record's way back is due then
    received_at: datetime | None = None


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
    seen: dict[str, Any] | None = None  # a created record as reverse rules see it, from the create's answer


@dataclass
class _Update:
    """A linked record's update, worked out and not sent yet."""

    desired: DesiredRecord
    link: Link
    changed: dict[str, Any]
    wanted: dict[str, Any]
    accepted: dict[str, Any]
    overruled: list[str]
    started: float


@dataclass
class _Create:
    """A create, worked out and not sent yet (its intent is recorded)."""

    desired: DesiredRecord
    started: float


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
        ``look``: whether a record without a link may exist already; only a child of a parent
        created in this pass is surely new (nothing can be filed under a record that did not exist).
        Even then the target is searched only when an earlier attempt may have created the record
        (its create intent is unfinished, or its link was lost) or the target says ``always``."""
        if isinstance(link, _Unread):
            link = await self.store.get_link(desired.mapping, desired.key)
        if link is None:
            return await self._first_write(target, desired, parent, look=look)
        plan = await self._plan_update(target, desired, link)
        if isinstance(plan, Outcome):
            return plan
        result = (
            await target.update(link.target, plan.changed, options=desired.options) if plan.changed else None
        )
        outcome, audit = self._updated(target, desired, plan, result)
        await self.store.record(link=outcome.link, audit=audit)
        return outcome

    async def _plan_update(
        self, target: TargetConnector, desired: DesiredRecord, link: Link
    ) -> _Update | Outcome:
        """What updating a linked record sends; an :class:`Outcome` when nothing is to be sent."""
        # target_wins fields stay as the target has them; newest_wins edits stand until the source moves
        yielded = set(link.extra.get("yielded") or [])
        approved_before = bool(link.extra.get("approved"))
        kept = await self._kept(target, desired, link)
        wanted = {k: v for k, v in desired.fields.items() if k not in yielded and k not in kept}
        changed = link.pushed.diff(wanted)
        accepted = dict(link.extra.get("accepted") or {})
        overruled = sorted(f for f in changed if f in accepted)
        for name in overruled:
            del accepted[name]
        reactivated = link.state != "active"
        final = _final(link, None)  # (under a final parent, children() writes nothing at all)
        if final and (changed or reactivated):
            return await self._hold(desired, link, changed, final)
        if not changed and not reactivated:
            if link.extra.get("approved") and not approved_before:
                await self.store.record(link=link)  # remember the approval: no read next time
            return Outcome(link, "noop")
        return _Update(desired, link, changed, wanted, accepted, overruled, time.perf_counter())

    def _updated(
        self, target: TargetConnector, desired: DesiredRecord, plan: _Update, result: WriteResult | None
    ) -> tuple[Outcome, list[AuditEntry]]:
        link, changed = plan.link, plan.changed
        link.pushed = Snapshot.of({**link.pushed.fields, **plan.wanted})
        link.state = "active"
        link.extra = {**link.extra, **_extra(desired), "accepted": plan.accepted}
        if result is not None:
            link.target = _merge_ref(link.target, result.target)
        if not changed:
            return Outcome(link, "update", changed), []
        detail = (
            f"the source changed {', '.join(plan.overruled)} after an edit in the target (newest wins)"
            if plan.overruled
            else None
        )
        metrics.WRITES.labels(target.system, "update").inc()
        log.info(
            "updated",
            entity=str(desired.source),
            mapping=desired.mapping,
            target=link.target.number,
            fields=sorted(changed),
            ms=_ms(plan.started),
        )
        audit = [self._audit("update", desired, link.target, changed, plan.started, detail=detail)]
        return Outcome(link, "update", changed), audit

    async def _hold(self, desired: DesiredRecord, link: Link, changed: dict[str, Any], final: str) -> Outcome:
        """A closed or canceled change is final: nothing more is written to it or its children. What
        the source changed since is audited once (again only when that list changes)."""
        held = sorted(changed)
        if link.extra.get("held") == held:
            return Outcome(link, "noop")
        link.extra = {**link.extra, "held": held}
        detail = f"the change is {final}, which is final: bridgeline writes nothing more to it" + (
            f" ({', '.join(held)} changed in the source since)" if held else ""
        )
        await self.store.record(
            link=link,
            audit=[self._audit("held", desired, link.target, {}, time.perf_counter(), detail=detail)],
        )
        log.info("held", entity=str(desired.source), target=link.target.number, fields=held, why=final)
        return Outcome(link, "noop")

    async def _kept(self, target: TargetConnector, desired: DesiredRecord, link: Link) -> set[str]:
        """Fields left as they are in the target: ``once`` ones holding a value, ``until_approved``
        ones of an approved change. The approval is read from the target only when such a field
        would change, and remembered on the link."""
        kept = {
            name
            for name, policy in desired.write.items()
            if policy == "once" and not _blank(link.pushed.fields.get(name))
        }
        frozen = [n for n, p in desired.write.items() if p == "until_approved" and n in desired.fields]
        if not frozen:
            return kept
        if not link.extra.get("approved") and link.pushed.diff({n: desired.fields[n] for n in frozen}):
            record = await target.read(link.target)
            if record.get("approval") == "approved":
                link.extra = {**link.extra, "approved": True}
        if link.extra.get("approved"):
            kept.update(frozen)
        return kept

    async def _must_look(
        self, target: TargetConnector, desired: DesiredRecord, *, look: bool, state: str | _Unread | None
    ) -> bool:
        """Whether a record without a link may exist already, so the target must be searched."""
        if not look:
            return False
        if getattr(target, "look_before_create", "after_interruption") == "always":
            return True
        if isinstance(state, _Unread):
            key = intent_key(desired)
            state = (await self.store.action_states([key])).get(key)
        return state is not None  # started: cut short around the create; done: its link was lost

    async def _first_write(
        self,
        target: TargetConnector,
        desired: DesiredRecord,
        parent: Link | None,
        *,
        look: bool = True,
        intent: str | _Unread | None = UNREAD,
        begun: bool = False,
    ) -> Outcome:
        """``intent``: the state of the record's create intent, when the caller has read it;
        ``begun``: the caller has recorded the intent already."""
        started = time.perf_counter()
        found = (
            await target.find(
                desired.kind,
                desired.correlation_id,
                parent=parent.target if parent else None,
                options=desired.options,
            )
            if await self._must_look(target, desired, look=look, state=intent)
            else None
        )
        if found is not None:
            outcome, audit = await self._adopt(target, desired, parent, found, started)
        else:
            if not begun:
                # the intent first: a process dying between the create and its record looks next time
                await self.store.begin_action(_intent(desired))
            result = await target.create(
                desired.kind,
                desired.fields,
                correlation_id=desired.correlation_id,
                parent=parent.target if parent else None,
                options=desired.options,
            )
            outcome, audit = self._created(target, desired, parent, result, started)
        await self.store.record(
            link=outcome.link,
            audit=audit,
            applied=[_intent(desired)],
            events=self._way_back(outcome.link, desired, outcome.action),
        )
        return outcome

    async def _adopt(
        self,
        target: TargetConnector,
        desired: DesiredRecord,
        parent: Link | None,
        found: WriteResult,
        started: float,
    ) -> tuple[Outcome, list[AuditEntry]]:
        # Made earlier by us (the link was lost) or by a previous crash: bring it up to date - but
        # what the CAB did meanwhile stands, as each field's conflict policy says.
        changed, adopted_extra, notes, kept = self._adoption(target, desired, found.record, found.target)
        ref = found.target
        if changed:
            ref = _merge_ref(ref, (await target.update(ref, changed, options=desired.options)).target)
        link = self._new_link(desired, parent, ref, kept, adopted_extra)
        self._wrote(target, desired, "adopt", ref, started)
        return Outcome(link, "adopt", changed), [self._audit("adopt", desired, ref, changed, started), *notes]

    def _created(
        self,
        target: TargetConnector,
        desired: DesiredRecord,
        parent: Link | None,
        result: WriteResult,
        started: float,
    ) -> tuple[Outcome, list[AuditEntry]]:
        ref, action = result.target, result.action
        link = self._new_link(desired, parent, ref, {}, {})
        self._wrote(target, desired, action, ref, started)
        changed = dict(desired.fields)
        outcome = Outcome(link, action, changed, seen=result.seen if action == "create" else None)
        return outcome, [self._audit(action, desired, ref, changed, started)]

    @staticmethod
    def _new_link(
        desired: DesiredRecord,
        parent: Link | None,
        ref: TargetRef,
        kept: dict[str, Any],
        adopted_extra: dict[str, Any],
    ) -> Link:
        return Link(
            mapping=desired.mapping,
            key=desired.key,
            source=desired.source,
            target=ref,
            correlation_id=desired.correlation_id,
            pushed=Snapshot.of({**desired.fields, **kept}),
            parent_id=parent.id if parent else None,
            extra={**_extra(desired), **adopted_extra},
        )

    @staticmethod
    def _way_back(link: Link, desired: DesiredRecord, action: str) -> list[Event]:
        """The record's state may already hold news (an answer the CAB gave while the link was lost,
        which the ITSM poller passed by): the way back reads it once now. Queued with the link, in one
        transaction: the event always finds it. Due from when the news that made the record arrived."""
        if link.parent_id is not None and link.target.kind != "change_request":
            return []  # a child change request of a train answers too: it has a CAB of its own
        ref = link.target
        entity = EntityRef(ref.system, ref.kind, ref.id)
        if desired.received_at is None:
            return [Event(entity, source=action)]
        return [Event(entity, source=action, received_at=desired.received_at)]

    @staticmethod
    def _wrote(
        target: TargetConnector, desired: DesiredRecord, action: str, ref: TargetRef, started: float
    ) -> None:
        metrics.WRITES.labels(target.system, action).inc()
        log.info(
            action + "d" if action.endswith("e") else action + "ed",
            entity=str(desired.source),
            mapping=desired.mapping,
            target=ref.number or ref.id,
            ms=_ms(started),
        )

    def _adoption(
        self, target: TargetConnector, desired: DesiredRecord, record: dict[str, Any], ref: TargetRef
    ) -> tuple[dict[str, Any], dict[str, Any], list[AuditEntry], dict[str, Any]]:
        """What adopting a found record writes: the fields Jira owns that differ. Fields the target
        owns or where the newest change wins keep the record's value (accepted, and audited) - unless
        nobody but bridgeline touched the record: then its work was cut short, and it finishes it.
        Fields written ``once`` that hold a value keep it (returned last: the value now pushed)."""
        same = getattr(target, "same_value", None)
        ours = getattr(target, "written_only_by_us", None)
        finishing = bool(ours and ours(desired.kind, record))
        changed: dict[str, Any] = {}
        accepted: dict[str, Any] = {}
        yielded: list[str] = []
        notes: list[AuditEntry] = []
        kept: dict[str, Any] = {}
        for name, wanted in desired.fields.items():
            if desired.write.get(name) == "once" and not _blank(record.get(name)):
                kept[name] = record[name]
                continue
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
        return changed, extra, notes, kept

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

        Under a closed or canceled change, nothing. The children's links are read at once; under a
        parent created in this pass (``parent_created``) there are none, in the store or in the
        target, so nothing is read or searched for. The create
        intents of the new children are recorded together, before any is sent; where the target
        takes several writes in one call (ServiceNow's Batch API), the creates and updates go together.
        """
        if _final(parent, None):
            return []  # under a final change nothing is created, updated or retired (its hold says so)
        existing = [] if parent_created else await self.store.children_of(parent.id or 0)
        known: dict[str, Link] = {link.key: link for link in existing}
        firsts = [d for d in wanted if d.key not in known]
        states = {} if parent_created else await self.store.action_states([intent_key(d) for d in firsts])
        await self.store.begin_actions([_intent(d) for d in firsts if intent_key(d) not in states])

        batch = getattr(target, "write_batch", None)
        if batch is None:
            outcomes = await _bounded(
                [self._child(target, parent, d, known.get(d.key), states, parent_created) for d in wanted],
                self.child_concurrency,
            )
        else:
            outcomes = await self._batched(target, parent, wanted, known, states, parent_created)
        wanted_keys = {d.key for d in wanted}
        for link in existing:
            if link.key in wanted_keys or link.state != "active":
                continue
            remembered = link.extra.get("on_remove") or {}
            policy = RetirePolicy(remembered.get("action", "keep"), remembered.get("fields") or {})
            outcomes.append(await self._retire(target, link, policy))
        return outcomes

    def _child(
        self,
        target: TargetConnector,
        parent: Link,
        desired: DesiredRecord,
        link: Link | None,
        states: dict[str, str],
        parent_created: bool,
    ) -> Callable[[], Awaitable[Outcome]]:
        if link is not None:
            return lambda: self.record(target, desired, parent=parent, link=link)
        state = states.get(intent_key(desired))
        return lambda: self._first_write(
            target, desired, parent, look=not parent_created, intent=state, begun=True
        )

    async def _batched(
        self,
        target: TargetConnector,
        parent: Link,
        wanted: list[DesiredRecord],
        known: dict[str, Link],
        states: dict[str, str],
        parent_created: bool,
    ) -> list[Outcome]:
        """Children written together: what each needs is worked out first (a record that may exist
        already is looked up and adopted on its own), then the creates and updates are sent in one
        call, and recorded in one transaction. What the call could not do is written one by one."""

        async def plan(d: DesiredRecord) -> Outcome | _Update | _Create:
            link = known.get(d.key)
            if link is not None:
                return await self._plan_update(target, d, link)
            state = states.get(intent_key(d))
            if await self._must_look(target, d, look=not parent_created, state=state):
                return await self._first_write(target, d, parent, look=True, intent=state, begun=True)
            return _Create(d, time.perf_counter())

        plans = await _bounded([functools.partial(plan, d) for d in wanted], self.child_concurrency)
        writes = [p for p in plans if isinstance(p, _Create) or (isinstance(p, _Update) and p.changed)]
        ops = [
            BatchWrite.create(
                p.desired.kind, p.desired.fields, p.desired.correlation_id, parent.target, p.desired.options
            )
            if isinstance(p, _Create)
            else BatchWrite.update(p.link.target, p.changed, p.desired.options)
            for p in writes
        ]
        answers: list[WriteResult | BaseException] | None = (
            await target.write_batch(ops) if ops else []  # type: ignore[attr-defined]
        )
        if answers is None:  # the instance takes no batches: one call each
            answers = [_NOT_SENT] * len(ops)
        results: dict[int, WriteResult | BaseException] = {}
        retry = [i for i, a in enumerate(answers) if isinstance(a, BaseException)]
        for i, a in enumerate(answers):
            if not isinstance(a, BaseException):
                results[i] = a
        if retry:  # only what the batch did not do, one by one
            if any(a is not _NOT_SENT for a in answers):
                log.info(
                    "a batch was partly done; the rest is sent one by one",
                    parent=parent.target.number,
                    left=len(retry),
                )
            singles = await _settled(
                [functools.partial(_single, target, ops[i]) for i in retry], self.child_concurrency
            )
            results.update(zip(retry, singles, strict=True))
        outcomes: dict[int, Outcome] = {}
        links: list[Link] = []
        audit: list[AuditEntry] = []
        applied: list[AppliedAction] = []
        events: list[Event] = []
        failure: BaseException | None = None
        for i, w in enumerate(writes):
            r = results[i]
            if isinstance(r, BaseException):
                failure = failure or r
                continue
            if isinstance(w, _Create):
                outcome, entries = self._created(target, w.desired, parent, r, w.started)
                applied.append(_intent(w.desired))
                events.extend(self._way_back(outcome.link, w.desired, outcome.action))
            else:
                outcome, entries = self._updated(target, w.desired, w, r)
            outcomes[id(w)] = outcome
            links.append(outcome.link)
            audit.extend(entries)
        for p in plans:  # noops and updates with nothing to send but a reactivation
            if isinstance(p, _Update) and not p.changed:
                outcome, _ = self._updated(target, p.desired, p, None)
                outcomes[id(p)] = outcome
                links.append(outcome.link)
        if links or audit:
            await self.store.record_many(links=links, audit=audit, applied=applied, events=events)
        if failure is not None:
            raise failure
        return [p if isinstance(p, Outcome) else outcomes[id(p)] for p in plans]

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


# The states (as reverse rules see them, for every target) after which a change takes no more writes.
FINAL_STATES = frozenset({"closed", "canceled"})


def _final(link: Link, parent: Link | None) -> str | None:
    """The final state the record, or the change it belongs to, was last seen in (None: still open)."""
    for one in (link, parent):
        if one is not None and one.extra.get("final") in FINAL_STATES:
            return str(one.extra["final"])
    return None


def intent_key(desired: DesiredRecord) -> str:
    """The key of a record's create intent (kept in ``applied_actions`` beside the Jira writes')."""
    digest = hashlib.sha256(f"{desired.mapping}\0{desired.key}".encode()).hexdigest()[:40]
    return f"create:{digest}"


def _intent(desired: DesiredRecord) -> AppliedAction:
    # no link_id: the intent outlives a lost link, which is what tells the next attempt to look
    return AppliedAction(intent_key(desired), desired.mapping[:200], "create")


class _NotSent(Exception):
    """A write the batch call did not carry (the instance takes no batches)."""


_NOT_SENT = _NotSent()


async def _single(target: TargetConnector, op: BatchWrite) -> WriteResult:
    """One write of a batch, sent on its own."""
    if op.action == "create":
        assert op.correlation_id is not None
        return await target.create(
            op.kind, op.fields, correlation_id=op.correlation_id, parent=op.parent, options=op.options
        )
    assert op.ref is not None
    return await target.update(op.ref, op.fields, options=op.options)


async def _settled(factories: list[Callable[[], Awaitable[T]]], limit: int) -> list[T | BaseException]:
    """Run coroutine factories, at most ``limit`` at once; each result or its error, in order."""
    semaphore = asyncio.Semaphore(limit)

    async def run(factory: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await factory()

    return await asyncio.gather(*(run(f) for f in factories), return_exceptions=True)


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


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


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

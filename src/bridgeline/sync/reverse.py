"""The reverse direction: the CAB's decision and the change's progress become Jira writes.

An ITSM record changed (a poll or a webhook said so). If bridgeline owns it (a link exists), read it
as it stands, and when what reverse rules can see has changed since it was last seen, evaluate the
mapping's ``reverse`` rules against the Jira side read fresh. Each resulting action carries an
idempotency key and is applied once: replays, duplicate events and several replicas never comment or
transition twice.

Echoes die early: a change made by bridgeline's own forward writes leaves the state reverse rules
see unchanged (the fields bridgeline pushed are left out of it), so it costs one read and no Jira call.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from bridgeline import metrics
from bridgeline.errors import NotFound, PermanentError, RemoteRejected, TransitionRefused
from bridgeline.log import get_logger
from bridgeline.mapping import ReverseAction
from bridgeline.model import AuditEntry, EntityRef, Link, Snapshot
from bridgeline.store import AppliedAction, Claim
from bridgeline.sync import conflicts
from bridgeline.sync.reconcile import FINAL_STATES
from bridgeline.sync.reports import EntityReport

if TYPE_CHECKING:
    from bridgeline.sync.engine import SyncEngine

log = get_logger("bridgeline.reverse")

# Jira writes that would repeat if sent twice (a transition, a link or a label lands once anyway):
# an intent is recorded before sending, so a retry after a crash looks before sending again.
UNREPEATABLE = frozenset({"comment"})

# Bookkeeping fields of a record: they change with every write and say nothing about the change.
_VOLATILE = {"sys_updated_on", "sys_updated_by", "sys_mod_count", "Last Modified Date", "Last Modified By"}


def observed_state(target: dict[str, Any], pushed: dict[str, Any]) -> dict[str, Any]:
    """What reverse rules can see of a record, minus what bridgeline itself wrote and bookkeeping."""
    fields = target.get("fields") or {}
    own = {k for k, v in fields.items() if k in pushed and str(pushed[k]) == str(v)}
    return {
        **{k: v for k, v in target.items() if k not in ("fields", "url")},
        "fields": {k: v for k, v in fields.items() if k not in own and k not in _VOLATILE},
    }


class ReverseSync:
    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self.store = engine.store

    async def process(self, ref: EntityRef, claim: Claim | None = None) -> EntityReport:
        report = EntityReport(ref)
        link = await self.store.link_by_target(ref.system, ref.id)
        if link is None:
            report.note = "not a record bridgeline made"
            return report
        mapping = (
            self.engine.mappings.current.get(link.mapping)
            if link.mapping in self.engine.mappings.current
            else None
        )
        train = mapping is not None and mapping.source.entity == "train"
        if link.parent_id is not None and not train:
            report.note = "child records carry no reverse rules"
            return report
        if mapping is None:
            report.note = f"mapping {link.mapping!r} is no longer loaded"
            return report
        target_connector = self.engine.targets[ref.system]
        handed = self.engine.handoff.take(ref.system, ref.id)  # a record this process has just created
        try:
            if handed is not None and handed.seen is not None and _only_own_create(claim):
                target = handed.seen  # the create's own answer, and nothing has been heard of it since
            else:
                target = await target_connector.read(link.target)
        except NotFound:
            await self.store.audit(
                [
                    AuditEntry(
                        action="target_deleted",
                        entity=link.key,
                        mapping=link.mapping,
                        target_system=ref.system,
                        target_id=ref.id,
                        target_number=link.target.number,
                        detail="the record no longer exists in the target",
                    )
                ]
            )
            report.note = "deleted in the target"
            return report
        state = str(target.get("state") or "")
        if state in FINAL_STATES and link.extra.get("final") != state:
            link.extra = {**link.extra, "final": state}  # from now on the forward pass holds its writes
            await self.store.record(link=link)
        await self._settle_conflicts(link, target, target_connector)
        seen = Snapshot.of(observed_state(target, _expected(link)))
        if link.seen is not None and link.seen.hash == seen.hash:
            report.note = "nothing new since last seen (an echo of bridgeline's own write, or a repeat)"
            return report
        if not mapping.has_reverse_rules:  # nothing to ask Jira for
            link.seen = seen
            await self.store.record(link=link)
            return report
        assert self.engine.reader is not None
        ctx = handed.ctx if handed is not None else None
        if ctx is None and train:
            # a train's parent or child: the train read fresh, at the level that answered
            ctx = await self.engine.trains.level_context(mapping, link)
            if ctx is None:
                report.note = f"{link.key} is not a record of a train"
                return report
        elif ctx is not None and train:
            ctx = self.engine.trains.level_of(ctx, link)
        if ctx is None:
            read = await self.engine.reader.context(link.source)
            if read is None:
                report.note = f"the Jira {link.source.kind} behind it no longer exists"
                link.seen = seen
                await self.store.record(link=link)
                return report
            ctx, _label = read
        ctx = {**ctx, "target": target, "link": _link_view(link, target)}
        actions = await asyncio.to_thread(mapping.reverse, ctx)  # templates: off the event loop
        keys = [a.key for a in actions]
        recorded = await self.store.action_states(keys)
        done = {k for k, state in recorded.items() if state == "done"}
        begun = {k for k, state in recorded.items() if state == "started"}
        failures: list[str] = []
        for action in actions:
            if action.key in done:
                continue
            started = time.perf_counter()
            try:
                if action.kind in UNREPEATABLE and action.key not in begun:
                    await self.store.begin_action(
                        AppliedAction(action.key, action.rule, action.kind, link.id)
                    )
                detail = await self._execute(
                    action,
                    link,
                    project=str((ctx.get("project") or {}).get("key") or ""),
                    begun=action.key in begun,
                )
            except (TransitionRefused, RemoteRejected, NotFound) as exc:
                failures.append(str(exc))
                await self.store.audit([self._audit(action, link, started, outcome="error", detail=str(exc))])
                log.warning("Jira write refused", action=action.kind, issue=action.issue_key, error=str(exc))
                continue
            await self.store.record(
                audit=[self._audit(action, link, started, detail=detail)],
                applied=[AppliedAction(action.key, action.rule, action.kind, link.id)],
            )
            metrics.WRITES.labels("jira", action.kind).inc()
            report.jira_writes.append(action.key)
            log.info(
                "jira " + action.kind,
                rule=action.rule,
                issue=action.issue_key or "",
                version=action.version_id or "",
                change=link.target.number,
            )
        if failures:
            # `seen` stays as it was: a replay evaluates again and applies only what is still missing
            raise PermanentError(
                f"{len(failures)} Jira write(s) for {link.target.number or ref.id} refused: "
                + "; ".join(failures)
            )
        link.seen = seen
        await self.store.record(link=link)
        return report

    async def _settle_conflicts(self, link: Link, target: dict[str, Any], connector: Any) -> None:
        """Fields bridgeline wrote that someone edited in the target: apply each field's policy."""
        same = getattr(connector, "same_value", None)
        result = conflicts.check(
            link.target.system,
            target.get("fields") or {},
            link.pushed.fields,
            link.extra,
            same=(lambda name, ours, theirs: same(link.target.kind, name, ours, theirs)) if same else None,
        )
        if not result.conflicts:
            return
        entries = [
            AuditEntry.of(
                link,
                "conflict",
                fields={"field": c.field, "bridgeline": c.ours, "target": c.theirs, "policy": c.policy},
                detail=f"{c.field} was edited in {link.target.system}: "
                + {
                    "source_wins": "written back (source wins)",
                    "target_wins": "the edit stands; bridgeline no longer writes this field",
                    "newest_wins": "the edit stands until Jira changes it",
                }[c.policy],
            )
            for c in result.conflicts
        ]
        if result.restore and not link.extra.get("final"):
            await connector.update(link.target, result.restore)
            metrics.WRITES.labels(link.target.system, "update").inc()
            target.setdefault("fields", {}).update(result.restore)
        link.extra = {**link.extra, "accepted": result.accepted, "yielded": sorted(result.yielded)}
        await self.store.record(link=link, audit=entries)
        log.info("conflicts settled", change=link.target.number, fields=[c.field for c in result.conflicts])

    async def _execute(
        self, action: ReverseAction, link: Link, *, project: str = "", begun: bool = False
    ) -> str | None:
        jira = self.engine.jira
        assert jira is not None
        p = action.params
        key = action.issue_key
        kind = action.kind
        if kind == "transition":
            assert key
            moved = await jira.transition(key, p["to"])
            return None if moved else f"already in {p['to']}"
        if kind == "comment":
            assert key
            # begun earlier and never recorded done: the process died around the send; look first
            await jira.add_comment(key, p["body"], look_first=begun)
            return None
        if kind == "remote_link":
            assert key
            await jira.remote_link(
                key,
                global_id=p.get("global_id") or f"bridgeline:{link.target.system}:{link.target.id}",
                url=p["url"],
                title=p.get("title") or (link.target.number or link.target.id),
                summary=p.get("summary"),
                resolved=p.get("resolved"),
            )
            return None
        if kind == "label":
            assert key
            update = [{"add": x} for x in p.get("add") or []] + [{"remove": x} for x in p.get("remove") or []]
            await jira.edit_issue(key, update={"labels": update})
            return None
        if kind == "field":
            assert key
            await jira.edit_issue(key, fields=p["fields"])
            return None
        if kind == "issue_property":
            assert key
            await jira.set_property(key, p["key"], p.get("value"))
            return None
        if kind == "release_version":
            assert action.version_id
            released = await jira.release_version(action.version_id, p.get("release_date"))
            return None if released else "already released"
        if kind == "version_description":
            assert action.version_id
            await jira.update_version(action.version_id, {"description": p["description"]})
            return None
        if kind == "version_property":
            assert action.version_id and project
            # versions carry no properties in Jira: the version's lives on its project
            await jira.set_project_property(project, f"{p['key']}.{action.version_id}", p.get("value"))
            return f"project {project} property {p['key']}.{action.version_id}"
        raise PermanentError(f"reverse action {kind!r} (rule {action.rule!r}) is not supported for this Jira")

    @staticmethod
    def _audit(
        action: ReverseAction, link: Link, started: float, *, outcome: str = "ok", detail: str | None = None
    ) -> AuditEntry:
        entity = f"jira:issue:{action.issue_key}" if action.issue_key else f"jira:version:{action.version_id}"
        return AuditEntry.of(
            link,
            action.kind,
            entity=entity,
            fields={k: v for k, v in action.params.items() if k != "body"} or None,
            outcome=outcome,
            detail=detail or f"rule {action.rule}",
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )


def _only_own_create(claim: Claim | None) -> bool:
    """Whether the claimed news is only bridgeline's own create (queued with its link), first try."""
    return claim is not None and claim.events == 1 and claim.source == "create" and claim.attempts == 0


def _expected(link: Link) -> dict[str, Any]:
    """The values bridgeline expects in the target: what it pushed, and target edits it accepted."""
    return {**link.pushed.fields, **(link.extra.get("accepted") or {})}


def _link_view(link: Link, target: dict[str, Any]) -> dict[str, Any]:
    view = {
        "system": link.target.system,
        "record": link.target.kind,
        "number": link.target.number or target.get("number"),
        "url": link.target.url or target.get("url"),
        "id": link.target.id,
        "correlation_id": link.correlation_id,
    }
    return view

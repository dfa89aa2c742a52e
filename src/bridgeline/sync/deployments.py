"""Deployments move the change: a pipeline's reports of a release become writes, once each.

A report (stored when received, one row per run, environment and state) queues its release
(``deployment:release:PAY:1.4.0``, ``deployment:version:<id>`` or ``deployment:change:<number>``).
Processing the release, under its claim:

1. **read** the change bridgeline made for the release, fresh from the ITSM tool, and the release's
   Jira side (its issues);
2. **judge** each run the first time it is seen: to a gated environment, would the gate have
   allowed it? The verdict is kept (``deployment_runs``), so later states of the run are judged
   the same way. A run the gate would not have allowed is an *unauthorized deployment*: a note on
   the change (ServiceNow: a work note; Remedy: a work info entry), a comment on the release's
   issues, an audit row, a metric; its rules write nothing;
3. **decide** per run the one state to apply: the terminal one (succeeded, failed, rolled_back)
   when it has arrived, else started - a ``started`` that arrives after its run ended writes
   nothing, so a change never moves backwards;
4. **write once**: the mapping's ``deployments`` rules render the fields for the change (its state
   walked forward only) and Jira actions; every write has an idempotency key in ``applied_actions``;
5. **record** the audit rows with the keys.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bridgeline import metrics
from bridgeline.errors import NotFound, PermanentError, RemoteRejected, TransitionRefused
from bridgeline.log import get_logger
from bridgeline.mapping import GateSpec, Mapping, ReverseAction
from bridgeline.model import AuditEntry, EntityRef, Link
from bridgeline.store import AppliedAction, DeploymentReport, DeploymentRun, PipelineBook
from bridgeline.sync.gate import Question, decide, is_gated
from bridgeline.sync.reports import EntityReport
from bridgeline.sync.reverse import UNREPEATABLE

if TYPE_CHECKING:
    from bridgeline.sync.engine import SyncEngine

log = get_logger("bridgeline.deployments")

TERMINAL = ("succeeded", "failed", "rolled_back")
# the field a note on the change goes to, per ITSM tool (Remedy: a work info entry, CHG:WorkLog)
NOTE_FIELD = {"servicenow": "work_notes", "remedy": "Work Info Notes"}
# the note's one-line summary, where the tool keeps one
SUMMARY_FIELD = {"remedy": "Work Info Summary"}
# long texts the audit row does not repeat
NOTE_FIELDS = frozenset({"work_notes", "close_notes", "Work Info Notes", "Work Info Summary"})


def state_to_apply(reports: list[DeploymentReport]) -> DeploymentReport:
    """The report of a run whose state is applied: its first terminal one, else its start."""
    ended = [r for r in reports if r.state in TERMINAL]
    return ended[0] if ended else reports[0]


class DeploymentSync:
    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self.store = engine.store
        self.book = PipelineBook(engine.store)

    async def process(self, ref: EntityRef) -> EntityReport:
        report = EntityReport(ref)
        reports = await self.book.reports_for(str(ref))
        if not reports:
            report.note = "no deployment reported for it"
            return report
        first = reports[0]
        question = Question(
            environment=first.environment,
            project=first.project if ref.kind == "release" else None,
            version=first.version if ref.kind == "release" else None,
            version_id=ref.id if ref.kind == "version" else None,
            change=ref.id if ref.kind == "change" else None,
        )
        release = await self.engine.gate.find(question)
        link = release.link
        if link is None:
            raise PermanentError(f"deployment of {ref.id} not applied: {release.problem}")
        mapping = (
            self.engine.mappings.current.get(link.mapping)
            if link.mapping in self.engine.mappings.current
            else None
        )
        if mapping is None:
            raise PermanentError(f"deployment of {ref.id}: mapping {link.mapping!r} is no longer loaded")
        target_connector = self.engine.targets[link.target.system]
        target = await target_connector.read(link.target)
        assert self.engine.reader is not None
        read = await self.engine.reader.context(link.source)
        if read is None:
            raise PermanentError(
                f"deployment of {ref.id}: the Jira version behind {link.target.number} is gone"
            )
        ctx, _label = read
        runs: dict[str, list[DeploymentReport]] = defaultdict(list)
        for r in reports:
            runs[r.run_key].append(r)
        failures: list[str] = []
        for run_key, run_reports in runs.items():
            gate = mapping.gate_of((ctx.get("project") or {}).get("key"))
            run = await self._verdict(run_key, run_reports, gate, link, target)
            chosen = state_to_apply(run_reports)
            deployment = {
                **chosen.as_context(),
                "authorized": run.verdict != "unauthorized",
                "reasons": run.reasons,
            }
            run_ctx = {**ctx, "target": target, "link": _link_view(link, target), "deployment": deployment}
            if run.verdict == "unauthorized":
                failures += await self._unauthorized(run, chosen, mapping, link, run_ctx, report)
            else:
                failures += await self._apply(chosen, mapping, link, run_ctx, report)
                if any(r.state == "started" for r in run_reports) and chosen.state != "started":
                    log.info("a run's start arrived after its end: not applied", run=chosen.run_id)
            await self.book.run_reached(run_key, chosen.state)
            # the next run of the release sees the change as this one left it
            target = await target_connector.read(link.target)
        if failures:
            raise PermanentError(f"{len(failures)} deployment write(s) refused: " + "; ".join(failures))
        return report

    async def _verdict(
        self,
        run_key: str,
        reports: list[DeploymentReport],
        policy: GateSpec,
        link: Link,
        target: dict[str, Any],
    ) -> DeploymentRun:
        known = await self.book.run(run_key)
        if known is not None:
            return known
        first = reports[0]
        if not is_gated(policy, first.environment):
            verdict, reasons = "ungated", [f"{first.environment} is not a gated environment"]
        else:
            blackouts = await self.engine.gate.blackouts(policy, first.environment, first.received_at)
            decision, reasons = decide(policy, target, first.environment, first.received_at, blackouts)
            verdict = "authorized" if decision == "allowed" else "unauthorized"
        audit = []
        if verdict == "unauthorized":
            audit.append(
                AuditEntry.of(
                    link,
                    "unauthorized_deployment",
                    fields={"environment": first.environment, "run_id": first.run_id, "source": first.source},
                    outcome="error",
                    detail=f"deployment to {first.environment} (run {first.run_id}, "
                    f"{first.run_url or 'no URL'}) that the gate would not have allowed: "
                    + "; ".join(reasons),
                )
            )
        run = DeploymentRun(
            run_key=run_key,
            entity=first.entity,
            environment=first.environment,
            run_id=first.run_id,
            verdict=verdict,
            reasons=reasons,
            change_number=link.target.number,
            decided_at=first.received_at,
            last_state=None,
            updated_at=first.received_at,
        )
        decided = await self.book.decide_run(run, audit)
        if decided is run and verdict == "unauthorized":
            metrics.UNAUTHORIZED_DEPLOYMENTS.inc()
            log.warning(
                "unauthorized deployment",
                change=link.target.number,
                environment=first.environment,
                run=first.run_id,
                reasons=reasons,
            )
        return decided

    async def _unauthorized(
        self,
        run: DeploymentRun,
        chosen: DeploymentReport,
        mapping: Mapping,
        link: Link,
        ctx: dict[str, Any],
        report: EntityReport,
    ) -> list[str]:
        """The note on the change and the Jira comment of an unauthorized deployment, once each."""
        number = link.target.number or link.target.id
        why = "; ".join(run.reasons)
        text = (
            f"Unauthorized deployment to {run.environment}: run {run.run_id} "
            f"({chosen.run_url or 'no URL'}) deployed while the gate would not have allowed it: {why}"
        )
        trigger = f"{run.environment}:{run.run_id}"
        failures: list[str] = []
        field = NOTE_FIELD.get(link.target.system)
        if field:
            note = {field: text}
            summary_field = SUMMARY_FIELD.get(link.target.system)
            if summary_field:
                note[summary_field] = f"Unauthorized deployment to {run.environment}: run {run.run_id}"
            failures += await self._change_write(
                f"{mapping.name}/unauthorized/note/{number}/{trigger}",
                "unauthorized",
                note,
                link,
                report,
            )
        actions = [
            ReverseAction(
                "unauthorized",
                "comment",
                "issue",
                issue["key"],
                None,
                {"body": text},
                f"{mapping.name}/unauthorized/comment/{issue['key']}/{number}/{trigger}",
            )
            for issue in ctx.get("issues") or ()
            if issue.get("key")
        ]
        failures += await self._jira(actions, link, ctx, report)
        return failures

    async def _apply(
        self,
        chosen: DeploymentReport,
        mapping: Mapping,
        link: Link,
        ctx: dict[str, Any],
        report: EntityReport,
    ) -> list[str]:
        plans = await asyncio.to_thread(mapping.deployment, ctx)  # templates: off the event loop
        failures: list[str] = []
        number = link.target.number or link.target.id
        trigger = f"{chosen.environment}:{chosen.run_id}:{chosen.state}"
        for plan in plans:
            if plan.change:
                key = f"{mapping.name}/deploy.{plan.rule}/change/{number}/{trigger}"
                refused = await self._change_write(key, plan.rule, plan.change, link, report)
                failures += refused
                if refused:
                    continue  # the change did not move: Jira is not told it did
            failures += await self._jira(plan.actions, link, ctx, report)
        return failures

    async def _change_write(
        self, key: str, rule: str, fields: dict[str, Any], link: Link, report: EntityReport
    ) -> list[str]:
        """Write ``fields`` to the change once (``key``); a note is not appended twice after a crash."""
        state = (await self.store.action_states([key])).get(key)
        if state == "done":
            return []
        connector = self.engine.targets[link.target.system]
        started = time.perf_counter()
        values = dict(fields)
        if state == "started":  # begun, outcome unknown: look at the journal before appending again
            reader = getattr(connector, "reader", None)
            if reader is not None and hasattr(reader, "last_journal"):
                last = await reader.last_journal(link.target.kind, link.target.id)
                values = {k: v for k, v in values.items() if not (k in last and str(last[k]) == str(v))}
                if NOTE_FIELD.get(link.target.system) not in values:
                    values = {k: v for k, v in values.items() if k != SUMMARY_FIELD.get(link.target.system)}
        else:
            await self.store.begin_action(AppliedAction(key, rule, "deployment", link.id))
        entry = AuditEntry.of(
            link,
            "deployment",
            fields={k: v for k, v in values.items() if k not in NOTE_FIELDS} or None,
            detail=f"deployment rule {rule}",
        )
        try:
            if values:
                await connector.update(link.target, values)
                metrics.WRITES.labels(link.target.system, "update").inc()
        except (TransitionRefused, RemoteRejected) as exc:
            await self.store.audit([replace(entry, outcome="error", detail=f"deployment rule {rule}: {exc}")])
            return [str(exc)]
        entry = replace(entry, duration_ms=round((time.perf_counter() - started) * 1000, 2))
        await self.store.record(audit=[entry], applied=[AppliedAction(key, rule, "deployment", link.id)])
        log.info("deployment written to the change", rule=rule, change=link.target.number)
        return []

    async def _jira(
        self, actions: list[ReverseAction], link: Link, ctx: dict[str, Any], report: EntityReport
    ) -> list[str]:
        """Jira actions, each once, as the way back applies them."""
        reverse = self.engine.reverse
        assert reverse is not None
        keys = [a.key for a in actions]
        recorded = await self.store.action_states(keys)
        failures: list[str] = []
        project = str((ctx.get("project") or {}).get("key") or "")
        for action in actions:
            if recorded.get(action.key) == "done":
                continue
            begun = recorded.get(action.key) == "started"
            started = time.perf_counter()
            try:
                if action.kind in UNREPEATABLE and not begun:
                    await self.store.begin_action(
                        AppliedAction(action.key, action.rule, action.kind, link.id)
                    )
                detail = await reverse._execute(action, link, project=project, begun=begun)
            except (TransitionRefused, RemoteRejected, NotFound) as exc:
                failures.append(str(exc))
                await self.store.audit(
                    [reverse._audit(action, link, started, outcome="error", detail=str(exc))]
                )
                continue
            await self.store.record(
                audit=[reverse._audit(action, link, started, detail=detail)],
                applied=[AppliedAction(action.key, action.rule, action.kind, link.id)],
            )
            metrics.WRITES.labels("jira", action.kind).inc()
            report.jira_writes.append(action.key)
        return failures


def _link_view(link: Link, target: dict[str, Any]) -> dict[str, Any]:
    return {
        "system": link.target.system,
        "record": link.target.kind,
        "number": link.target.number or target.get("number"),
        "url": link.target.url or target.get("url"),
        "id": link.target.id,
        "correlation_id": link.correlation_id,
    }

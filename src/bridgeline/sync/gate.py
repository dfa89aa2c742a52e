"""The deployment gate: may release R deploy to environment E now? A read, never a cached guess.

The change bridgeline made for the release is read fresh from the ITSM tool (state, approval, who
decided and their comment, planned window), and judged by the ``gate`` of the release's mapping:
which environments are gated, which states and approvals allow, whether the planned window must be
open, and the freezes (the mapping's, and ServiceNow's blackout schedules the configuration names).

Answers, as Jira Service Management's deployment gating words them::

    allowed    deploy now
    awaiting   not yet: the CAB has not approved, or the window has not opened (ask again)
    prevented  no: rejected, closed, in a freeze, or the window has closed
    invalid    the question names no change bridgeline knows (no such release, no change for it)

:func:`decide` is the judgement alone (pure); :class:`Gate` finds the release and its change,
reads what the judgement needs and records the answer (an answer that allows is audited).

A release on a release train ships with its train: a question naming a member version, the train's
parent change or one of its child changes is answered for the whole train (found by
``sync/gate_trains.py``), the parent and every child judged like a single change and the worst
answer given, naming the change that holds it (:func:`decide_train`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from bridgeline import metrics
from bridgeline.connectors.servicenow.blackouts import Blackout, blackout_periods
from bridgeline.errors import NotFound, RemoteRejected
from bridgeline.log import get_logger
from bridgeline.mapping import GateSpec, environment_matches
from bridgeline.model import AuditEntry, Link, utcnow
from bridgeline.store import GateAnswerRow, PipelineBook
from bridgeline.sync.gate_trains import (
    Train,
    member_projects,
    read_train,
    train_of_child,
    train_of_parent,
    train_of_version,
)

if TYPE_CHECKING:
    from bridgeline.sync.engine import SyncEngine

log = get_logger("bridgeline.gate")

Decision = Literal["allowed", "awaiting", "prevented", "invalid"]
DECISIONS: tuple[Decision, ...] = ("allowed", "awaiting", "prevented", "invalid")
FINAL_STATES = frozenset({"closed", "canceled"})


@dataclass(frozen=True, slots=True)
class Question:
    """What a pipeline asks: a release (project + version name or id) or a change, and where to."""

    environment: str
    project: str | None = None
    version: str | None = None
    version_id: str | None = None
    change: str | None = None

    def problems(self) -> list[str]:
        """What is missing or contradictory, in words a pipeline author can act on."""
        found = []
        if not self.environment.strip():
            found.append("environment is required (e.g. production)")
        if self.change:
            if self.version or self.version_id:
                found.append("name the release (project and version) or the change, not both")
        elif not self.project:
            found.append("name the release (project and version, or version_id) or the change number")
        elif not (self.version or self.version_id):
            found.append(f"project {self.project} needs version (its name, e.g. 1.4.0) or version_id")
        found += names_problems(self.project, self.version_id, self.change)
        return found


PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
VERSION_ID = re.compile(r"^[0-9]{1,18}$")
CHANGE_NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def names_problems(project: str | None, version_id: str | None, change: str | None) -> list[str]:
    """What is wrong with the names a question or a report carries (they end up in URLs)."""
    found = []
    if project and not PROJECT_KEY.match(project):
        found.append(f"project {project[:70]!r} is not a Jira project key (e.g. PAY)")
    if version_id and not VERSION_ID.match(version_id):
        found.append(f"version_id {version_id[:70]!r} is not a Jira version id (digits, e.g. 10042)")
    if change and not CHANGE_NUMBER.match(change):
        found.append(f"change {change[:70]!r} is not a change number (e.g. CHG0030001)")
    return found


@dataclass(slots=True)
class Answer:
    decision: Decision
    reasons: list[str]
    environment: str
    project: str | None = None
    version: str | None = None
    version_id: str | None = None
    change: dict[str, Any] | None = None  # number, url, state, approval, planned window
    asked_at: datetime = field(default_factory=utcnow)

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reasons": self.reasons,
            "environment": self.environment,
            "release": {"project": self.project, "version": self.version, "version_id": self.version_id},
            "change": self.change,
            "asked_at": self.asked_at.isoformat().replace("+00:00", "Z"),
        }


@dataclass(slots=True)
class Release:
    """A release as the gate and the deployments find it: its project, version and the change."""

    project: str | None
    version: str | None
    version_id: str | None
    link: Link | None
    problem: str | None = None  # why it is not found
    train: Train | None = None  # the release train it ships with (then the train is judged)
    projects: list[str] = field(default_factory=list)  # a train's member projects, asked by its parent


def parse_instant(value: Any) -> datetime | None:
    """A planned window end as either ITSM tool writes it, as an aware UTC datetime."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:  # Remedy: 2024-06-15T03:00:00.000+0000
            moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            try:
                moment = datetime.fromtimestamp(float(text), UTC)  # an epoch in seconds
            except ValueError:
                return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def is_gated(policy: GateSpec, environment: str) -> bool:
    return environment_matches(environment, policy.environments)


def freezes_in_force(
    policy: GateSpec, environment: str, now: datetime, blackouts: Sequence[Blackout] = ()
) -> list[str]:
    """Why no change may deploy to ``environment`` at ``now``: the mapping's freezes, the blackouts."""
    found = []
    for freeze in policy.freezes:
        if freeze.environments is not None and not environment_matches(environment, freeze.environments):
            continue
        if freeze.begins <= now < freeze.ends:
            found.append(f"freeze until {_when(freeze.ends)}: {freeze.reason}")
    if policy.blackouts:
        for blackout in blackouts:
            what = blackout.schedule + (f" ({blackout.name})" if blackout.name else "")
            found.append(f"freeze until {_when(blackout.end)}: ServiceNow blackout schedule {what}")
    return found


def decide(
    policy: GateSpec,
    change: dict[str, Any],
    environment: str,
    now: datetime,
    blackouts: Sequence[Blackout] = (),
) -> tuple[Decision, list[str]]:
    """The gate's judgement of ``change`` (normalized as reverse rules see it) for ``environment``."""
    if not is_gated(policy, environment):
        return "allowed", [f"{environment} is not a gated environment"]
    frozen = freezes_in_force(policy, environment, now, blackouts)
    return judge_change(policy, change, now, str(change.get("number") or "the change"), frozen)


def judge_change(
    policy: GateSpec, change: dict[str, Any], now: datetime, name: str, frozen: Sequence[str] = ()
) -> tuple[Decision, list[str]]:
    """One change by ``policy`` in a gated environment, called ``name`` in the reasons; ``frozen``:
    the freezes in force (:func:`freezes_in_force`)."""
    prevented: list[str] = []
    awaiting: list[str] = []
    state = str(change.get("state") or "")
    approval = str(change.get("approval") or "")
    if approval == "rejected" or state == "rejected":
        who = change.get("approver")
        comment = change.get("approval_comment")
        prevented.append(
            f"{name} was rejected" + (f" by {who}" if who else "") + (f": {comment}" if comment else "")
        )
    elif state in FINAL_STATES:
        prevented.append(f"{name} is {state}")
    prevented += frozen
    if not prevented:
        if approval not in policy.approvals:
            awaiting.append(f"{name} is not approved yet (approval: {approval or 'not requested'})")
        if state not in policy.states:
            awaiting.append(
                f"{name} is in state {state or 'unknown'}; deployments go ahead in "
                + ", ".join(policy.states)
            )
        start, end = parse_instant(change.get("planned_start")), parse_instant(change.get("planned_end"))
        if policy.window != "ignored":
            if start is None or end is None:
                if policy.window == "required":
                    awaiting.append(f"{name} has no planned window yet")
            elif now < start:
                awaiting.append(f"window opens at {_when(start)}")
            elif now >= end:
                prevented.append(f"window closed at {_when(end)}")
    if prevented:
        return "prevented", prevented
    if awaiting:
        return "awaiting", awaiting
    reasons = [f"{name} is approved" + (f" by {change['approver']}" if change.get("approver") else "")]
    end = parse_instant(change.get("planned_end"))
    if policy.window != "ignored" and end is not None:
        reasons.append(f"window open until {_when(end)}")
    return "allowed", reasons


RANK: dict[Decision, int] = {"allowed": 0, "awaiting": 1, "prevented": 2, "invalid": 3}


def decide_train(
    policy: GateSpec,
    changes: Sequence[tuple[str, dict[str, Any] | None]],
    environment: str,
    now: datetime,
    blackouts: Sequence[Blackout] = (),
) -> tuple[Decision, list[str]]:
    """A release train's judgement: ``changes`` are its parent and its children, each ``(name,
    change)`` (``None``: the record is gone), judged one by one like a single change. Allowed only
    when all allow; otherwise the worst decision, with the reasons of the changes that hold it::

        decide_train(policy, [("parent CHG0030010", parent), ("child CHG0030012 (WEB)", web)], ...)
        # ("awaiting", ["child CHG0030012 (WEB) is not approved yet (approval: requested)"])
    """
    if not is_gated(policy, environment):
        return "allowed", [f"{environment} is not a gated environment"]
    frozen = freezes_in_force(policy, environment, now, blackouts)
    verdicts: list[tuple[Decision, list[str]]] = []
    for name, change in changes:
        if change is None:
            verdicts.append(("prevented", [f"{name} no longer exists"]))
            continue
        decision, reasons = judge_change(policy, change, now, name)
        verdicts.append((decision, [r if r.startswith(name) else f"{name}: {r}" for r in reasons]))
    worst: Decision = "prevented" if frozen else "allowed"
    for decision, _ in verdicts:
        if RANK[decision] > RANK[worst]:
            worst = decision
    held = [r for decision, reasons in verdicts if decision == worst for r in reasons]
    return worst, frozen + held


class Gate:
    """Finds the release and its change, reads the change fresh, decides, records the answer."""

    def __init__(self, engine: SyncEngine, *, blackout_schedules: Sequence[str] = ()) -> None:
        self.engine = engine
        self.book = PipelineBook(engine.store)
        self.blackout_schedules = list(blackout_schedules)

    async def find(self, question: Question) -> Release:
        """The release the question names and the change bridgeline made for it (``link``)."""
        jira = self.engine.jira
        reader = self.engine.reader
        store = self.engine.store
        version_id: str | None = question.version_id
        link: Link | None = None
        train: Train | None = None
        if question.change:
            number = question.change.strip()
            link = await self.book.link_by_number(number)
            if link is not None and link.source.kind == "train":
                return await self._train_by_parent(question, await train_of_parent(self.engine, link))
            if link is None and (child := await self.book.child_by_number(number)) is not None:
                train = await train_of_child(self.engine, child)
                if train is not None and child.state != "active":
                    left = f"change {number} is no longer on release train {train.key} (its member left)"
                    return Release(None, None, None, None, left)
                if train is not None and child.source.kind != "version":
                    return await self._train_by_parent(question, train)  # a child per service
                link = child if train is not None else None
            if link is None or link.source.kind != "version":
                return Release(None, None, None, None, f"no change {question.change} made by bridgeline")
            version_id = link.source.id
            if train is not None:
                link = None  # a member's child change: the train answers
        if jira is None or reader is None:
            return Release(question.project, question.version, version_id, None, "Jira is not configured")
        version: dict[str, Any] | None = None
        if version_id:
            try:
                version = await jira.version(version_id)
            except (NotFound, RemoteRejected):
                return Release(question.project, None, version_id, None, f"no Jira version {version_id}")
        else:
            assert question.project and question.version
            try:
                versions = await jira.project_versions(question.project)
            except (NotFound, RemoteRejected):
                return Release(
                    question.project, question.version, None, None, f"no Jira project {question.project}"
                )
            wanted = question.version.strip()
            matches = [v for v in versions if v.get("name") == wanted] or [
                v for v in versions if str(v.get("name", "")).lower() == wanted.lower().removeprefix("v")
            ]
            if not matches:
                return Release(
                    question.project,
                    wanted,
                    None,
                    None,
                    f"Jira project {question.project} has no version {wanted}",
                )
            version = matches[0]
        project = await reader.project_key(str(version.get("projectId")))
        name = str(version.get("name") or "")
        vid = str(version.get("id"))
        if question.project and project and question.project.upper() != project.upper():
            return Release(
                question.project,
                name,
                vid,
                None,
                f"version {vid} belongs to {project}, not {question.project}",
            )
        if link is None and train is None:
            links = [
                candidate
                for candidate in await store.links_for_source(f"jira:version:{vid}")
                if candidate.parent_id is None and candidate.state == "active"
            ]
            link = links[0] if links else None
        if train is None and project:
            train = await train_of_version(self.engine, version, project)
        if train is not None:
            # a member ships with its train: deployments of it alone are not applied
            problem = f"{project} {name} ships with release train {train.key}, not alone"
            return Release(project, name, vid, link, problem, train=train)
        if link is None:
            return Release(
                project, name, vid, None, f"no change for release {project} {name} (none made yet)"
            )
        return Release(project, name, vid, link)

    async def _train_by_parent(self, question: Question, train: Train) -> Release:
        """A question naming a train's parent change (or a child made for a service): the train, on
        behalf of the projects with a version on it now, or of the one the question names."""
        projects = await member_projects(self.engine, train)
        if question.project and question.project not in projects:
            return Release(
                question.project, None, None, None, f"{question.project} is not on release train {train.key}"
            )
        problem = f"{question.change} is a change of release train {train.key}, not of one release"
        return Release(question.project, None, None, None, problem, train, projects)

    async def judge(self, release: Release, environment: str, now: datetime | None = None) -> Answer:
        """The answer for a release already found (the change read fresh)."""
        now = now or utcnow()
        if release.train is not None:
            return await self.judge_train(release, release.train, environment, now)
        if release.link is None:
            return _invalid(release, environment, release.problem or "no change for this release")
        link = release.link
        mapping = (
            self.engine.mappings.current.get(link.mapping)
            if link.mapping in self.engine.mappings.current
            else None
        )
        policy = mapping.gate_of(release.project) if mapping is not None else GateSpec()
        target = self.engine.targets.get(link.target.system)
        if target is None:
            return _invalid(release, environment, f"{link.target.system} is not configured")
        try:
            change = await target.read(link.target)
        except NotFound:
            gone = f"change {link.target.number} no longer exists in {link.target.system}"
            return _invalid(release, environment, gone)
        blackouts = await self.blackouts(policy, environment, now)
        decision, reasons = decide(policy, change, environment, now, blackouts)
        return Answer(
            decision,
            reasons,
            environment,
            release.project,
            release.version,
            release.version_id,
            _summary(link, change),
            now,
        )

    async def judge_train(self, release: Release, train: Train, environment: str, now: datetime) -> Answer:
        """The answer for a release train: its parent and every child change read fresh, each judged
        by the train mapping's gate; the change of the answer is the parent."""
        parent = train.parent
        if parent is None:
            return _invalid(release, environment, f"no change for release train {train.key} (none made yet)")
        for link in (parent, *train.children):
            if link.target.system not in self.engine.targets:
                return _invalid(release, environment, f"{link.target.system} is not configured")
        mapping = (
            self.engine.mappings.current.get(train.mapping)
            if train.mapping in self.engine.mappings.current
            else None
        )
        policy = mapping.gate if mapping is not None else GateSpec()
        changes = await read_train(self.engine, train)
        if changes[0][1] is None:
            gone = (
                f"parent change {parent.target.number} of release train {train.key} "
                f"no longer exists in {parent.target.system}"
            )
            return _invalid(release, environment, gone)
        blackouts = await self.blackouts(policy, environment, now)
        decision, reasons = decide_train(policy, changes, environment, now, blackouts)
        if (
            is_gated(policy, environment)
            and release.version_id
            and train.has_member_children()
            and train.child_of(release.version_id) is None
            and decision != "prevented"
        ):
            # a member that joined since the train was last processed: its child change is to come
            waiting = (
                f"{release.project} {release.version} has no child change in release train {train.key} yet"
            )
            reasons = (reasons if decision == "awaiting" else []) + [waiting]
            decision = "awaiting"
        summary = _summary(parent, changes[0][1])
        summary["train"] = train.key
        summary["children"] = [
            {**_summary(child, change or {}), "name": name}
            for child, (name, change) in zip(train.children, changes[1:], strict=True)
        ]
        return Answer(
            decision, reasons, environment, release.project, release.version, release.version_id, summary, now
        )

    async def blackouts(self, policy: GateSpec, environment: str, now: datetime) -> list[Blackout]:
        """The ServiceNow blackouts in force at ``now`` that ``policy`` honours for ``environment``."""
        if not (policy.blackouts and self.blackout_schedules and is_gated(policy, environment)):
            return []
        client = getattr(self.engine.targets.get("servicenow"), "client", None)
        if client is None:
            return []
        return await blackout_periods(client, self.blackout_schedules, now)

    async def ask(self, question: Question, *, pipeline: str, release: Release | None = None) -> Answer:
        """Answer ``question`` and record the answer (audited when it allows a gated deploy)."""
        started = time.perf_counter()
        release = release or await self.find(question)
        answer = await self.judge(release, question.environment)
        await self.record(answer, pipeline=pipeline, link=release.link, started=started)
        return answer

    async def record(self, answer: Answer, *, pipeline: str, link: Link | None, started: float) -> None:
        change = answer.change or {}
        audit = []
        if answer.decision == "allowed":
            audit.append(
                AuditEntry(
                    action="gate_allowed",
                    entity=link.key if link else f"jira:version:{answer.version_id}",
                    mapping=link.mapping if link else None,
                    target_system=link.target.system if link else None,
                    target_kind=link.target.kind if link else None,
                    target_id=link.target.id if link else None,
                    target_number=change.get("number"),
                    fields={"pipeline": pipeline, "environment": answer.environment},
                    detail=f"{pipeline} may deploy {answer.project} {answer.version} to "
                    f"{answer.environment}: " + "; ".join(answer.reasons),
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            )
        await self.book.add_answer(
            GateAnswerRow(
                pipeline=pipeline,
                environment=answer.environment,
                decision=answer.decision,
                reasons=answer.reasons,
                project=answer.project,
                version=answer.version,
                change_number=change.get("number"),
                change_url=change.get("url"),
                asked_at=answer.asked_at,
            ),
            audit,
        )
        metrics.GATE_ANSWERS.labels(answer.decision).inc()
        log.info(
            "gate answer",
            pipeline=pipeline,
            release=f"{answer.project} {answer.version}",
            environment=answer.environment,
            decision=answer.decision,
            change=change.get("number"),
        )


def _summary(link: Link, change: dict[str, Any]) -> dict[str, Any]:
    """The change of an answer: number, URL, state, approval and planned window."""
    return {
        "number": change.get("number") or link.target.number,
        "url": change.get("url") or link.target.url,
        "system": link.target.system,
        "state": change.get("state"),
        "approval": change.get("approval"),
        "planned_start": change.get("planned_start"),
        "planned_end": change.get("planned_end"),
    }


def _invalid(release: Release, environment: str, reason: str) -> Answer:
    return Answer("invalid", [reason], environment, release.project, release.version, release.version_id)

"""What pipelines asked and reported: gate answers, deployment reports, and each run's verdict (SQL).

``gate_answers`` holds every answer of the deployment gate (who asked, about which release and
environment, the decision and its reasons); ``deployment_reports`` every deployment a pipeline
reported, once per delivery (the same run, environment and state reported twice is one row);
``deployment_runs`` what bridgeline decided about a run once, the first time it saw it (whether
the gate would have allowed it), so a later state of the run is judged the same way. ::

    book = PipelineBook(store)
    stored = await book.add_report(report)      # False: a repeated delivery
    reports = await book.reports_for("deployment:release:PAY:1.4.0")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bridgeline.model import AuditEntry, Event, Link, utcnow
from bridgeline.store import tables as t
from bridgeline.store.tables import BigId, UTCDateTime, metadata

if TYPE_CHECKING:
    from bridgeline.store.store import Store

gate_answers = sa.Table(
    "gate_answers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("asked_at", UTCDateTime, nullable=False),
    sa.Column("pipeline", sa.String(64), nullable=False),
    sa.Column("project", sa.String(64)),
    sa.Column("version", sa.String(255)),
    sa.Column("change_number", sa.String(64)),
    sa.Column("change_url", sa.String(1000)),
    sa.Column("environment", sa.String(100), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reasons", sa.JSON(none_as_null=True)),
    sa.Index(None, "asked_at"),
)

deployment_reports = sa.Table(
    "deployment_reports",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # source, run, environment and state: the same report delivered again is the same row
    sa.Column("delivery", sa.String(700), nullable=False, unique=True),
    sa.Column("entity", sa.String(400), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("pipeline", sa.String(200)),
    sa.Column("project", sa.String(64)),
    sa.Column("version", sa.String(255)),
    sa.Column("change_number", sa.String(64)),
    sa.Column("environment", sa.String(100), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("run_id", sa.String(200), nullable=False),
    sa.Column("run_url", sa.String(1000)),
    sa.Column("commit", sa.String(100)),
    sa.Index(None, "entity"),
    sa.Index(None, "received_at"),
)

deployment_runs = sa.Table(
    "deployment_runs",
    metadata,
    sa.Column("run_key", sa.String(700), primary_key=True),
    sa.Column("entity", sa.String(400), nullable=False),
    sa.Column("environment", sa.String(100), nullable=False),
    sa.Column("run_id", sa.String(200), nullable=False),
    sa.Column("change_number", sa.String(64)),
    # authorized | unauthorized | ungated (an environment the gate does not guard)
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("reasons", sa.JSON(none_as_null=True)),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.Column("last_state", sa.String(16)),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "updated_at"),
)


@dataclass(frozen=True, slots=True)
class GateAnswerRow:
    pipeline: str
    environment: str
    decision: str
    reasons: list[str]
    project: str | None = None
    version: str | None = None
    change_number: str | None = None
    change_url: str | None = None
    asked_at: datetime = field(default_factory=utcnow)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DeploymentReport:
    """One deployment state a pipeline reported (bridgeline's JSON, GitHub or GitLab)."""

    entity: str  # deployment:release:<PROJECT>:<version name> or deployment:change:<number>
    source: str  # bridgeline | github | gitlab
    environment: str
    state: str  # started | succeeded | failed | rolled_back
    run_id: str
    run_url: str | None = None
    commit: str | None = None
    pipeline: str | None = None
    project: str | None = None
    version: str | None = None
    change_number: str | None = None
    received_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    @property
    def delivery(self) -> str:
        return f"{self.entity}|{self.environment.lower()}|{self.run_id}|{self.state}"[:700]

    @property
    def run_key(self) -> str:
        return f"{self.entity}|{self.environment.lower()}|{self.run_id}"[:700]

    def as_context(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "state": self.state,
            "run_id": self.run_id,
            "run_url": self.run_url,
            "commit": self.commit,
            "source": self.source,
            "pipeline": self.pipeline,
        }


@dataclass(frozen=True, slots=True)
class DeploymentRun:
    run_key: str
    entity: str
    environment: str
    run_id: str
    verdict: str
    reasons: list[str]
    change_number: str | None
    decided_at: datetime
    last_state: str | None
    updated_at: datetime


class PipelineBook:
    """The pipeline tables, through the store's connections and transactions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- gate answers ----------------------------------------------------------------------------

    async def add_answer(self, answer: GateAnswerRow, audit: Sequence[AuditEntry] = ()) -> None:
        """Record a gate answer (and its audit row, for an answer that allowed a deploy), together."""
        async with self.store._tx() as conn:
            await conn.execute(sa.insert(gate_answers).values(_answer_values(answer)))
            await self.store._audit(conn, audit)

    async def recent_answers(self, limit: int = 20) -> list[GateAnswerRow]:
        c = gate_answers.c
        async with self.store._read() as conn:
            rows = (await conn.execute(sa.select(gate_answers).order_by(c.id.desc()).limit(limit))).mappings()
            return [
                GateAnswerRow(
                    pipeline=r["pipeline"],
                    environment=r["environment"],
                    decision=r["decision"],
                    reasons=list(r["reasons"] or []),
                    project=r["project"],
                    version=r["version"],
                    change_number=r["change_number"],
                    change_url=r["change_url"],
                    asked_at=r["asked_at"],
                    id=r["id"],
                )
                for r in rows.all()
            ]

    # -- deployment reports ------------------------------------------------------------------------

    async def add_report(self, report: DeploymentReport, event: Event) -> bool:
        """Store ``report`` and queue ``event`` for its release, in one transaction; False (and
        nothing queued) when the same report was delivered before."""
        c = deployment_reports.c
        try:
            async with self.store._tx() as conn:
                known = (await conn.execute(sa.select(c.id).where(c.delivery == report.delivery))).first()
                if known is not None:
                    return False
                await conn.execute(sa.insert(deployment_reports).values(_report_values(report)))
                await self.store._upsert_event(conn, event, utcnow())
        except IntegrityError:  # the same delivery, stored a moment ago by another request
            return False
        self.store._due()
        return True

    async def reports_for(self, entity: str) -> list[DeploymentReport]:
        c = deployment_reports.c
        query = sa.select(deployment_reports).where(c.entity == entity).order_by(c.id)
        async with self.store._read() as conn:
            return [_report(r) for r in (await conn.execute(query)).mappings().all()]

    async def recent_reports(self, limit: int = 20) -> list[tuple[DeploymentReport, str | None]]:
        """The latest reports, each with its run's verdict (None: not processed yet)."""
        r, runs = deployment_reports.c, deployment_runs.c
        run_key = r.entity + "|" + sa.func.lower(r.environment) + "|" + r.run_id
        query = (
            sa.select(deployment_reports, runs.verdict)
            .select_from(deployment_reports.outerjoin(deployment_runs, runs.run_key == run_key))
            .order_by(r.id.desc())
            .limit(limit)
        )
        async with self.store._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [(_report(row), row["verdict"]) for row in rows]

    # -- runs ---------------------------------------------------------------------------------------

    async def run(self, run_key: str) -> DeploymentRun | None:
        async with self.store._read() as conn:
            row = (
                (await conn.execute(sa.select(deployment_runs).where(deployment_runs.c.run_key == run_key)))
                .mappings()
                .first()
            )
        return _run(row) if row is not None else None

    async def decide_run(self, run: DeploymentRun, audit: Sequence[AuditEntry] = ()) -> DeploymentRun:
        """Keep the first verdict on a run (another replica's, if it was quicker), with its audit rows."""
        c = deployment_runs.c
        async with self.store._tx() as conn:
            row = (
                (await conn.execute(sa.select(deployment_runs).where(c.run_key == run.run_key)))
                .mappings()
                .first()
            )
            if row is not None:
                return _run(row)
            await conn.execute(
                sa.insert(deployment_runs).values(
                    run_key=run.run_key,
                    entity=run.entity,
                    environment=run.environment,
                    run_id=run.run_id,
                    change_number=run.change_number,
                    verdict=run.verdict,
                    reasons=run.reasons,
                    decided_at=run.decided_at,
                    last_state=run.last_state,
                    updated_at=run.updated_at,
                )
            )
            await self.store._audit(conn, audit)
        return run

    async def run_reached(self, run_key: str, state: str) -> None:
        async with self.store._tx() as conn:
            await conn.execute(
                sa.update(deployment_runs)
                .where(deployment_runs.c.run_key == run_key)
                .values(last_state=state, updated_at=utcnow())
            )

    async def count_unauthorized(self) -> int:
        c = deployment_runs.c
        q = sa.select(sa.func.count()).select_from(deployment_runs).where(c.verdict == "unauthorized")
        async with self.store._read() as conn:
            return int((await conn.execute(q)).scalar() or 0)

    # -- links by change number -------------------------------------------------------------------

    async def link_by_number(self, number: str) -> Link | None:
        """The record bridgeline made whose number is ``number`` (a change request, not a task)."""
        from bridgeline.store.store import _link

        c = t.links.c
        query = (
            sa.select(t.links).where(c.target_number == number, c.parent_id.is_(None)).order_by(c.id).limit(1)
        )
        async with self.store._read() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _link(row) if row is not None else None

    async def child_by_number(self, number: str) -> Link | None:
        """The child record bridgeline made whose number is ``number`` (a release train's child
        change request, say)."""
        from bridgeline.store.store import _link

        c = t.links.c
        query = (
            sa.select(t.links)
            .where(c.target_number == number, c.parent_id.is_not(None))
            .order_by(c.id)
            .limit(1)
        )
        async with self.store._read() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _link(row) if row is not None else None


def _answer_values(a: GateAnswerRow) -> dict[str, Any]:
    return {
        "asked_at": a.asked_at,
        "pipeline": a.pipeline[:64],
        "project": (a.project or None) and a.project[:64],
        "version": (a.version or None) and a.version[:255],
        "change_number": a.change_number,
        "change_url": (a.change_url or None) and a.change_url[:1000],
        "environment": a.environment[:100],
        "decision": a.decision,
        "reasons": [r[:1000] for r in a.reasons][:20],
    }


def _report_values(r: DeploymentReport) -> dict[str, Any]:
    return {
        "received_at": r.received_at,
        "delivery": r.delivery,
        "entity": r.entity[:400],
        "source": r.source,
        "pipeline": (r.pipeline or None) and r.pipeline[:200],
        "project": r.project,
        "version": (r.version or None) and r.version[:255],
        "change_number": r.change_number,
        "environment": r.environment[:100],
        "state": r.state,
        "run_id": r.run_id[:200],
        "run_url": (r.run_url or None) and r.run_url[:1000],
        "commit": (r.commit or None) and r.commit[:100],
    }


def _report(r: Any) -> DeploymentReport:
    return DeploymentReport(
        entity=r["entity"],
        source=r["source"],
        environment=r["environment"],
        state=r["state"],
        run_id=r["run_id"],
        run_url=r["run_url"],
        commit=r["commit"],
        pipeline=r["pipeline"],
        project=r["project"],
        version=r["version"],
        change_number=r["change_number"],
        received_at=r["received_at"],
        id=r["id"],
    )


def _run(r: Any) -> DeploymentRun:
    return DeploymentRun(
        run_key=r["run_key"],
        entity=r["entity"],
        environment=r["environment"],
        run_id=r["run_id"],
        verdict=r["verdict"],
        reasons=list(r["reasons"] or []),
        change_number=r["change_number"],
        decided_at=r["decided_at"],
        last_state=r["last_state"],
        updated_at=r["updated_at"],
    )

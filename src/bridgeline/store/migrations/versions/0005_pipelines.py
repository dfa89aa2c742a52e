"""pipelines: gate answers, deployment reports, deployment runs

Revision ID: 0005_pipelines
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridgeline.store.tables import UTCDateTime

revision = "0005_pipelines"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "gate_answers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("pipeline", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=True),
        sa.Column("version", sa.String(length=255), nullable=True),
        sa.Column("change_number", sa.String(length=64), nullable=True),
        sa.Column("change_url", sa.String(length=1000), nullable=True),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_answers")),
    )
    with op.batch_alter_table("gate_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_answers_asked_at"), ["asked_at"], unique=False)

    op.create_table(
        "deployment_reports",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("delivery", sa.String(length=700), nullable=False),
        sa.Column("entity", sa.String(length=400), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=True),
        sa.Column("project", sa.String(length=64), nullable=True),
        sa.Column("version", sa.String(length=255), nullable=True),
        sa.Column("change_number", sa.String(length=64), nullable=True),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("run_url", sa.String(length=1000), nullable=True),
        sa.Column("commit", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_reports")),
        sa.UniqueConstraint("delivery", name=op.f("uq_deployment_reports_delivery")),
    )
    with op.batch_alter_table("deployment_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployment_reports_entity"), ["entity"], unique=False)
        batch_op.create_index(batch_op.f("ix_deployment_reports_received_at"), ["received_at"], unique=False)

    op.create_table(
        "deployment_runs",
        sa.Column("run_key", sa.String(length=700), nullable=False),
        sa.Column("entity", sa.String(length=400), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("change_number", sa.String(length=64), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("last_state", sa.String(length=16), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_key", name=op.f("pk_deployment_runs")),
    )
    with op.batch_alter_table("deployment_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployment_runs_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deployment_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_runs_updated_at"))
    op.drop_table("deployment_runs")
    with op.batch_alter_table("deployment_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_reports_received_at"))
        batch_op.drop_index(batch_op.f("ix_deployment_reports_entity"))
    op.drop_table("deployment_reports")
    with op.batch_alter_table("gate_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_answers_asked_at"))
    op.drop_table("gate_answers")

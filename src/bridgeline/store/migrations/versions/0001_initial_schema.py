"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridgeline.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=700), nullable=False),
        sa.Column("mapping", sa.String(length=200), nullable=True),
        sa.Column("target_system", sa.String(length=32), nullable=True),
        sa.Column("target_kind", sa.String(length=64), nullable=True),
        sa.Column("target_id", sa.String(length=200), nullable=True),
        sa.Column("target_number", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entity"), ["entity"], unique=False)

    op.create_table(
        "cursors",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cursors")),
    )
    op.create_table(
        "deliveries",
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_deliveries")),
    )
    op.create_table(
        "inbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("entity", sa.String(length=300), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("hint", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("claimed_generation", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("entity", name=op.f("uq_inbox_entity")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_state_next_attempt_at"), ["state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "links",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("mapping", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=700), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("correlation_id", sa.String(length=300), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("target_system", sa.String(length=32), nullable=False),
        sa.Column("target_kind", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=200), nullable=False),
        sa.Column("target_number", sa.String(length=64), nullable=True),
        sa.Column("target_url", sa.String(length=1000), nullable=True),
        sa.Column("pushed", sa.JSON(), nullable=False),
        sa.Column("pushed_hash", sa.String(length=64), nullable=False),
        sa.Column("seen", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("seen_hash", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["links.id"], name=op.f("fk_links_parent_id_links")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("mapping", "key", name=op.f("uq_links_mapping_key")),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_links_correlation_id"), ["correlation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_links_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_links_source"), ["source"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_links_target_system_target_id"), ["target_system", "target_id"], unique=False
        )

    op.create_table(
        "source_marks",
        sa.Column("entity", sa.String(length=300), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("mark", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("entity", name=op.f("pk_source_marks")),
    )
    with op.batch_alter_table("source_marks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_marks_scope"), ["scope"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("source_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_marks_scope"))

    op.drop_table("source_marks")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_links_target_system_target_id"))
        batch_op.drop_index(batch_op.f("ix_links_source"))
        batch_op.drop_index(batch_op.f("ix_links_parent_id"))
        batch_op.drop_index(batch_op.f("ix_links_correlation_id"))

    op.drop_table("links")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_state_next_attempt_at"))

    op.drop_table("inbox")
    op.drop_table("deliveries")
    op.drop_table("cursors")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entity"))
        batch_op.drop_index(batch_op.f("ix_audit_at"))

    op.drop_table("audit")

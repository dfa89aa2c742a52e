"""applied actions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridgeline.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applied_actions",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("link_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.id"], name=op.f("fk_applied_actions_link_id_links"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_applied_actions")),
    )
    with op.batch_alter_table("applied_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_applied_actions_link_id"), ["link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("applied_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applied_actions_link_id"))

    op.drop_table("applied_actions")

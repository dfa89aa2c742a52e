"""applied actions record intents: a comment about to be sent is 'started' until it is 'done'

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applied_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=False, server_default="done"))


def downgrade() -> None:
    with op.batch_alter_table("applied_actions", schema=None) as batch_op:
        batch_op.drop_column("state")

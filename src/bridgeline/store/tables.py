"""The SQL tables: the inbox, links, cursors, source marks, webhook deliveries, audit, sign-ins.

Only :mod:`bridgeline.store` speaks SQL. Migrations live in ``store/migrations`` (Alembic);
this metadata is their reference and the tests check the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use bridgeline.model.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - defensive, SQLite returns datetime here
            value = datetime.fromisoformat(value)
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and autoincrements only as INTEGER.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

# The inbox: one row per entity. A new event for an entity bumps its generation (coalescing); a
# worker's claim covers the entity as a whole, so two workers never process one entity at once.
inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(300), nullable=False, unique=True),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | done | dead
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),  # events coalesced since it became pending
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("hint", sa.JSON(none_as_null=True)),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String(128)),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("claimed_generation", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Index(None, "state", "next_attempt_at"),
)

# Webhook deliveries already accepted, keyed by the sender's delivery id (stable across retries).
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("delivery_id", sa.String(200), primary_key=True),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

links = sa.Table(
    "links",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("mapping", sa.String(200), nullable=False),
    sa.Column("key", sa.String(700), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("correlation_id", sa.String(300), nullable=False),
    sa.Column("parent_id", BigId, sa.ForeignKey("links.id")),
    sa.Column("target_system", sa.String(32), nullable=False),
    sa.Column("target_kind", sa.String(64), nullable=False),
    sa.Column("target_id", sa.String(200), nullable=False),
    sa.Column("target_number", sa.String(64)),
    sa.Column("target_url", sa.String(1000)),
    sa.Column("pushed", sa.JSON, nullable=False),
    sa.Column("pushed_hash", sa.String(64), nullable=False),
    sa.Column("seen", sa.JSON(none_as_null=True)),
    sa.Column("seen_hash", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("mapping", "key"),
    sa.Index(None, "source"),
    sa.Index(None, "correlation_id"),
    sa.Index(None, "target_system", "target_id"),
    sa.Index(None, "parent_id"),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# What the pollers last saw of each source entity (a hash or an `updated` stamp): a poll enqueues
# only entities whose mark changed, so an unchanged Jira costs no work beyond the poll itself.
source_marks = sa.Table(
    "source_marks",
    metadata,
    sa.Column("entity", sa.String(300), primary_key=True),
    sa.Column("scope", sa.String(200), nullable=False),  # e.g. jira:project:PAY:versions
    sa.Column("mark", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "scope"),
)

# Jira writes the CAB's answers asked for, by idempotency key: each is applied once, whatever
# number of events, replays or replicas see the same answer.
applied_actions = sa.Table(
    "applied_actions",
    metadata,
    sa.Column("key", sa.String(600), primary_key=True),
    sa.Column("link_id", BigId, sa.ForeignKey("links.id", ondelete="CASCADE")),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
    # started: about to be sent (a write that cannot be repeated blindly, e.g. a comment); done: sent
    sa.Column("state", sa.String(16), nullable=False, server_default="done"),
    sa.Index(None, "link_id"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("entity", sa.String(700), nullable=False),
    sa.Column("mapping", sa.String(200)),
    sa.Column("target_system", sa.String(32)),
    sa.Column("target_kind", sa.String(64)),
    sa.Column("target_id", sa.String(200)),
    sa.Column("target_number", sa.String(64)),
    sa.Column("fields", sa.JSON(none_as_null=True)),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("duration_ms", sa.Float),
    sa.Index(None, "at"),
    sa.Index(None, "entity"),
)

# Status page sign-ins. Only a hash of the session id is kept: whoever reads the database cannot
# sign in with it. ``token_mark`` ties a session to the admin token it was opened with, so rotating
# the token ends every session.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("signed_in_as", sa.String(100), nullable=False),
    sa.Column("client", sa.String(100)),
    sa.Column("token_mark", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index(None, "expires_at"),
)

"""Alembic migrations, run programmatically (no alembic.ini): ``bridgeline db upgrade`` or at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Any | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade_connection(connection: Any, revision: str = "head") -> None:
    """Upgrade through an open (sync) connection; on PostgreSQL under an advisory lock."""
    if connection.dialect.name == "postgresql":
        # Several replicas may start at once: one migrates, the others wait and find nothing to do.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7419265301)")
    command.upgrade(alembic_config(connection), revision)


def current_revision(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()

"""Alembic environment: always handed an open connection by bridgeline.store.migrate."""

from __future__ import annotations

from alembic import context

from bridgeline.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover
    raise RuntimeError("run migrations through `bridgeline db upgrade`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bridgeline.store import Store
from bridgeline.store.migrate import head_revision
from bridgeline.store.tables import metadata


async def test_migrated_database_matches_the_table_definitions(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        async with store.engine.connect() as conn:

            def diff(sync_conn: sa.Connection) -> list:
                return compare_metadata(MigrationContext.configure(sync_conn), metadata)

            assert await conn.run_sync(diff) == []
            version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
        assert version == head_revision()
    finally:
        await store.close()


async def test_opening_twice_is_harmless(database_url: str) -> None:
    for _ in range(2):
        store = await Store.open(database_url)
        await store.close()

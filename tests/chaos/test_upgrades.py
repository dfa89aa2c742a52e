"""``bridgeline db upgrade`` on an empty database of either kind, and several replicas migrating
one database at the same moment: one migrates, the others find nothing left to do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridgeline.store import Store
from bridgeline.store.migrate import head_revision


async def _revision(url: str) -> str | None:
    store = await Store.open(url, migrate=False)
    try:
        async with store.engine.connect() as conn:
            exists = await conn.run_sync(lambda c: sa.inspect(c).has_table("alembic_version"))
            if not exists:
                return None
            return (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
    finally:
        await store.close()


def _upgrade(url: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGELINE_")}
    env["BRIDGELINE_DATABASE_URL"] = url
    return subprocess.Popen(
        [sys.executable, "-m", "bridgeline.cli", "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_db_upgrade_brings_an_empty_database_to_the_newest_schema(database_url: str, tmp_path: Path) -> None:
    assert asyncio.run(_revision(database_url)) is None
    proc = _upgrade(database_url, tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "is at the newest schema" in out
    assert asyncio.run(_revision(database_url)) == head_revision()


@pytest.mark.postgres
def test_replicas_starting_together_migrate_once_without_tripping_over_each_other(
    postgres_url: str, tmp_path: Path
) -> None:
    procs = [_upgrade(postgres_url, tmp_path) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in results]
    assert asyncio.run(_revision(postgres_url)) == head_revision()

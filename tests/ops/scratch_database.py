"""A database of a test's own: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa


def scratch_database(request: pytest.FixtureRequest, tmp_path: Path, schema: str) -> str:
    """The URL for ``request.param`` (``sqlite`` or ``postgresql``); PostgreSQL is skipped unless
    ``BRIDGELINE_TEST_DATABASE_URL`` is set, and gets ``schema`` as its search path."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bridgeline.db'}"
    url = os.environ.get("BRIDGELINE_TEST_DATABASE_URL")
    if not url:
        pytest.skip("BRIDGELINE_TEST_DATABASE_URL is not set")

    def recreate(create: bool) -> None:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            if create:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()

    recreate(True)
    request.addfinalizer(lambda: recreate(False))
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"

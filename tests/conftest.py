"""Shared fixtures: database URLs (SQLite always, PostgreSQL where BRIDGELINE_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("BRIDGELINE_TEST_DATABASE_URL")
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)] if POSTGRES_URL else ["sqlite"]


def _pg_schema_url(base: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards: tests run in parallel."""
    import psycopg
    import sqlalchemy as sa

    url = sa.engine.make_url(base)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield url.set(query={**url.query, "options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test gets an empty database of each kind available."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridgeline.db'}"
    else:
        assert POSTGRES_URL
        yield from _pg_schema_url(POSTGRES_URL)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bridgeline.db'}"


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only() -> Iterator[None]:
    """Secrets a test's settings registered for masking stay with that test: a worker runs many, and
    another test's weak password (``admin``) would otherwise mask ordinary words in the next one."""
    from bridgeline import log

    before = set(log._secrets)
    yield
    with log._lock:
        log._secrets.clear()
        log._secrets.update(before)

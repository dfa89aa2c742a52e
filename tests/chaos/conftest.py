"""Fixtures of the reliability tests: a second database beside the first, and the chaos harness."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def pg_schema(base: str) -> Iterator[str]:
    """A URL whose search_path is a fresh PostgreSQL schema, dropped afterwards."""
    import psycopg
    import sqlalchemy as sa

    url = sa.engine.make_url(base)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield url.set(query={**url.query, "options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
    else:
        yield from pg_schema(os.environ["BRIDGELINE_TEST_DATABASE_URL"])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL schema; the test is skipped without BRIDGELINE_TEST_DATABASE_URL."""
    base = os.environ.get("BRIDGELINE_TEST_DATABASE_URL")
    if not base:
        pytest.skip("BRIDGELINE_TEST_DATABASE_URL is not set")
    yield from pg_schema(base)

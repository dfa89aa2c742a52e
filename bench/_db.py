"""bridgeline's database as the benchmarks see it: made fresh for each run, read from outside.

SQLite is a file in the run's folder; PostgreSQL is a database of its own (created anew, dropped
after) on the server named by ``--postgres`` or ``BRIDGELINE_BENCH_POSTGRES``. The daemon writes;
the benchmark only reads the inbox and the audit trail, with its own synchronous connection.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bridgeline.store import tables as t

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgres_server() -> str | None:
    """The PostgreSQL server to use (an admin URL), or None when none answers."""
    url = os.environ.get("BRIDGELINE_BENCH_POSTGRES", DEFAULT_POSTGRES)
    if url.lower() in ("", "none", "off"):
        return None
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception:
        return None
    finally:
        engine.dispose()
    return url


def each_database(names: list[str], measure: Callable[[str, str | None], Any]) -> dict[str, Any]:
    """``measure(name, postgres_server)`` for every asked-for database in turn; PostgreSQL is skipped
    (and said so) when none answers."""
    results: dict[str, Any] = {}
    server = postgres_server() if "postgres" in names else None
    for name in names:
        if name == "postgres" and server is None:
            results[name] = {"skipped": "no PostgreSQL server answered (BRIDGELINE_BENCH_POSTGRES)"}
            continue
        results[name] = measure(name, server)
    return results


class Database:
    """One benchmark run's database."""

    def __init__(self, url: str, *, drop: tuple[str, str] | None = None) -> None:
        self.url = url
        self._drop = drop  # (admin url, database name) for PostgreSQL
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @classmethod
    @contextlib.contextmanager
    def sqlite(cls, folder: Path, name: str = "bridgeline.db") -> Iterator[Database]:
        path = folder / name
        for leftover in folder.glob(name + "*"):
            leftover.unlink()
        db = cls(f"sqlite:///{path}")
        try:
            yield db
        finally:
            db.engine.dispose()

    @classmethod
    @contextlib.contextmanager
    def postgres(cls, server: str, name: str = "bridgeline_bench") -> Iterator[Database]:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
        db = cls(url, drop=(server, name))
        try:
            yield db
        finally:
            db.engine.dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    def inbox_states(self) -> dict[str, int]:
        """Entities per inbox state; empty before the daemon made its tables."""
        c = t.inbox.c
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state)).all()
        except sa.exc.DBAPIError:
            return {}
        return {state: int(n) for state, n in rows}

    def first_writes(self, action: str, entities: list[str]) -> dict[str, datetime]:
        """When each entity's record was first written with ``action`` (``create``, ``update``)."""
        c = t.audit.c
        found: dict[str, datetime] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(entities), 500):
                chunk = entities[i : i + 500]
                query = (
                    sa.select(c.entity, sa.func.min(c.at))
                    .where(c.action == action, c.entity.in_(chunk))
                    .group_by(c.entity)
                )
                for entity, at in conn.execute(query).all():
                    found[entity] = _aware(at)
        return found

    def audit_errors(self) -> list[str]:
        """Why entities failed for good (dead letters), as the audit trail recorded it."""
        c = t.audit.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.detail).where(c.action == "dead_letter")).all()
        return [str(r[0]) for r in rows]

    def last_errors(self) -> list[str]:
        """The last error of every entity that failed at least once and is not done."""
        c = t.inbox.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.last_error).where(c.last_error.is_not(None))).all()
        return [str(r[0]) for r in rows]

    def count_audit(self) -> int:
        """Audit rows so far: every write and decision adds one."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.audit)).scalar() or 0)

    def count_links(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.links)).scalar() or 0)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes (the column type marks them), PostgreSQL aware ones."""

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""Locks that one process holds at a time and loses when it dies: who among the replicas leads.

On PostgreSQL a session-level advisory lock on a connection of its own, keyed by the lock's name
and the schema bridgeline lives in (two installations in one database do not contend). The server
releases it when the session ends: a killed replica, a broken connection. On SQLite an exclusive
``flock`` on a file beside the database: the kernel releases it when the process dies. ::

    lock = store.lock("pollers")
    if await lock.acquire():
        ...  # lead
        if not await lock.held():  # the connection broke: someone else may lead now
            ...
    await lock.release()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from pathlib import Path
from typing import IO, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

try:  # POSIX; elsewhere a SQLite process simply leads
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class ProcessLock(Protocol):
    """A named lock for one process at a time."""

    name: str

    async def acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it (now or already)."""

    async def held(self) -> bool:
        """Whether this process still holds it (False once its connection broke)."""

    async def release(self) -> None:
        """Let go (also when the lock was lost meanwhile)."""


def advisory_key(name: str, schema: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``, stable across processes and versions."""
    digest = hashlib.sha256(f"bridgeline:{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresAdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated autocommit connection, held as long as it lives."""

    # What a broken session raises: DBAPIError for a broken or refused connection, the
    # PendingRollbackError of a connection whose statement was cancelled halfway, OSError, or a
    # TimeoutError for one that hangs. Each means the session, and the lock with it, is gone.
    BROKEN = (SQLAlchemyError, OSError, TimeoutError)

    def __init__(self, engine: AsyncEngine, name: str, *, timeout: float = 5.0) -> None:
        self.engine = engine
        self.name = name
        self.timeout = timeout  # a check that hangs longer counts as a lost connection
        self._conn: AsyncConnection | None = None
        self._holding = False

    async def acquire(self) -> bool:
        if self._holding and await self.held():
            return True
        try:
            return await asyncio.wait_for(self._try(), self.timeout)
        except self.BROKEN:
            await self._drop()
            return False

    async def _try(self) -> bool:
        if self._conn is None:
            conn = await self.engine.connect()
            try:
                self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            except BaseException:
                await conn.close()
                raise
        schema = (await self._conn.execute(sa.text("SELECT current_schema()"))).scalar() or "public"
        key = advisory_key(self.name, str(schema))
        got = (await self._conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        self._holding = bool(got)
        return self._holding

    async def held(self) -> bool:
        if not self._holding or self._conn is None:
            return False
        try:
            await asyncio.wait_for(self._conn.execute(sa.text("SELECT 1")), self.timeout)
        except self.BROKEN:
            # The session is gone, and the lock with it (or soon will be, when the server notices).
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        try:
            if self._conn is not None and self._holding:
                with contextlib.suppress(*self.BROKEN):
                    await asyncio.wait_for(
                        self._conn.execute(sa.text("SELECT pg_advisory_unlock_all()")), self.timeout
                    )
        finally:  # also when cancelled halfway: the connection never serves another statement
            await self._drop()

    async def _drop(self) -> None:
        self._holding = False
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # never back into the pool: its session may hold the lock
            with contextlib.suppress(Exception):
                await conn.close()


class FileLock:
    """An exclusive ``flock`` on ``<database>.<name>.lock``; without a file (``:memory:``) always held."""

    def __init__(self, path: Path | None, name: str) -> None:
        self.name = name
        self.path = path
        self._file: IO[bytes] | None = None

    async def acquire(self) -> bool:
        if self._file is not None:
            return True
        if self.path is None or fcntl is None:
            self._file = open(os.devnull, "rb")  # noqa: SIM115 - held open until release
            return True
        try:
            handle = open(self.path, "ab")  # noqa: SIM115 - held open until release
        except OSError:  # no lock file possible beside the database: the one process leads
            self._file = open(os.devnull, "rb")  # noqa: SIM115
            return True
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    async def held(self) -> bool:
        return self._file is not None

    async def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()  # closing the descriptor lets go of the flock


def sqlite_lock_path(url: sa.engine.URL, name: str) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}.{name}.lock")

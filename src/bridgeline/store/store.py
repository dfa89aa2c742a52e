"""The :class:`Store`: every read and write of bridgeline's state, as async methods.

SQLite (a file, WAL mode, one writer at a time) or PostgreSQL (several replicas; claims use
``FOR UPDATE SKIP LOCKED``). On SQLite the store's own reads and writes run on the event loop's
thread, synchronously: a statement on a local file takes microseconds, far less than the round
trip through a driver thread that each statement of an async driver costs. Nothing waits for a
lock there: the write lock is taken up front and, while another process holds it, waited for
asynchronously. ::

    store = await Store.open("sqlite:///bridgeline.db")
    await store.enqueue([Event(EntityRef("jira", "version", "10042"))])
    for claim in await store.claim("worker-1", limit=10, lease_seconds=300):
        ...
        await store.complete(claim)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable

from bridgeline.errors import ConfigError, RetryableError
from bridgeline.model import AuditEntry, EntityRef, Event, Link, Snapshot, TargetRef, utcnow
from bridgeline.store import tables as t
from bridgeline.store.locks import FileLock, PostgresAdvisoryLock, ProcessLock, sqlite_lock_path
from bridgeline.store.statements import Statements


def async_url(url: str) -> str:
    """The async driver form of a database URL (``sqlite:///x`` -> ``sqlite+aiosqlite:///x``)."""
    u = sa.engine.make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername not in ("sqlite+aiosqlite",):
        raise ConfigError(
            f"database_url uses {u.drivername!r}; bridgeline supports sqlite:///path and postgresql+psycopg://..."
        )
    return u.render_as_string(hide_password=False)


def _missing_sqlite_file(url: str) -> Path | None:
    u = sa.engine.make_url(url)
    if not u.drivername.startswith("sqlite") or u.database in (None, "", ":memory:"):
        return None
    if u.database.startswith("file:"):
        return None
    path = Path(u.database)
    return None if path.exists() else path.resolve()


def redact_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True, slots=True)
class Claim:
    """An entity a worker holds until its lease ends."""

    id: int
    ref: EntityRef
    generation: int
    attempts: int
    events: int
    source: str
    hint: dict[str, Any] | None
    received_at: datetime
    worker: str


@dataclass(frozen=True, slots=True)
class AppliedAction:
    """A reverse action (a Jira write) that must not happen twice."""

    key: str
    rule: str
    kind: str
    link_id: int | None = None


@dataclass(frozen=True, slots=True)
class InboxRow:
    """An inbox entry as the status page and the dlq commands show it."""

    id: int
    entity: str
    state: str
    attempts: int
    events: int
    source: str
    received_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    claimed_by: str | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class StatusSession:
    """A sign-in to the status page, as kept server-side (the id itself only as its hash)."""

    id_hash: str
    signed_in_as: str
    client: str | None
    token_mark: str
    created_at: datetime
    seen_at: datetime
    expires_at: datetime


class InlineConnection:
    """What the store needs of an :class:`AsyncConnection`, over a synchronous SQLite connection
    used on the event loop's thread (see the module's docstring)."""

    __slots__ = ("sync_connection",)

    def __init__(self, conn: sa.Connection) -> None:
        self.sync_connection = conn

    # Typed loosely on purpose: SQLAlchemy 2.0 and 2.1 spell the generic result type differently
    # (one row type against a tuple of column types), and both are supported.
    async def execute(self, statement: Executable, parameters: Any = None) -> Any:
        return self.sync_connection.execute(statement, parameters)


Conn = AsyncConnection | InlineConnection

# How long a write waits for SQLite's write lock while another process holds it.
SQLITE_LOCK_WAIT = 30.0


class Store:
    """bridgeline's state in one SQL database."""

    def __init__(self, engine: AsyncEngine, url: str, *, inline: sa.Engine | None = None) -> None:
        self.engine = engine
        # SQLite: the same database through the synchronous driver, for the store's own statements
        self._inline = inline
        self.url = url
        self.dialect = engine.dialect.name
        self._sql = Statements.build(self.dialect)
        # Writes take SQLite's write lock up front; reads do not, so in WAL mode they never wait.
        self._writer = engine.execution_options(bridgeline_writes=True)
        # SQLite has one writer: this process's writes queue here, in order, rather than in SQLite's
        # busy handler, whose growing sleeps add tens of milliseconds to every contended write.
        self._one_writer: asyncio.Lock | contextlib.nullcontext[None] = (
            asyncio.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        )
        self._on_enqueue: list[Callable[[], None]] = []

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, create: bool = True) -> Store:
        """The store at ``url``, migrated to the newest schema unless ``migrate`` is off.
        ``create=False``: a SQLite file that does not exist is an error, not a new database (the
        commands that only look, or act on what is there)."""
        aurl = async_url(url)
        if not create:
            missing = _missing_sqlite_file(url)
            if missing is not None:
                raise ConfigError(
                    f"no bridgeline database at {missing}: nothing has run with this configuration "
                    "here (point --config or BRIDGELINE_DATABASE_URL at the daemon's database)"
                )
        kwargs: dict[str, Any] = {}
        if aurl.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        engine = create_async_engine(aurl, **kwargs)
        inline: sa.Engine | None = None
        if engine.dialect.name == "sqlite":
            _sqlite_setup(engine.sync_engine, busy_timeout_ms=30000)
            inline = _inline_engine(url)
        store = cls(engine, url, inline=inline)
        if migrate:
            await store.migrate()
        return store

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.dispose()
        await self.engine.dispose()

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic)."""
        from bridgeline.store.migrate import upgrade_connection

        try:
            async with self._writer.begin() as conn:
                await conn.run_sync(upgrade_connection)
        except (OperationalError, DBAPIError) as exc:
            self._raise_unavailable(exc)

    def lock(self, name: str) -> ProcessLock:
        """A lock one process holds at a time, lost when the process or its connection dies
        (see :mod:`bridgeline.store.locks`); the replicas elect their leader with it."""
        if self.dialect == "postgresql":
            return PostgresAdvisoryLock(self.engine, name)
        return FileLock(sqlite_lock_path(sa.engine.make_url(self.url), name), name)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except (OperationalError, DBAPIError, OSError):
            return False

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        try:
            async with self._one_writer:
                if self._inline is None:
                    async with self._writer.begin() as conn:
                        yield conn
                    return
                sync = await self._inline_write()
                try:
                    yield InlineConnection(sync)
                    sync.commit()
                finally:
                    sync.close()  # rolls back what was not committed
        except (OperationalError, DBAPIError) as exc:
            self._raise_unavailable(exc)

    async def _inline_write(self) -> sa.Connection:
        """A SQLite connection holding the write lock (``BEGIN IMMEDIATE``). While another process
        holds it, wait here - asynchronously, the event loop goes on - for up to
        :data:`SQLITE_LOCK_WAIT` seconds, as SQLite's own busy handler would have in the thread."""
        assert self._inline is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SQLITE_LOCK_WAIT
        pause = 0.001
        while True:
            conn = self._inline.connect().execution_options(bridgeline_writes=True)
            try:
                conn.begin()
                return conn
            except OperationalError as exc:
                conn.close()
                if not _is_busy(exc) or loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Conn]:
        """A connection for reads: a database that is away is a :class:`RetryableError` here too."""
        try:
            if self._inline is None:
                async with self.engine.connect() as conn:
                    yield conn
                return
            with self._inline.connect() as sync:
                yield InlineConnection(sync)
        except (OperationalError, DBAPIError) as exc:
            self._raise_unavailable(exc)

    def _raise_unavailable(self, exc: OperationalError | DBAPIError) -> NoReturn:
        """Raise a :class:`RetryableError` that says what to fix when the database is full or away;
        any other database error as it is."""
        if _is_disk_full(exc):
            raise RetryableError(
                f"the database disk is full: free space where the database lives ({redact_url(self.url)})"
            ) from exc
        if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
            raise RetryableError(f"database unavailable ({redact_url(self.url)}): {exc.orig}") from exc
        raise exc

    # -- inbox -----------------------------------------------------------------------------

    async def enqueue(
        self,
        events: Iterable[Event],
        *,
        cursor: tuple[str, str] | None = None,
        marks: dict[str, tuple[str, str]] | None = None,
    ) -> int:
        """Append events to the inbox; returns how many were new (not duplicate deliveries).

        In the same transaction it can advance a poll ``cursor`` (name, value) and record source
        ``marks`` (entity -> (scope, mark)): a cursor never moves past events that were not stored.
        """
        now = utcnow()
        accepted = 0
        async with self._tx() as conn:
            for ev in events:
                if ev.delivery_id is not None:
                    delivery = {
                        "delivery_id": storable_text(ev.delivery_id),
                        "system": ev.ref.system,
                        "received_at": now,
                    }
                    if (await conn.execute(self._sql.insert_delivery, delivery)).first() is None:
                        continue  # a retry of a delivery already accepted
                await self._upsert_event(conn, ev, now)
                accepted += 1
            if cursor is not None:
                await self._set_cursor(conn, cursor[0], cursor[1], now)
            if marks:
                await self._set_marks(conn, marks, now)
        if accepted:
            self._due()
        return accepted

    def on_enqueue(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever this process has made work due (events stored, a dead letter
        replayed): an idle worker of this process starts at once instead of at its next look."""
        self._on_enqueue.append(callback)

    def _due(self) -> None:
        for callback in self._on_enqueue:
            callback()

    async def _upsert_event(self, conn: Conn, ev: Event, now: datetime) -> None:
        """A new entity becomes pending; a known one gets a new generation (coalescing), and one that
        was done or dead starts afresh (see :attr:`Statements.upsert_event`)."""
        await conn.execute(
            self._sql.upsert_event,
            {
                "entity": storable_text(str(ev.ref)),
                "system": storable_text(ev.ref.system),
                "kind": storable_text(ev.ref.kind),
                "state": "pending",
                "generation": 1,
                "events": 1,
                "attempts": 0,
                "source": storable_text(ev.source),
                "hint": storable_hint(ev.hint),
                "received_at": ev.received_at,
                "updated_at": now,
                # due from when the news arrived: a new record's way back (queued with the news that
                # made it) is not put behind a backlog that arrived later
                "next_attempt_at": min(now, ev.received_at),
            },
        )

    async def claim(self, worker: str, *, limit: int, lease_seconds: float) -> list[Claim]:
        """Take up to ``limit`` due entities for ``lease_seconds``, oldest first."""
        now = utcnow()
        claims: list[Claim] = []
        async with self._tx() as conn:
            rows = (await conn.execute(self._sql.due, {"now_": now, "limit_": limit})).mappings().all()
            if not rows:
                return []
            until = now + timedelta(seconds=lease_seconds)
            await conn.execute(
                self._sql.take, {"ids_": [r["id"] for r in rows], "worker_": worker, "until_": until}
            )
            for r in rows:
                claims.append(
                    Claim(
                        id=r["id"],
                        ref=EntityRef.parse(r["entity"]),
                        generation=r["generation"],
                        attempts=r["attempts"],
                        events=r["events"],
                        source=r["source"],
                        hint=r["hint"],
                        received_at=r["received_at"],
                        worker=worker,
                    )
                )
        return claims

    async def extend(self, claim: Claim, lease_seconds: float) -> bool:
        """Renew a lease still held; False when it was lost (expired and taken by another)."""
        until = utcnow() + timedelta(seconds=lease_seconds)
        async with self._tx() as conn:
            res = await conn.execute(
                self._sql.extend, {"id_": claim.id, "worker_": claim.worker, "until_": until}
            )
        return res.rowcount == 1

    async def complete(self, claim: Claim) -> bool:
        """The entity is in sync. If new events came meanwhile, it stays pending for another pass."""
        c = t.inbox.c
        now = utcnow()
        async with self._tx() as conn:
            res = await conn.execute(
                self._sql.complete,
                {"id_": claim.id, "worker_": claim.worker, "generation_": claim.generation, "now_": now},
            )
            if res.rowcount == 1:
                return True
            await conn.execute(
                sa.update(t.inbox)
                .where(c.id == claim.id, c.claimed_by == claim.worker)
                .values(claimed_by=None, claimed_until=None, claimed_generation=None, next_attempt_at=now)
            )
        return False

    async def fail(
        self,
        claim: Claim,
        error: str,
        *,
        permanent: bool,
        max_attempts: int,
        backoff_initial: float,
        backoff_max: float,
        retry_after: float | None = None,
    ) -> str:
        """Record a failed attempt: back off and retry, or make it a dead letter. Returns the new state."""
        c = t.inbox.c
        now = utcnow()
        attempts = claim.attempts + 1
        if permanent or attempts >= max_attempts:
            values: dict[str, Any] = {"state": "dead", "next_attempt_at": now}
            state = "dead"
        else:
            delay = min(backoff_max, backoff_initial * (2 ** (attempts - 1)))
            delay = delay / 2 + random.uniform(0, delay / 2)  # jitter: replicas do not retry in step
            if retry_after is not None:
                delay = max(delay, retry_after)
            values = {"state": "pending", "next_attempt_at": now + timedelta(seconds=delay)}
            state = "pending"
        async with self._tx() as conn:
            await conn.execute(
                sa.update(t.inbox)
                .where(c.id == claim.id, c.claimed_by == claim.worker)
                .values(
                    attempts=attempts,
                    last_error=error[:4000],
                    updated_at=now,
                    claimed_by=None,
                    claimed_until=None,
                    claimed_generation=None,
                    **values,
                )
            )
        return state

    async def release(self, claim: Claim) -> None:
        """Give a claim back untouched (shutdown before the work started)."""
        c = t.inbox.c
        async with self._tx() as conn:
            await conn.execute(
                sa.update(t.inbox)
                .where(c.id == claim.id, c.claimed_by == claim.worker)
                .values(claimed_by=None, claimed_until=None, claimed_generation=None)
            )

    async def inbox_rows(self, *, state: str | None = None, limit: int = 100) -> list[InboxRow]:
        c = t.inbox.c
        q = sa.select(t.inbox).order_by(c.updated_at.desc(), c.id.desc()).limit(limit)
        if state:
            q = q.where(c.state == state)
        async with self._read() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [_inbox_row(r) for r in rows]

    async def inbox_row(self, entity: str) -> InboxRow | None:
        entity = storable_text(entity)  # as it was stored (PostgreSQL refuses NUL even in a WHERE)
        async with self._read() as conn:
            r = (await conn.execute(sa.select(t.inbox).where(t.inbox.c.entity == entity))).mappings().first()
        return _inbox_row(r) if r else None

    async def replay(self, entity: str, *, asked_by: str | None = None) -> bool:
        """A dead letter goes back to pending with fresh attempts; with ``asked_by`` (who asked:
        ``cli:alex@build-01``), audited in the same transaction."""
        c = t.inbox.c
        now = utcnow()
        entity = storable_text(entity)
        async with self._tx() as conn:
            res = await conn.execute(
                sa.update(t.inbox)
                .where(c.entity == entity, c.state == "dead")
                .values(
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    updated_at=now,
                    source="replay",
                    generation=c.generation + 1,
                )
            )
            if res.rowcount == 1 and asked_by is not None:
                await self._audit(conn, [_asked("replay", entity, asked_by)])
        if res.rowcount == 1:
            self._due()
        return res.rowcount == 1

    async def drop(self, entity: str, *, asked_by: str | None = None) -> bool:
        """Forget a dead letter (marked done, its last error kept); audited like :meth:`replay`."""
        c = t.inbox.c
        entity = storable_text(entity)
        async with self._tx() as conn:
            res = await conn.execute(
                sa.update(t.inbox)
                .where(c.entity == entity, c.state == "dead")
                .values(state="done", updated_at=utcnow())
            )
            if res.rowcount == 1 and asked_by is not None:
                await self._audit(conn, [_asked("drop", entity, asked_by)])
        return res.rowcount == 1

    async def queue_depth(self) -> dict[str, int]:
        """Entities per inbox state: ``{"pending": 3, "done": 120, "dead": 1}``."""
        c = t.inbox.c
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state))).all()
        return {state: n for state, n in rows}

    async def oldest_pending(self) -> datetime | None:
        c = t.inbox.c
        async with self._read() as conn:
            oldest: datetime | None = (
                await conn.execute(sa.select(sa.func.min(c.received_at)).where(c.state == "pending"))
            ).scalar()
        return oldest

    async def prune_deliveries(self, older_than: timedelta) -> int:
        async with self._tx() as conn:
            res = await conn.execute(
                sa.delete(t.deliveries).where(t.deliveries.c.received_at < utcnow() - older_than)
            )
        return res.rowcount

    # -- cursors and marks -----------------------------------------------------------------

    async def get_cursor(self, name: str) -> str | None:
        async with self._read() as conn:
            return (await conn.execute(sa.select(t.cursors.c.value).where(t.cursors.c.name == name))).scalar()

    async def set_cursor(self, name: str, value: str) -> None:
        async with self._tx() as conn:
            await self._set_cursor(conn, name, value, utcnow())

    async def cursors(self) -> dict[str, tuple[str, datetime]]:
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(t.cursors))).mappings().all()
        return {r["name"]: (r["value"], r["updated_at"]) for r in rows}

    async def _set_cursor(self, conn: Conn, name: str, value: str, now: datetime) -> None:
        await conn.execute(self._sql.set_cursor, {"name": name, "value": value, "updated_at": now})

    async def get_marks(self, scope: str) -> dict[str, str]:
        """Source marks recorded under ``scope``: entity -> mark."""
        c = t.source_marks.c
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(c.entity, c.mark).where(c.scope == scope))).all()
        return {e: m for e, m in rows}

    async def get_marks_for(self, entities: Sequence[str]) -> dict[str, str]:
        c = t.source_marks.c
        out: dict[str, str] = {}
        async with self._read() as conn:
            for i in range(0, len(entities), 500):
                chunk = list(entities[i : i + 500])
                rows = (await conn.execute(sa.select(c.entity, c.mark).where(c.entity.in_(chunk)))).all()
                out.update({e: m for e, m in rows})
        return out

    async def _set_marks(self, conn: Conn, marks: dict[str, tuple[str, str]], now: datetime) -> None:
        for entity, (scope, mark) in marks.items():
            await conn.execute(
                self._sql.set_mark, {"entity": entity, "scope": scope, "mark": mark, "updated_at": now}
            )

    # -- links -----------------------------------------------------------------------------

    async def get_link(self, mapping: str, key: str) -> Link | None:
        async with self._read() as conn:
            r = (
                (await conn.execute(self._sql.link_by_key, {"mapping_": mapping, "key_": key}))
                .mappings()
                .first()
            )
        return _link(r) if r else None

    async def links_for_source(self, source: str) -> list[Link]:
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(t.links).where(t.links.c.source == source))).mappings().all()
        return [_link(r) for r in rows]

    async def children_of(self, parent_id: int) -> list[Link]:
        c = t.links.c
        async with self._read() as conn:
            rows = (
                (await conn.execute(sa.select(t.links).where(c.parent_id == parent_id).order_by(c.id)))
                .mappings()
                .all()
            )
        return [_link(r) for r in rows]

    async def link_by_target(self, system: str, target_id: str) -> Link | None:
        async with self._read() as conn:
            r = (
                (await conn.execute(self._sql.link_by_target, {"system_": system, "id_": target_id}))
                .mappings()
                .first()
            )
        return _link(r) if r else None

    async def list_links(self, *, limit: int = 200, top_level: bool = True) -> list[Link]:
        c = t.links.c
        q = sa.select(t.links).order_by(c.updated_at.desc()).limit(limit)
        if top_level:
            q = q.where(c.parent_id.is_(None))
        async with self._read() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [_link(r) for r in rows]

    async def count_links(self, *, top_level: bool | None = None) -> int:
        c = t.links.c
        q = sa.select(sa.func.count()).select_from(t.links)
        if top_level is not None:
            q = q.where(c.parent_id.is_(None) if top_level else c.parent_id.is_not(None))
        async with self._read() as conn:
            return int((await conn.execute(q)).scalar() or 0)

    async def record(
        self,
        *,
        link: Link | None = None,
        audit: Sequence[AuditEntry] = (),
        applied: Sequence[AppliedAction] = (),
        events: Sequence[Event] = (),
    ) -> Link | None:
        """Store a link (insert or update, by mapping + key), its audit rows, applied action keys and
        the events it gives rise to, in one transaction."""
        async with self._tx() as conn:
            saved = await self._save_link(conn, link) if link is not None else None
            now = utcnow()
            for ev in events:
                await self._upsert_event(conn, ev, now)
            await self._audit(conn, audit)
            for a in applied:
                await conn.execute(self._sql.applied_done, _applied_row(a, now, "done"))
        if events:
            self._due()
        return saved

    async def record_many(
        self,
        *,
        links: Sequence[Link] = (),
        audit: Sequence[AuditEntry] = (),
        applied: Sequence[AppliedAction] = (),
        events: Sequence[Event] = (),
    ) -> None:
        """:meth:`record` for several links (a change's tasks written together), in one transaction."""
        async with self._tx() as conn:
            for link in links:
                await self._save_link(conn, link)
            await self._audit(conn, audit)
            now = utcnow()
            for ev in events:
                await self._upsert_event(conn, ev, now)
            for a in applied:
                await conn.execute(self._sql.applied_done, _applied_row(a, now, "done"))
        if events:
            self._due()

    async def begin_action(self, action: AppliedAction) -> None:
        """Note that a write which cannot be repeated blindly (a comment) is about to be sent: if the
        process dies before :meth:`record` marks it done, the next attempt looks before sending again."""
        await self.begin_actions([action])

    async def begin_actions(self, actions: Sequence[AppliedAction]) -> None:
        """:meth:`begin_action` for several writes, in one transaction (a change's new tasks)."""
        if not actions:
            return
        now = utcnow()
        async with self._tx() as conn:
            for action in actions:
                await conn.execute(self._sql.applied_started, _applied_row(action, now, "started"))

    async def action_states(self, keys: Sequence[str]) -> dict[str, str]:
        """The state of each of ``keys`` recorded so far: ``done`` (applied) or ``started`` (begun,
        outcome unknown); keys never begun are absent."""
        c = t.applied_actions.c
        found: dict[str, str] = {}
        if not keys:
            return found
        async with self._read() as conn:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                rows = (await conn.execute(sa.select(c.key, c.state).where(c.key.in_(chunk)))).all()
                found.update((k, state) for k, state in rows)
        return found

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        async with self._tx() as conn:
            await self._audit(conn, entries)

    async def _save_link(self, conn: Conn, link: Link) -> Link:
        now = utcnow()
        values = {
            "mapping": link.mapping,
            "key": link.key,
            "source": str(link.source),
            "correlation_id": link.correlation_id,
            "parent_id": link.parent_id,
            "target_system": link.target.system,
            "target_kind": link.target.kind,
            "target_id": link.target.id,
            "target_number": link.target.number,
            "target_url": link.target.url,
            "pushed": link.pushed.fields,
            "pushed_hash": link.pushed.hash,
            "seen": link.seen.fields if link.seen else None,
            "seen_hash": link.seen.hash if link.seen else None,
            "state": link.state,
            "extra": link.extra,
            "updated_at": now,
            "created_at": now,  # kept as it was when the link exists
        }
        row = (await conn.execute(self._sql.save_link, values)).first()
        assert row is not None
        link.id, link.created_at, link.updated_at = row[0], row[1], now
        return link

    async def _audit(self, conn: Conn, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        await conn.execute(
            self._sql.insert_audit,
            [
                {
                    "at": e.at,
                    "action": e.action,
                    "entity": e.entity,
                    "mapping": e.mapping,
                    "target_system": e.target_system,
                    "target_kind": e.target_kind,
                    "target_id": e.target_id,
                    "target_number": e.target_number,
                    "fields": e.fields,
                    "outcome": e.outcome,
                    "detail": e.detail,
                    "duration_ms": e.duration_ms,
                }
                for e in entries
            ],
        )

    async def recent_audit(self, *, limit: int = 100, entity: str | None = None) -> list[AuditEntry]:
        c = t.audit.c
        q = sa.select(t.audit).order_by(c.id.desc()).limit(limit)
        if entity:
            q = q.where(c.entity == entity)
        async with self._read() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [
            AuditEntry(
                id=r["id"],
                at=r["at"],
                action=r["action"],
                entity=r["entity"],
                mapping=r["mapping"],
                target_system=r["target_system"],
                target_kind=r["target_kind"],
                target_id=r["target_id"],
                target_number=r["target_number"],
                fields=r["fields"],
                outcome=r["outcome"],
                detail=r["detail"],
                duration_ms=r["duration_ms"],
            )
            for r in rows
        ]

    async def count_audit(self, *, since_id: int = 0, actions: Iterable[str] | None = None) -> int:
        c = t.audit.c
        q = sa.select(sa.func.count()).select_from(t.audit).where(c.id > since_id)
        if actions is not None:
            q = q.where(c.action.in_(list(actions)))
        async with self._read() as conn:
            return int((await conn.execute(q)).scalar() or 0)

    async def last_audit_id(self) -> int:
        async with self._read() as conn:
            return int((await conn.execute(sa.select(sa.func.max(t.audit.c.id)))).scalar() or 0)

    # -- status page sign-ins ---------------------------------------------------------------

    async def start_session(self, session: StatusSession) -> None:
        """Keep a new sign-in; sessions that have ended are forgotten meanwhile."""
        c = t.sessions.c
        async with self._tx() as conn:
            await conn.execute(sa.delete(t.sessions).where(c.expires_at < session.created_at))
            await conn.execute(
                sa.insert(t.sessions).values(
                    id_hash=session.id_hash,
                    signed_in_as=session.signed_in_as,
                    client=session.client,
                    token_mark=session.token_mark,
                    created_at=session.created_at,
                    seen_at=session.seen_at,
                    expires_at=session.expires_at,
                )
            )

    async def session(self, id_hash: str) -> StatusSession | None:
        async with self._read() as conn:
            r = (
                (await conn.execute(sa.select(t.sessions).where(t.sessions.c.id_hash == id_hash)))
                .mappings()
                .first()
            )
        return StatusSession(**r) if r else None

    async def touch_session(self, id_hash: str, seen_at: datetime) -> None:
        async with self._tx() as conn:
            await conn.execute(
                sa.update(t.sessions).where(t.sessions.c.id_hash == id_hash).values(seen_at=seen_at)
            )

    async def end_session(self, id_hash: str) -> bool:
        async with self._tx() as conn:
            res = await conn.execute(sa.delete(t.sessions).where(t.sessions.c.id_hash == id_hash))
        return res.rowcount == 1


def _asked(action: str, entity: str, asked_by: str) -> AuditEntry:
    return AuditEntry(action=action, entity=entity, detail=f"{action} asked by {asked_by}")


def storable_text(text: str) -> str:
    """Text any supported database can hold: PostgreSQL refuses NUL characters (a webhook may send
    them; no real identifier has one, so the event still names nothing that exists)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def storable_hint(hint: dict[str, Any] | None) -> dict[str, Any] | None:
    """A webhook's payload hint, or None when it is not strict JSON (``Infinity``, ``NaN``, NUL
    characters): the hint only saves a read, the engine reads the entity itself anyway."""
    if hint is None:
        return None
    try:
        text = json.dumps(hint, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return None if "\\u0000" in text else hint


def _applied_row(action: AppliedAction, at: datetime, state: str) -> dict[str, Any]:
    return {
        "key": action.key,
        "link_id": action.link_id,
        "rule": action.rule,
        "kind": action.kind,
        "applied_at": at,
        "state": state,
    }


def _inbox_row(r: Any) -> InboxRow:
    return InboxRow(
        id=r["id"],
        entity=r["entity"],
        state=r["state"],
        attempts=r["attempts"],
        events=r["events"],
        source=r["source"],
        received_at=r["received_at"],
        updated_at=r["updated_at"],
        next_attempt_at=r["next_attempt_at"],
        claimed_by=r["claimed_by"],
        last_error=r["last_error"],
    )


def _link(r: Any) -> Link:
    return Link(
        id=r["id"],
        mapping=r["mapping"],
        key=r["key"],
        source=EntityRef.parse(r["source"]),
        target=TargetRef(
            r["target_system"], r["target_kind"], r["target_id"], r["target_number"], r["target_url"]
        ),
        correlation_id=r["correlation_id"],
        pushed=Snapshot(r["pushed"] or {}, r["pushed_hash"]),
        seen=Snapshot(r["seen"], r["seen_hash"]) if r["seen"] is not None else None,
        parent_id=r["parent_id"],
        state=r["state"],
        extra=r["extra"] or {},
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def _inline_engine(url: str) -> sa.Engine | None:
    """The database of ``url`` through Python's own sqlite3, for use on the event loop's thread.

    SQLite's busy handler is off: it would sleep on the loop's thread. A write waits for the lock in
    :meth:`Store._inline_write` instead, and a read never waits in WAL mode. The pool keeps a few
    connections open (opening one costs more than most statements). None for a memory database.
    """
    u = sa.engine.make_url(url).set(drivername="sqlite")
    database = u.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None  # a memory database lives in the async engine's one connection: nothing to share
    engine = sa.create_engine(
        u,
        connect_args={"timeout": 0, "check_same_thread": False},
        pool_size=4,
        max_overflow=16,
    )
    _sqlite_setup(engine, busy_timeout_ms=0)
    return engine


def _is_busy(exc: OperationalError) -> bool:
    """SQLITE_BUSY: another connection holds the lock asked for."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == 5)
    return "database is locked" in str(exc.orig)


def _sqlite_setup(engine: sa.Engine, *, busy_timeout_ms: int) -> None:
    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write takes the write lock up front: a read that later upgrades to a write can deadlock
        # in SQLite. A read takes none: it would queue behind every writer for nothing.
        writes = conn.get_execution_options().get("bridgeline_writes")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _is_disk_full(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "database or disk is full" in text or "no space left" in text

"""Status page sessions, kept in the database: a lifetime, an idle timeout, the admin token they
were opened with, and an end on sign-out - on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from bridgeline.config import ServerSettings
from bridgeline.model import utcnow
from bridgeline.server.auth import SessionBook, SignInLimiter
from bridgeline.store import Store

TOKEN = "sessions-admin-token-31aa"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


def book(store: Store, clock: Clock, **settings: float) -> SessionBook:
    return SessionBook(store, ServerSettings(**settings), clock=clock)  # type: ignore[arg-type]


async def test_a_session_lasts_its_lifetime_however_much_it_is_used(store: Store) -> None:
    clock = Clock()
    sessions = book(store, clock, session_seconds=3600, session_idle_seconds=600)
    session_id = await sessions.open(TOKEN, "alex", "10.0.0.5")
    for _ in range(11):  # used every five minutes: never idle, but ten times ten minutes...
        clock.advance(300)
        found = await sessions.find(session_id, TOKEN)
        assert found is not None and found.signed_in_as == "alex" and found.client == "10.0.0.5"
    clock.advance(301)  # ...and a little more is past the hour it was given
    assert await sessions.find(session_id, TOKEN) is None
    clock.now -= timedelta(hours=1)
    assert await sessions.find(session_id, TOKEN) is None  # ended means forgotten, not paused


async def test_a_session_left_unused_ends_early(store: Store) -> None:
    clock = Clock()
    sessions = book(store, clock, session_seconds=3600, session_idle_seconds=600)
    session_id = await sessions.open(TOKEN, "alex", None)
    clock.advance(599)
    assert await sessions.find(session_id, TOKEN) is not None
    clock.advance(599)  # the last use counts, not the sign-in
    assert await sessions.find(session_id, TOKEN) is not None
    clock.advance(600)
    assert await sessions.find(session_id, TOKEN) is None


async def test_a_new_admin_token_ends_every_session_and_sign_out_ends_one(store: Store) -> None:
    clock = Clock()
    sessions = book(store, clock)
    kept = await sessions.open(TOKEN, "alex", None)
    ended = await sessions.open(TOKEN, "sam", None)
    assert kept != ended
    assert await sessions.find(kept, "the-rotated-admin-token") is None
    assert await sessions.find(kept, TOKEN) is None  # forgotten once refused
    await sessions.close(ended)
    assert await sessions.find(ended, TOKEN) is None
    assert await sessions.find("not a session id", TOKEN) is None


async def test_only_a_hash_of_the_session_id_is_stored(store: Store) -> None:
    sessions = book(store, Clock())
    session_id = await sessions.open(TOKEN, "alex", None)
    assert await store.session(session_id) is None
    stored = await store.session(hashlib.sha256(session_id.encode()).hexdigest())
    assert stored is not None and TOKEN not in stored.token_mark


def test_the_sign_in_limiter_forgets_failures_after_its_window_and_bounds_its_memory() -> None:
    now = [0.0]
    limiter = SignInLimiter(3, 60, clock=lambda: now[0], max_clients=100)
    for _ in range(3):
        assert limiter.wait("10.0.0.5") == 0
        limiter.failed("10.0.0.5")
    assert limiter.wait("10.0.0.5") == 60
    now[0] = 30
    assert limiter.wait("10.0.0.5") == 30
    assert limiter.wait("10.0.0.6") == 0
    now[0] = 60.5
    assert limiter.wait("10.0.0.5") == 0
    for n in range(1000):
        limiter.failed(f"192.0.2.{n}")
    assert len(limiter) == 100  # the oldest addresses forgotten first

"""SQLite: the store's statements run on the event loop's thread, and a write lock held by another
process is waited for without stopping the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bridgeline.errors import RetryableError
from bridgeline.model import EntityRef, Event
from bridgeline.store import Store
from bridgeline.store import store as store_module

V1 = EntityRef("jira", "version", "10001")


@pytest.fixture
async def sqlite_store(tmp_path: Path):
    s = await Store.open(f"sqlite:///{tmp_path / 'bridgeline.db'}")
    yield s, tmp_path / "bridgeline.db"
    await s.close()


async def test_a_write_waits_for_another_process_lock_while_the_loop_goes_on(
    sqlite_store: tuple[Store, Path],
) -> None:
    store, path = sqlite_store
    other = sqlite3.connect(path, isolation_level=None)  # another process, as far as SQLite knows
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(ticker())
    write = asyncio.create_task(store.enqueue([Event(V1)]))
    await asyncio.sleep(0.3)
    assert not write.done()  # waiting for the lock...
    assert ticks >= 10  # ...without holding up the loop
    assert await store.queue_depth() == {}  # reads go on meanwhile (WAL)
    other.execute("COMMIT")
    assert await asyncio.wait_for(write, 5) == 1
    beat.cancel()
    other.close()
    assert await store.queue_depth() == {"pending": 1}


async def test_a_lock_never_released_makes_the_write_retryable(
    sqlite_store: tuple[Store, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, path = sqlite_store
    monkeypatch.setattr(store_module, "SQLITE_LOCK_WAIT", 0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(RetryableError, match="database unavailable"):
            await store.enqueue([Event(V1)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await store.enqueue([Event(V1)]) == 1  # and all is well once it is free

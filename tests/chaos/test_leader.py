"""Leader election: one replica runs the pollers; a leader that dies or loses its connection lets
another take over. On PostgreSQL an advisory lock, on SQLite a file lock beside the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa

from bridgeline.store import Store
from bridgeline.store.locks import advisory_key
from bridgeline.sync.leader import LOCK_NAME, Leadership


@pytest.fixture
async def stores(database_url: str):
    """Two replicas' stores: separate engines, separate connections, one database."""
    first = await Store.open(database_url)
    second = await Store.open(database_url, migrate=False)
    yield first, second
    await first.close()
    await second.close()


async def test_one_replica_leads_and_another_takes_over_when_it_steps_down(
    stores: tuple[Store, Store],
) -> None:
    a, b = Leadership(stores[0]), Leadership(stores[1])
    assert await a.campaign() is True
    assert await b.campaign() is False
    assert await a.campaign() is True  # holding it is not taking it again
    assert (a.terms, b.terms) == (1, 0)
    await a.resign()
    assert a.is_leader is False
    assert await b.campaign() is True
    assert await a.campaign() is False
    await b.resign()
    await a.resign()


async def test_the_new_leader_is_told_so_it_can_poll_at_once(stores: tuple[Store, Store]) -> None:
    elected: list[str] = []
    a = Leadership(stores[0], on_elected=lambda: elected.append("a"))
    b = Leadership(stores[1], on_elected=lambda: elected.append("b"))
    await a.campaign()
    await b.campaign()
    await a.campaign()
    await a.resign()
    await b.campaign()
    assert elected == ["a", "b"]
    await b.resign()


async def test_run_campaigns_until_stopped_then_steps_down(stores: tuple[Store, Store]) -> None:
    a, b = Leadership(stores[0], interval=0.05), Leadership(stores[1], interval=0.05)
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.create_task(a.run(stop_a))
    await asyncio.sleep(0.1)
    task_b = asyncio.create_task(b.run(stop_b))
    await asyncio.sleep(0.2)
    assert (a.is_leader, b.is_leader) == (True, False)
    stop_a.set()
    await task_a
    for _ in range(40):
        if b.is_leader:
            break
        await asyncio.sleep(0.05)
    assert b.is_leader
    stop_b.set()
    await task_b
    assert not b.is_leader


LEADER_PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    from bridgeline.store import Store
    from bridgeline.sync.leader import Leadership

    async def main():
        store = await Store.open(sys.argv[1], migrate=False)
        leader = Leadership(store)
        print("leading" if await leader.campaign() else "following", flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


async def test_a_leader_killed_with_sigkill_loses_the_lock_with_its_process(
    stores: tuple[Store, Store], database_url: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", LEADER_PROCESS, database_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = ""
        while line.strip() not in ("leading", "following"):  # log lines come first
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line, "the leader process ended early"
        assert line.strip() == "leading"
        follower = Leadership(stores[1])
        assert await follower.campaign() is False
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
        deadline = time.monotonic() + 10
        while not await follower.campaign():  # PostgreSQL notices the closed session at once
            assert time.monotonic() < deadline, "the follower never took over"
            await asyncio.sleep(0.05)
        await follower.resign()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.postgres
async def test_a_leader_whose_connection_breaks_steps_down_and_a_follower_takes_over(
    postgres_url: str,
) -> None:
    first = await Store.open(postgres_url)
    second = await Store.open(postgres_url, migrate=False)
    try:
        await _connection_breaks(first, second)
    finally:
        await first.close()
        await second.close()


async def _connection_breaks(first: Store, second: Store) -> None:
    a, b = Leadership(first), Leadership(second)
    assert await a.campaign()
    async with second.engine.connect() as conn:
        schema = (await conn.execute(sa.text("SELECT current_schema()"))).scalar()
        key = advisory_key(LOCK_NAME, str(schema))
        killed = (
            await conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = :c AND objid = :o AND objsubid = 1"
                ),
                {"c": (key >> 32) & 0xFFFFFFFF, "o": key & 0xFFFFFFFF},
            )
        ).scalar()
        await conn.commit()
    assert killed == 1
    # the server releases it with the session, once the terminated backend has exited (it is told
    # to, not waited for): the follower takes over at one of its next campaigns
    deadline = time.monotonic() + 10
    while not await b.campaign():
        assert time.monotonic() < deadline, "the lock was never released"
        await asyncio.sleep(0.05)
    assert await a.campaign() is False  # and the old leader notices on its next check
    assert a.is_leader is False
    await b.resign()
    assert await a.campaign() is True  # a fresh connection, a new term
    assert a.terms == 2
    await a.resign()


async def test_two_installations_in_one_database_do_not_contend(
    database_url: str, other_database_url: str
) -> None:
    first = await Store.open(database_url)
    second = await Store.open(other_database_url)
    try:
        a, b = Leadership(first), Leadership(second)
        assert await a.campaign() and await b.campaign()
        await a.resign()
        await b.resign()
    finally:
        await first.close()
        await second.close()


async def _wait_to_lead(leadership: Leadership, timeout: float = 20.0) -> bool:
    """A lock dropped with its connection is free once the server has noticed the session end."""
    deadline = time.monotonic() + timeout
    while not await leadership.campaign():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.mark.parametrize("steps", range(6))
async def test_a_step_down_cancelled_halfway_lets_go_and_may_be_repeated(
    stores: tuple[Store, Store], steps: int
) -> None:
    """A stop cancels the campaign wherever it is, also halfway through the unlock statement: the
    lock still goes, and stepping down again (as the service does on its way out) does not fail."""
    a, b = Leadership(stores[0]), Leadership(stores[1])
    assert await a.campaign() is True
    task = asyncio.create_task(a.resign())
    for _ in range(steps):  # into the statement as far as this many turns of the loop take it
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await a.resign()
    assert a.is_leader is False
    assert await _wait_to_lead(b)
    await b.resign()
    assert await _wait_to_lead(a)
    await a.resign()

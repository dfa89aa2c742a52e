"""Queue semantics: capped exponential backoff with jitter, dead letters after the configured number
of attempts holding the last error, a poisoned release that never holds the others up, the newest
state winning over events that arrive mid-sync, leases that come back from a killed replica and a
worker that stops writing once its lease is gone."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from bridgeline.model import EntityRef, Event, utcnow
from bridgeline.store import Store
from bridgeline.sync.service import Service
from bridgeline.sync.worker import Worker

from .conftest import SmallWorld


@pytest.fixture
async def store(database_url: str):
    s = await Store.open(database_url)
    yield s
    await s.close()


async def test_retries_back_off_exponentially_with_jitter_up_to_the_cap(store: Store) -> None:
    refs = [EntityRef("jira", "version", str(10000 + n)) for n in range(30)]
    await store.enqueue([Event(r) for r in refs])
    initial, cap = 0.01, 0.08
    for attempt in range(1, 7):
        claims: list = []
        while len(claims) < len(refs):  # every entity is due again once its backoff has passed
            claims += await store.claim("w", limit=100, lease_seconds=60)
            await asyncio.sleep(0.01)
        for claim in claims:
            assert claim.attempts == attempt - 1
            state = await store.fail(
                claim,
                f"boom {attempt}",
                permanent=False,
                max_attempts=99,
                backoff_initial=initial,
                backoff_max=cap,
            )
            assert state == "pending"
        rows = [r for r in await store.inbox_rows(limit=100) if r.state == "pending"]
        delays = [(r.next_attempt_at - r.updated_at).total_seconds() for r in rows]
        ceiling = min(cap, initial * 2 ** (attempt - 1))
        assert all(ceiling / 2 - 1e-3 <= d <= ceiling + 1e-3 for d in delays), (attempt, delays)
        assert len({round(d, 6) for d in delays}) > 10  # jitter: the entities do not retry in step
        assert all(r.last_error == f"boom {attempt}" for r in rows)


async def test_the_last_attempt_makes_a_dead_letter_holding_the_last_error(store: Store) -> None:
    ref = EntityRef("jira", "version", "10001")
    await store.enqueue([Event(ref)])
    states = []
    for attempt in range(1, 4):
        [claim] = await store.claim("w", limit=1, lease_seconds=60)
        states.append(
            await store.fail(
                claim,
                f"attempt {attempt} failed",
                permanent=False,
                max_attempts=3,
                backoff_initial=0.001,
                backoff_max=0.001,
            )
        )
        await asyncio.sleep(0.01)
    assert states == ["pending", "pending", "dead"]
    row = await store.inbox_row(str(ref))
    assert row is not None and row.state == "dead" and row.attempts == 3
    assert row.last_error == "attempt 3 failed"
    assert await store.claim("w", limit=1, lease_seconds=60) == []  # dead letters are not retried


def _poisoned_mapping(folder: Path, version_id: str) -> None:
    """The chaos mapping, with a short description that cannot render for one release, retried
    (``on_error: fail``) rather than dead-lettered at once."""
    path = folder / "release.yaml"
    text = path.read_text()
    text = text.replace(
        'short_description: "Release {{ project.key }} {{ version.name }}"',
        "short_description:\n"
        "    value: \"{{ '' if version.id == '" + version_id + "' else 'Release ' ~ version.name }}\"\n"
        "    required: true",
    )
    text = text.replace(
        "target:\n  system: servicenow\n  record: change_request",
        "on_error: fail\ntarget:\n  system: servicenow\n  record: change_request",
        1,
    )
    path.write_text(text)


async def test_a_release_that_keeps_failing_ends_as_a_dead_letter_and_never_holds_up_the_others(
    small_world: SmallWorld, database_url: str, chaos_mappings: Path
) -> None:
    versions = small_world.versions()
    poisoned = versions[2]["id"]
    _poisoned_mapping(chaos_mappings, poisoned)
    settings = small_world.settings(
        database_url, chaos_mappings, worker={"backoff_initial": 1.0, "backoff_max": 1.0}
    )
    service = await Service.start(settings)
    try:
        first = await service.sync_once()
        # after one pass every other release is in ServiceNow; the poisoned one waits to retry
        assert len(small_world.change_requests()) == len(versions) - 1
        row = await service.store.inbox_row(f"jira:version:{poisoned}")
        assert row is not None and row.state == "pending" and row.attempts < 3
        assert first.dead == 0
        for _ in range(60):
            await asyncio.sleep(0.1)
            await service.drain()
            row = await service.store.inbox_row(f"jira:version:{poisoned}")
            assert row is not None
            if row.state == "dead":
                break
        assert row.state == "dead" and row.attempts == 3  # worker.max_attempts
        assert "short_description" in (row.last_error or "")
        audit = [a for a in await service.store.recent_audit(limit=50) if a.action == "dead_letter"]
        assert [a.entity for a in audit] == [f"jira:version:{poisoned}"]
    finally:
        await service.aclose()


async def test_the_newest_state_wins_when_an_event_arrives_while_the_release_syncs(
    small_world: SmallWorld, database_url: str, chaos_mappings: Path
) -> None:
    service = await Service.start(small_world.settings(database_url, chaos_mappings))
    version = small_world.versions()[0]
    ref = EntityRef("jira", "version", version["id"])
    try:
        small_world.snow_gate.hold("POST", "/api/now/table/change_request")  # the create hangs
        await service.store.enqueue([Event(ref)])
        first = asyncio.create_task(service.drain())
        await asyncio.to_thread(small_world.snow_gate.waiting.wait, 10)
        with small_world.jira.state.lock:
            small_world.jira.state.versions[int(version["id"])].name = "renamed mid-sync"
        await service.store.enqueue([Event(ref, source="webhook")])  # Jira says so meanwhile
        assert await service.store.claim("other-replica", limit=10, lease_seconds=60) == []
        small_world.snow_gate.opened.set()
        await first
        await service.drain()
        [change] = [
            c for c in small_world.change_requests() if c["correlation_id"].endswith(f":{version['id']}")
        ]
        assert change["short_description"] == "Release PAY renamed mid-sync"
        row = await service.store.inbox_row(str(ref))
        assert row is not None and row.state == "done"
        actions = [a.action for a in await service.store.recent_audit(limit=500) if a.entity == str(ref)]
        assert actions.count("create") == 1 and actions.count("update") == 1
    finally:
        small_world.snow_gate.opened.set()
        await service.aclose()


async def test_a_worker_that_outlived_its_lease_stops_before_it_writes(
    small_world: SmallWorld, database_url: str, chaos_mappings: Path
) -> None:
    service = await Service.start(
        small_world.settings(database_url, chaos_mappings, worker={"lease_seconds": 0.3})
    )
    version = small_world.versions()[0]
    ref = EntityRef("jira", "version", version["id"])
    try:
        await service.store.enqueue([Event(ref)])
        # this replica claimed the release, then stalled (a long pause) past its lease ...
        [stale] = await service.store.claim("stalled-replica", limit=1, lease_seconds=0.05)
        await asyncio.sleep(0.1)
        # ... and another replica took the release over
        [taken] = await service.store.claim("other-replica", limit=1, lease_seconds=60)
        # the stalled one, still running, is slow to read the release from Jira (a new change request
        # is created without a look-up first: the read is what comes before the create)
        small_world.jira.faults.update({"latency_ms": 1000})
        worker = Worker(service.store, service.engine, service.settings.worker, worker_id="stalled-replica")
        try:
            assert await worker.handle(stale) == "lost"  # it noticed at its first lease renewal
        finally:
            small_world.jira.faults.update({"latency_ms": 0})
        await asyncio.sleep(1.5)
        assert small_world.change_requests() == []  # and gave up: no create went out
        row = await service.store.inbox_row(str(ref))
        assert row is not None and row.claimed_by == "other-replica" and row.state == "pending"
        assert await service.store.complete(taken)
    finally:
        small_world.snow_gate.opened.set()
        await service.aclose()


CLAIMER = textwrap.dedent(
    """
    import asyncio, sys
    from bridgeline.store import Store

    async def main():
        store = await Store.open(sys.argv[1], migrate=False)
        claims = await store.claim("doomed-replica", limit=10, lease_seconds=float(sys.argv[2]))
        print(f"claimed {len(claims)}", flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


async def test_a_replica_killed_mid_claim_gives_its_work_back_when_the_lease_ends(
    store: Store, database_url: str
) -> None:
    refs = [EntityRef("jira", "version", str(n)) for n in (1, 2, 3)]
    await store.enqueue([Event(r) for r in refs])
    lease = 1.5
    proc = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, database_url, str(lease)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == "claimed 3"
        killed_at = utcnow()
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
        assert await store.claim("survivor", limit=10, lease_seconds=60) == []  # still leased
        taken: list = []
        while len(taken) < 3:
            taken += await store.claim("survivor", limit=10, lease_seconds=60)
            assert utcnow() - killed_at < timedelta(seconds=lease + 5)
            await asyncio.sleep(0.05)
        assert sorted(c.ref for c in taken) == sorted(refs)
        for claim in taken:
            assert await store.complete(claim)
        assert (await store.queue_depth()) == {"done": 3}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()

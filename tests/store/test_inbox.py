"""The inbox: coalescing per entity, leases, retries with backoff, dead letters, replay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bridgeline.model import EntityRef, Event, utcnow
from bridgeline.store import Store

V1 = EntityRef("jira", "version", "10001")
V2 = EntityRef("jira", "version", "10002")


@pytest.fixture
async def store(database_url: str):
    s = await Store.open(database_url)
    yield s
    await s.close()


async def test_events_for_one_entity_coalesce_into_one_unit_of_work(store: Store) -> None:
    await store.enqueue([Event(V1), Event(V1), Event(V2), Event(V1)])
    claims = await store.claim("w1", limit=10, lease_seconds=60)
    assert sorted(str(c.ref) for c in claims) == [str(V1), str(V2)]
    assert {str(c.ref): c.events for c in claims} == {str(V1): 3, str(V2): 1}


async def test_a_claimed_entity_is_not_given_to_another_worker(store: Store) -> None:
    await store.enqueue([Event(V1)])
    assert len(await store.claim("w1", limit=10, lease_seconds=60)) == 1
    await store.enqueue([Event(V1)])  # a new event while w1 works on it
    assert await store.claim("w2", limit=10, lease_seconds=60) == []


async def test_event_during_processing_keeps_the_entity_pending(store: Store) -> None:
    await store.enqueue([Event(V1)])
    [claim] = await store.claim("w1", limit=10, lease_seconds=60)
    await store.enqueue([Event(V1)])
    assert await store.complete(claim) is False  # stale: something changed meanwhile
    [again] = await store.claim("w1", limit=10, lease_seconds=60)
    assert await store.complete(again) is True
    assert await store.queue_depth() == {"done": 1}


async def test_expired_lease_gives_the_work_back(store: Store) -> None:
    await store.enqueue([Event(V1)])
    [claim] = await store.claim("dead-replica", limit=10, lease_seconds=0.05)
    await asyncio.sleep(0.1)
    [taken] = await store.claim("w2", limit=10, lease_seconds=60)
    assert taken.ref == V1
    assert await store.complete(claim) is False  # the dead replica's late answer changes nothing
    assert await store.complete(taken) is True


async def test_failures_back_off_then_become_dead_letters(store: Store) -> None:
    await store.enqueue([Event(V1)])
    [claim] = await store.claim("w1", limit=10, lease_seconds=60)
    state = await store.fail(
        claim, "boom", permanent=False, max_attempts=2, backoff_initial=60, backoff_max=600
    )
    assert state == "pending"
    assert await store.claim("w1", limit=10, lease_seconds=60) == []  # backing off
    row = await store.inbox_row(str(V1))
    assert row is not None and row.next_attempt_at > utcnow() + timedelta(seconds=25)
    # A new event does not cut the backoff short: a failing target is not hammered.
    await store.enqueue([Event(V1)])
    assert await store.claim("w1", limit=10, lease_seconds=60) == []


async def test_retry_after_is_respected(store: Store) -> None:
    await store.enqueue([Event(V1)])
    [claim] = await store.claim("w1", limit=10, lease_seconds=60)
    await store.fail(
        claim, "429", permanent=False, max_attempts=5, backoff_initial=0.01, backoff_max=0.01, retry_after=120
    )
    row = await store.inbox_row(str(V1))
    assert row is not None and row.next_attempt_at > utcnow() + timedelta(seconds=110)


async def test_dead_letter_keeps_its_error_and_can_be_replayed_or_dropped(store: Store) -> None:
    await store.enqueue([Event(V1), Event(V2)])
    c1, c2 = await store.claim("w1", limit=10, lease_seconds=60)
    assert (
        await store.fail(
            c1,
            "mapping 'x', field 'risk': no such key",
            permanent=True,
            max_attempts=5,
            backoff_initial=1,
            backoff_max=1,
        )
        == "dead"
    )
    assert await store.complete(c2)  # the poisoned entity does not block the other
    [dead] = await store.inbox_rows(state="dead")
    assert dead.entity == str(c1.ref) and "risk" in (dead.last_error or "")
    assert await store.replay(dead.entity) is True
    [again] = await store.claim("w1", limit=10, lease_seconds=60)
    assert again.ref == c1.ref and again.attempts == 0
    await store.fail(again, "still broken", permanent=True, max_attempts=5, backoff_initial=1, backoff_max=1)
    assert await store.drop(dead.entity) is True
    assert await store.inbox_rows(state="dead") == []


async def test_new_event_revives_a_dead_letter(store: Store) -> None:
    await store.enqueue([Event(V1)])
    [claim] = await store.claim("w1", limit=10, lease_seconds=60)
    await store.fail(claim, "x", permanent=True, max_attempts=1, backoff_initial=1, backoff_max=1)
    await store.enqueue([Event(V1)])  # the source changed again: maybe the cause is fixed
    [again] = await store.claim("w1", limit=10, lease_seconds=60)
    assert again.attempts == 0


async def test_duplicate_webhook_deliveries_are_stored_once(store: Store) -> None:
    assert await store.enqueue([Event(V1, source="webhook", delivery_id="abc")]) == 1
    assert await store.enqueue([Event(V1, source="webhook", delivery_id="abc")]) == 0
    [claim] = await store.claim("w1", limit=10, lease_seconds=60)
    assert claim.events == 1


async def test_cursor_and_marks_are_stored_with_the_events(store: Store) -> None:
    await store.enqueue(
        [Event(V1)],
        cursor=("jira:issues", "1700000000000"),
        marks={str(V1): ("jira:project:PAY:versions", "h1")},
    )
    assert await store.get_cursor("jira:issues") == "1700000000000"
    assert await store.get_marks("jira:project:PAY:versions") == {str(V1): "h1"}
    assert await store.get_marks_for([str(V1), str(V2)]) == {str(V1): "h1"}


async def test_concurrent_claims_never_share_an_entity(store: Store) -> None:
    await store.enqueue([Event(EntityRef("jira", "version", str(i))) for i in range(40)])
    results = await asyncio.gather(*(store.claim(f"w{i}", limit=7, lease_seconds=60) for i in range(6)))
    claimed = [str(c.ref) for batch in results for c in batch]
    assert len(claimed) == len(set(claimed)) == 40


async def test_old_delivery_ids_are_forgotten_recent_ones_kept(store: Store) -> None:
    await store.enqueue([Event(V1, source="webhook", delivery_id="old")])
    assert await store.prune_deliveries(timedelta(seconds=-1)) == 1  # everything is older than the future
    assert await store.enqueue([Event(V1, source="webhook", delivery_id="old")]) == 1  # accepted anew
    assert await store.prune_deliveries(timedelta(days=7)) == 0
    assert await store.enqueue([Event(V1, source="webhook", delivery_id="old")]) == 0

"""Links, snapshots and audit rows."""

from __future__ import annotations

import pytest

from bridgeline.model import AuditEntry, EntityRef, Link, Snapshot, TargetRef
from bridgeline.store import Store


@pytest.fixture
async def store(database_url: str):
    s = await Store.open(database_url)
    yield s
    await s.close()


def _link(key: str = "jira:version:1", parent_id: int | None = None, **fields: str) -> Link:
    return Link(
        mapping="release",
        key=key,
        source=EntityRef.parse(key.split("/")[-1]),
        target=TargetRef("servicenow", "change_request", "a" * 32, "CHG0030001", "http://x"),
        correlation_id=f"corr-{key}",
        pushed=Snapshot.of(fields or {"short_description": "Release 1"}),
        parent_id=parent_id,
    )


async def test_a_link_round_trips_and_updates_in_place(store: Store) -> None:
    saved = await store.record(link=_link(), audit=[AuditEntry(action="create", entity="jira:version:1")])
    assert saved is not None and saved.id is not None
    got = await store.get_link("release", "jira:version:1")
    assert got is not None
    assert got.target.number == "CHG0030001" and got.pushed.fields == {"short_description": "Release 1"}
    got.pushed = Snapshot.of({"short_description": "Release 1.1"})
    await store.record(link=got)
    again = await store.get_link("release", "jira:version:1")
    assert again is not None and again.id == saved.id
    assert again.pushed.hash == Snapshot.of({"short_description": "Release 1.1"}).hash
    assert await store.count_links() == 1


async def test_children_are_listed_under_their_parent(store: Store) -> None:
    parent = await store.record(link=_link())
    assert parent is not None
    for i in (1, 2):
        await store.record(link=_link(f"jira:version:1/tasks/jira:issue:{i}", parent_id=parent.id))
    kids = await store.children_of(parent.id or 0)
    assert [k.source for k in kids] == [EntityRef("jira", "issue", "1"), EntityRef("jira", "issue", "2")]
    assert await store.count_links(top_level=True) == 1
    assert await store.count_links(top_level=False) == 2


async def test_audit_rows_come_back_newest_first(store: Store) -> None:
    await store.audit(
        [
            AuditEntry(action="create", entity="a"),
            AuditEntry(action="update", entity="a", fields={"state": "-4"}),
        ]
    )
    rows = await store.recent_audit(limit=10)
    assert [r.action for r in rows] == ["update", "create"]
    assert rows[0].fields == {"state": "-4"}
    assert await store.count_audit(actions=["update"]) == 1


async def test_snapshot_diff_sends_only_changed_fields() -> None:
    snap = Snapshot.of({"a": "1", "b": "2"})
    assert snap.diff({"a": "1", "b": "3", "c": "4"}) == {"b": "3", "c": "4"}
    assert snap.diff({"a": "1", "b": "2"}) == {}


async def test_an_action_begun_is_not_done_until_recorded(store: Store) -> None:
    from bridgeline.store import AppliedAction

    action = AppliedAction("m/rule/comment/PAY-1/CHG1/approval=approved", "rule", "comment")
    other = "m/rule/comment/PAY-2/CHG1/approval=approved"
    assert await store.action_states([action.key, other]) == {}
    await store.begin_action(action)
    assert await store.action_states([action.key, other]) == {action.key: "started"}
    await store.record(applied=[action])
    assert await store.action_states([action.key, other]) == {action.key: "done"}
    assert await store.action_states([]) == {}


async def test_a_record_and_the_events_it_gives_rise_to_are_stored_together(store: Store) -> None:
    from bridgeline.model import Event

    woken: list[bool] = []
    store.on_enqueue(lambda: woken.append(True))
    link = Link(
        mapping="m",
        key="jira:version:1",
        source=EntityRef.parse("jira:version:1"),
        target=TargetRef("servicenow", "change_request", "abc", "CHG0001"),
        correlation_id="bridgeline:m:jira:version:1",
        pushed=Snapshot.of({"short_description": "x"}),
    )
    await store.record(
        link=link, events=[Event(EntityRef("servicenow", "change_request", "abc"), source="create")]
    )
    assert woken == [True]
    (claim,) = await store.claim("w", limit=5, lease_seconds=60)
    assert str(claim.ref) == "servicenow:change_request:abc" and claim.source == "create"
    assert (await store.link_by_target("servicenow", "abc")) is not None

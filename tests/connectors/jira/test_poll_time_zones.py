"""The searching user's time zone cannot make the poller miss a change or see one twice.

JQL date literals are read in the searching user's zone at minute precision; bridgeline searches
with epoch milliseconds and remembers ``updated`` as epoch milliseconds. Here bridgeline's Jira
account lives ten hours ahead of UTC, then eight behind, while issues change a millisecond around
the cursor and around the user's local midnight.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridgeline.connectors.jira import JiraClient
from bridgeline.connectors.jira.changes import issues_cursor_name
from bridgeline.store import Store

from .conftest import Jira, make_poller, settle, write_mappings
from .test_polling import assert_every_issue_marked, project_issues

ZONES = {"UTC+10": "Australia/Brisbane", "UTC-8": "America/Los_Angeles"}
OTHER = {"UTC+10": "America/Los_Angeles", "UTC-8": "Australia/Brisbane"}


def next_local_midnight(after_ms: int, zone: str) -> int:
    local = datetime.fromtimestamp(after_ms / 1000, ZoneInfo(zone))
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


@pytest.mark.parametrize("offset", list(ZONES))
async def test_changes_around_the_cursor_and_local_midnight_are_each_seen_once(
    jira: Jira, client: JiraClient, store: Store, tmp_path: Path, offset: str
) -> None:
    zone = ZONES[offset]
    jira.control("users/bridgeline", {"timeZone": zone})
    assert (await client.myself())["timeZone"] == zone
    # a winter instant after every seeded change, so Los Angeles is at -8 and Brisbane at +10
    now = int(time.time() * 1000) + 86_400_000
    while datetime.fromtimestamp(now / 1000, ZoneInfo("America/Los_Angeles")).utcoffset() != timedelta(
        hours=-8
    ):
        now += 30 * 86_400_000
    midnight = next_local_midnight(now, zone)
    jira.control("clock", {"freeze": True, "at": midnight - 120_000})
    poller = make_poller(client, store, write_mappings(tmp_path, issues=True), projects=["OPS"], overlap=5)
    await poller.poll()
    await settle(store)
    ops = [i for i in project_issues(jira).values() if i["key"].startswith("OPS-")]
    issues = [i["key"] for i in ops]
    ids = {i["key"]: i["id"] for i in ops}
    x1, x2, x3, x4, x5 = issues[:5]

    def touch(key: str, at_ms: int) -> None:
        jira.control(f"issues/{key}/updated", {"updated": at_ms})

    async def poll() -> set[str]:
        await poller.poll()
        return {ids_by_entity[e] for e in await settle(store, "issue")}

    ids_by_entity = {f"jira:issue:{v}": k for k, v in ids.items()}

    # the last millisecond of the user's day, and half a minute before it
    touch(x1, midnight - 1)
    touch(x2, midnight - 30_000)
    assert await poll() == {x1, x2}
    assert await store.get_cursor(issues_cursor_name(["OPS"])) == str(midnight - 1)

    # exactly at local midnight; exactly at the cursor; two seconds behind it (indexed late)
    touch(x3, midnight)
    touch(x4, midnight - 1)
    touch(x5, midnight - 2_000)
    assert await poll() == {x3, x4, x5}

    assert await poll() == set(), "nothing changed: nothing enqueued again"

    jira.control("users/bridgeline", {"timeZone": OTHER[offset]})
    assert await poll() == set(), "the same instants written in another zone are not changes"

    touch(x1, midnight + 60_001)
    assert await poll() == {x1}
    await assert_every_issue_marked(store, jira, "OPS")

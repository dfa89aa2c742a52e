"""Benchmark-sized instances: tens of thousands of records, queries answered from indexes."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from bridgeline.sim.servicenow import ServiceNowSimulator

CHANGES = "/api/now/table/change_request"
COUNT = 20_000


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[ServiceNowSimulator, httpx.Client]]:
    sim = ServiceNowSimulator(seed=5)
    sim.clock.freeze(sim.clock.now().replace(year=2025, month=3, day=1, hour=0, minute=0, second=0))
    batch = []
    for i in range(COUNT):
        batch.append({"short_description": f"Release {i}", "correlation_id": f"jira:version:{i}"})
        if len(batch) == 1000:
            sim.insert_many("change_request", batch, user="bridgeline.integration")
            sim.clock.advance(60)  # a thousand changes per minute
            batch = []
    with sim.serve() as server, httpx.Client(base_url=server.url, auth=("admin", "admin")) as api:
        yield sim, api
    sim.close()


def _median_seconds(api: httpx.Client, queries: list[str]) -> float:
    timings = []
    for text in queries:
        started = time.perf_counter()
        response = api.get(CHANGES, params={"sysparm_query": text, "sysparm_fields": "number"})
        timings.append(time.perf_counter() - started)
        assert len(response.json()["result"]) == 1
    return statistics.median(timings)


def test_lookups_by_correlation_id_and_number_use_indexes(
    big: tuple[ServiceNowSimulator, httpx.Client],
) -> None:
    _, api = big
    picks = [17, 4_242, 9_999, 15_000, 19_998] * 4
    indexed = _median_seconds(api, [f"correlation_id=jira:version:{i}" for i in picks])
    by_number = _median_seconds(api, [f"number=CHG{30007 + i:07d}" for i in picks])
    scanned = _median_seconds(api, [f"short_description=Release {i}" for i in picks])  # no index on it
    assert indexed * 3 < scanned and by_number * 3 < scanned


def test_polling_pages_through_a_time_window(big: tuple[ServiceNowSimulator, httpx.Client]) -> None:
    _, api = big
    since = "2025-03-01 00:17:00"  # the 18th thousand onwards
    seen: list[str] = []
    offset = 0
    while True:
        response = api.get(
            CHANGES,
            params={
                "sysparm_query": f"sys_updated_on>={since}^ORDERBYsys_updated_on",
                "sysparm_limit": 1000,
                "sysparm_offset": offset,
                "sysparm_fields": "correlation_id",
            },
        )
        page = [r["correlation_id"] for r in response.json()["result"]]
        seen += page
        if len(page) < 1000:
            break
        offset += 1000
    assert response.headers["X-Total-Count"] == "3000"
    assert seen == [f"jira:version:{i}" for i in range(17_000, 20_000)]

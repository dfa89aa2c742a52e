"""A rate limit is waited out: calls refused with 429 wait as the server asks, all of them at once,
and none fails because the limit refused it more often than a call is retried for other errors."""

from __future__ import annotations

import asyncio
import time

import httpx

from bridgeline.connectors.http import HttpClient, RetryPolicy
from bridgeline.sim.servicenow import ServiceNowSimulator

LIMIT = 10  # calls per second, the simulator's rate limit rule
CALLS = 30


async def test_calls_beyond_a_rate_limit_wait_for_it_instead_of_failing() -> None:
    sim = ServiceNowSimulator(rate_limit=LIMIT)
    with sim.serve() as served:
        # two attempts for other errors: a refused call would fail on its second refusal otherwise
        retry = RetryPolicy(attempts=2, initial=0.01, maximum=0.05, total=30)
        auth = httpx.BasicAuth("admin", "admin")
        client = HttpClient("servicenow", served.url, auth=auth, max_concurrency=8, retry=retry)
        started = time.monotonic()
        try:
            one = {"sysparm_limit": 1}
            answers = await asyncio.gather(
                *(client.get_json("/api/now/table/sys_user", params=one) for _ in range(CALLS))
            )
        finally:
            await client.aclose()
        elapsed = time.monotonic() - started
    assert all(a["result"] for a in answers)
    assert sim.limiter.denied > 0  # the limit did refuse calls; they were waited out
    # No faster than the limit allows. The windows are whole seconds of the clock, so 30 calls at
    # 10 a window touch three windows, of which the first may end just after the start and the last
    # be entered at once: two windows' time less a moment is the least that can pass.
    assert elapsed > CALLS / LIMIT - 2

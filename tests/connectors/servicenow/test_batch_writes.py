"""Task writes through the Batch API, and a change request's create answered with what the way back
reads, against the simulator over a socket."""

from __future__ import annotations

from bridgeline.connectors.servicenow import ServiceNowTarget
from bridgeline.connectors.target import BatchWrite
from bridgeline.errors import NotFound, RateLimited
from bridgeline.model import TargetRef, WriteResult

from .conftest import Snow

CORR = "jira:PAY:version:10042"


async def test_a_create_answers_the_record_as_reverse_rules_read_it(
    table: ServiceNowTarget, snow: Snow
) -> None:
    created = await table.create(
        "change_request", {"short_description": "Release PAY 1.4"}, correlation_id=CORR
    )
    assert snow.calls() == 1  # the create, and nothing else
    assert created.seen == await table.read(created.target)


async def test_a_create_through_the_change_api_answers_it_too(change_api: ServiceNowTarget) -> None:
    created = await change_api.create("change_request", {"short_description": "Release"}, correlation_id=CORR)
    read = await change_api.read(created.target)
    assert created.seen is not None
    assert {k: created.seen[k] for k in ("state", "raw_state", "approval", "number")} == {
        k: read[k] for k in ("state", "raw_state", "approval", "number")
    }


async def test_task_creates_and_updates_go_in_one_call_and_fail_one_by_one(
    table: ServiceNowTarget, snow: Snow
) -> None:
    change = await table.create("change_request", {"short_description": "Release"}, correlation_id=CORR)
    task = await table.create(
        "change_task", {"short_description": "t0"}, correlation_id="c0", parent=change.target
    )
    gone = TargetRef("servicenow", "change_task", "0" * 32)
    ops = [
        BatchWrite.create(
            "change_task", {"short_description": "t1", "state": "open"}, "c1", change.target, {}
        ),
        BatchWrite.update(task.target, {"short_description": "t0 again"}, {}),
        BatchWrite.update(gone, {"short_description": "nobody"}, {}),
    ]
    snow.sim.state.clear_calls()
    created, updated, missing = await table.write_batch(ops) or []
    assert snow.calls() == 1 and snow.calls("POST", "/api/now/v1/batch") == 1
    assert isinstance(created, WriteResult) and created.action == "create"
    row = snow.sim.state.get("change_task", created.target.id)
    assert row["change_request"] == change.target.id and row["correlation_id"] == "c1" and row["state"] == "1"
    assert (
        isinstance(updated, WriteResult)
        and snow.sim.state.get("change_task", task.target.id)["short_description"] == "t0 again"
    )
    assert isinstance(missing, NotFound)


async def test_an_item_over_the_rate_limit_comes_back_as_rate_limited(
    table: ServiceNowTarget, snow: Snow
) -> None:
    change = await table.create("change_request", {"short_description": "Release"}, correlation_id=CORR)
    snow.sim.settings.update({"rate_limit": 2, "rate_limit_window": 3600})
    ops = [
        BatchWrite.create("change_task", {"short_description": f"t{n}"}, f"c{n}", change.target, {})
        for n in range(3)
    ]
    answers = await table.write_batch(ops) or []
    assert [type(a) for a in answers] == [WriteResult, RateLimited, RateLimited]  # the batch itself is one
    assert all(isinstance(a, RateLimited) and a.retry_after for a in answers[1:])


async def test_an_instance_without_the_batch_api_is_asked_once(snow: Snow) -> None:
    snow.sim.settings.batch_api = False
    target = snow.target(api="table")
    try:
        change = await target.create("change_request", {"short_description": "Release"}, correlation_id=CORR)
        op = BatchWrite.create("change_task", {"short_description": "t"}, "c", change.target, {})
        assert await target.write_batch([op]) is None
        assert await target.write_batch([op]) is None
        assert snow.calls("POST", "/api/now/v1/batch") == 1
    finally:
        await target.aclose()

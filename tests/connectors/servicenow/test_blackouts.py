"""Blackout schedules read from ServiceNow (cmn_schedule of type blackout, cmn_schedule_span), with the
transport mocked (respx): times in the schedule's zone, repeats, schedules not named left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import respx

from bridgeline.connectors.http import HttpClient
from bridgeline.connectors.servicenow import ServiceNowClient
from bridgeline.connectors.servicenow.blackouts import blackout_periods, occurrence_at, schedule_time

BASE = "https://acme.service-now.test"
NOW = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)


def client() -> ServiceNowClient:
    return ServiceNowClient(HttpClient("servicenow", BASE, auth=httpx.BasicAuth("u", "p")))


@respx.mock
async def test_the_spans_of_the_named_blackout_schedules_in_force_now() -> None:
    schedules = respx.get(f"{BASE}/api/now/table/cmn_schedule").mock(
        return_value=httpx.Response(
            200,
            json={
                "result": [
                    {"sys_id": "s1", "name": "Year-end", "type": "blackout", "time_zone": "Europe/Berlin"}
                ]
            },
        )
    )
    spans = respx.get(f"{BASE}/api/now/table/cmn_schedule_span").mock(
        return_value=httpx.Response(
            200,
            json={
                "result": [
                    {"schedule": "s1", "name": "Holidays", "start_date_time": "20261221T000000",
                     "end_date_time": "20270104T000000", "repeat_type": ""},
                    {"schedule": "s1", "name": "Past", "start_date_time": "20261201T000000",
                     "end_date_time": "20261202T000000", "repeat_type": ""},
                    {"schedule": "s1", "name": "Fridays", "start_date_time": "20261204T180000",
                     "end_date_time": "20261205T060000", "repeat_type": "weekly"},
                ]
            },
        )
    )  # fmt: skip
    found = await blackout_periods(client(), ["Year-end", "Other"], NOW)
    query = schedules.calls.last.request.url.params["sysparm_query"]
    assert query == "type=blackout^nameINYear-end,Other"
    assert spans.calls.last.request.url.params["sysparm_query"] == "scheduleINs1"
    assert [(b.schedule, b.name) for b in found] == [("Year-end", "Holidays")]
    assert found[0].start == datetime(2026, 12, 20, 23, 0, tzinfo=UTC)  # midnight in Berlin
    assert found[0].end == datetime(2027, 1, 3, 23, 0, tzinfo=UTC)


@respx.mock
async def test_no_names_no_calls_and_a_star_reads_every_blackout_schedule() -> None:
    route = respx.get(f"{BASE}/api/now/table/cmn_schedule").mock(
        return_value=httpx.Response(200, json={"result": []})
    )
    assert await blackout_periods(client(), [], NOW) == []
    assert route.call_count == 0
    assert await blackout_periods(client(), ["*"], NOW) == []
    assert route.calls.last.request.url.params["sysparm_query"] == "type=blackout"


def test_repeating_spans() -> None:
    friday = datetime(2026, 12, 4, 18, tzinfo=UTC)
    weekend = (friday, friday + timedelta(hours=60))
    assert occurrence_at(*weekend, "weekly", None, datetime(2026, 12, 19, 12, tzinfo=UTC)) == (
        datetime(2026, 12, 18, 18, tzinfo=UTC),
        datetime(2026, 12, 21, 6, tzinfo=UTC),
    )
    assert occurrence_at(*weekend, "weekly", None, datetime(2026, 12, 16, 12, tzinfo=UTC)) is None
    assert (
        occurrence_at(*weekend, "weekly", date(2026, 12, 10), datetime(2026, 12, 19, 12, tzinfo=UTC)) is None
    )
    night = (datetime(2026, 1, 1, 22, tzinfo=UTC), datetime(2026, 1, 2, 2, tzinfo=UTC))
    assert occurrence_at(*night, "daily", None, datetime(2026, 6, 1, 23, tzinfo=UTC)) is not None
    new_year = (datetime(2025, 12, 31, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    assert occurrence_at(*new_year, "yearly", None, datetime(2027, 1, 1, 12, tzinfo=UTC)) is not None
    assert occurrence_at(*new_year, "", None, datetime(2027, 1, 1, 12, tzinfo=UTC)) is None


def test_schedule_times_as_servicenow_writes_them() -> None:
    assert schedule_time("20261221T180000", UTC) == datetime(2026, 12, 21, 18, tzinfo=UTC)
    assert schedule_time("2026-12-21 18:00:00", UTC) == datetime(2026, 12, 21, 18, tzinfo=UTC)
    assert schedule_time("someday", UTC) is None

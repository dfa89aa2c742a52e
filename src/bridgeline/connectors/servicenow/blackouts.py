"""ServiceNow blackout schedules: the periods in which the instance's change policy forbids changes.

A blackout schedule is a ``cmn_schedule`` record of type ``blackout``; its periods are the
``cmn_schedule_span`` records pointing at it (``schedule``), each with ``start_date_time`` and
``end_date_time`` as ServiceNow writes schedule times (``20261221T000000``, in the schedule's
``time_zone``; empty: UTC) and an optional ``repeat_type`` (``daily``, ``weekly``, ``yearly``)
until ``repeat_until`` (a date, ``20270131``). ::

    spans = await blackout_periods(client, ["Year-end blackout"], now)
    [Blackout(schedule="Year-end blackout", name="Holidays", start=..., end=...)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridgeline.connectors.servicenow.client import ServiceNowClient
from bridgeline.log import get_logger

log = get_logger("bridgeline.servicenow")

SCHEDULE_FIELDS = ("sys_id", "name", "type", "time_zone")
SPAN_FIELDS = (
    "sys_id",
    "schedule",
    "name",
    "start_date_time",
    "end_date_time",
    "repeat_type",
    "repeat_until",
)
_STEP = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


@dataclass(frozen=True, slots=True)
class Blackout:
    """One occurrence of a blackout span, in UTC."""

    schedule: str
    name: str
    start: datetime
    end: datetime


def schedule_time(text: str, zone: tzinfo) -> datetime | None:
    """``20261221T180000`` (or ``2026-12-21 18:00:00``) in ``zone`` -> an aware UTC datetime."""
    value = text.strip()
    for pattern in ("%Y%m%dT%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y%m%d"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=zone).astimezone(UTC)
        except ValueError:
            continue
    return None


def _zone(name: str) -> tzinfo:
    if not name.strip():
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("blackout schedule with an unknown time zone is read as UTC", time_zone=name)
        return UTC


def occurrence_at(
    start: datetime, end: datetime, repeat: str, until: date | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """The occurrence of a (possibly repeating) span that holds ``now``, if one does."""
    if repeat in _STEP:
        step = _STEP[repeat]
        if now < start:
            return None
        k = (now - start) // step
        begins = start + k * step
        if until is not None and begins.date() > until:
            return None
        return (begins, begins + (end - start)) if begins <= now < begins + (end - start) else None
    if repeat == "yearly":
        for years in (now.year - start.year - 1, now.year - start.year):
            if years < 0:
                continue
            try:
                begins = start.replace(year=start.year + years)
            except ValueError:  # 29 February
                continue
            if until is not None and begins.date() > until:
                continue
            if begins <= now < begins + (end - start):
                return begins, begins + (end - start)
        return None
    return (start, end) if start <= now < end else None


async def blackout_periods(client: ServiceNowClient, names: Sequence[str], now: datetime) -> list[Blackout]:
    """The blackout occurrences in force at ``now`` from the schedules named (``["*"]``: all)."""
    if not names:
        return []
    query = "type=blackout"
    if "*" not in names:
        query += "^nameIN" + ",".join(n.replace(",", "") for n in names)
    schedules = await client.all("cmn_schedule", query, fields=list(SCHEDULE_FIELDS), limit=200)
    if not schedules:
        return []
    by_id = {str(s["sys_id"]): s for s in schedules}
    spans = await client.all(
        "cmn_schedule_span", "scheduleIN" + ",".join(by_id), fields=list(SPAN_FIELDS), limit=2000
    )
    found: list[Blackout] = []
    for span in spans:
        schedule = by_id.get(str(span.get("schedule") or ""))
        if schedule is None:
            continue
        zone = _zone(str(schedule.get("time_zone") or ""))
        start = schedule_time(str(span.get("start_date_time") or ""), zone)
        end = schedule_time(str(span.get("end_date_time") or ""), zone)
        if start is None or end is None or end <= start:
            continue
        until_at = schedule_time(str(span.get("repeat_until") or ""), zone)
        repeat = str(span.get("repeat_type") or "").strip().lower()
        hit = occurrence_at(start, end, repeat, until_at.date() if until_at else None, now)
        if hit is not None:
            found.append(Blackout(str(schedule.get("name") or ""), str(span.get("name") or ""), *hit))
    return found

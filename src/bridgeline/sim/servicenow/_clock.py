"""The simulator's clock: real time by default, frozen or shifted on demand through ``/_sim/clock``.

Everything time-stamped (``sys_updated_on``, token expiry, journal entries, query literals like
``gs.daysAgo(1)``) reads this clock, so tests can move time instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

SN_FORMAT = "%Y-%m-%d %H:%M:%S"


def sn_datetime(moment: datetime) -> str:
    """``2025-03-01 14:05:09``: ServiceNow's UTC date-time wire format."""
    return moment.astimezone(UTC).strftime(SN_FORMAT)


def parse_sn_datetime(text: str) -> datetime | None:
    """Read a date-time the way ServiceNow accepts it in values and queries; naive means UTC.

    Accepts ``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DD`` and ISO 8601 (``T``, ``Z``, offsets).
    """
    text = text.strip()
    if not text:
        return None
    candidate = text.replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Clock:
    """Wall-clock time plus an offset, or a frozen instant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta()
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def freeze(self, moment: datetime) -> None:
        with self._lock:
            self._frozen = moment.astimezone(UTC).replace(microsecond=0)

    def resume(self) -> None:
        """Back to real time (the offset is dropped too)."""
        with self._lock:
            self._frozen = None
            self._offset = timedelta()

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            frozen = self._frozen is not None
            offset = self._offset.total_seconds()
        return {"now": sn_datetime(self.now()), "frozen": frozen, "offset_seconds": offset}

"""Detecting what changed in ServiceNow: change requests and change tasks bridgeline owns.

A poll reads ``sys_updated_on>=<cursor - overlap>^ORDERBYsys_updated_on`` (UTC, second
precision: the overlap re-reads the edge, and records updated during a poll are caught next
time), keeps only records bridgeline owns (the caller says which: its links), and drops what it
has already seen by ``(sys_id, sys_mod_count)``. Nothing here writes anywhere: the caller stores
the events, the marks and the cursor in one transaction. Changes made by bridgeline's own account
are marked as seen but not enqueued (they would only echo back).

Notifications from the Business Rule in ``integrations/servicenow/`` are checked and turned into
the same events by :func:`verify_notification` and :func:`notification_event`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridgeline.connectors.servicenow.client import ServiceNowClient
from bridgeline.model import EntityRef, Event

SN_FORMAT = "%Y-%m-%d %H:%M:%S"
TABLES = ("change_request", "change_task")
POLL_FIELDS = ("sys_id", "number", "sys_updated_on", "sys_updated_by", "sys_mod_count")

MarkLookup = Callable[[Sequence[str]], Awaitable[dict[str, str]]]
Owned = Callable[[str, Sequence[str]], Awaitable[set[str]]]  # (table, sys_ids) -> the ones bridgeline owns


NOTIFICATION_KEYS = ("number", "operation", "sys_mod_count", "sys_updated_on", "sys_updated_by")
MAX_SYS_ID = 128  # real ones are 32 hex digits; anything longer names no record


@dataclass
class PollResult:
    """What one poll found: events to append, marks to remember, the cursor to advance - stored together."""

    events: list[Event] = field(default_factory=list)
    marks: dict[str, tuple[str, str]] = field(default_factory=dict)
    cursor: tuple[str, str] | None = None
    seen: int = 0


def cursor_name(table: str) -> str:
    return f"servicenow:{table}"


def mark_scope(table: str) -> str:
    return f"servicenow:{table}"


def parse_sn_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), SN_FORMAT).replace(tzinfo=UTC)


class ServiceNowChanges:
    """Change detection for change requests and change tasks."""

    def __init__(
        self,
        client: ServiceNowClient,
        *,
        overlap_seconds: float = 120.0,
        own_user: str | None = None,
        page_size: int = 200,
        tables: Sequence[str] = TABLES,
    ) -> None:
        self.client = client
        self.overlap = timedelta(seconds=overlap_seconds)
        self.own_user = own_user
        self.page_size = page_size
        self.tables = tuple(tables)

    def query(self, cursor: str | None) -> str:
        conditions = ["correlation_idISNOTEMPTY"]
        if cursor:
            since = parse_sn_time(cursor) - self.overlap
            conditions.insert(0, f"sys_updated_on>={since.strftime(SN_FORMAT)}")
        return "^".join(conditions) + "^ORDERBYsys_updated_on"

    async def poll(self, table: str, cursor: str | None, lookup: MarkLookup, owned: Owned) -> PollResult:
        """What changed in ``table`` since ``cursor`` (a ``sys_updated_on`` value; None: from the start)."""
        result = PollResult()
        rows = [
            row
            async for row in self.client.query(
                table, self.query(cursor), fields=POLL_FIELDS, page_size=self.page_size
            )
        ]
        result.seen = len(rows)
        newest = cursor or ""
        for row in rows:
            updated = str(row.get("sys_updated_on") or "")
            if updated > newest:  # the format sorts as text
                newest = updated
        mine = await owned(table, [str(r["sys_id"]) for r in rows]) if rows else set()
        entities = {str(r["sys_id"]): str(EntityRef("servicenow", table, str(r["sys_id"]))) for r in rows}
        known = await lookup(list(entities.values())) if entities else {}
        for row in rows:
            sys_id = str(row["sys_id"])
            if sys_id not in mine:
                continue  # not a record bridgeline made: none of its business
            entity = entities[sys_id]
            mark = str(row.get("sys_mod_count") or "0")
            if known.get(entity) == mark:
                continue
            result.marks[entity] = (mark_scope(table), mark)
            if (
                self.own_user
                and row.get("sys_updated_by") == self.own_user
                and _one_more(known.get(entity), mark)
            ):
                # exactly one update since the last poll, and it was bridgeline's own write: an echo.
                # (Skipping on the last updater alone would lose a CAB decision followed by a write of ours.)
                continue
            result.events.append(Event(EntityRef.parse(entity), source="poll"))
        if newest:
            result.cursor = (cursor_name(table), newest)
        return result


def _one_more(previous: str | None, current: str) -> bool:
    try:
        return previous is not None and int(current) == int(previous) + 1
    except ValueError:
        return False


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, body)>``, as the Business Rule signs."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_notification(
    body: bytes,
    *,
    signature_header: str | None,
    authorization: str | None,
    secret: str | None,
    token: str | None,
) -> bool:
    """True when the call carries a valid signature or the shared bearer token (constant-time)."""
    expected = signature(secret, body) if secret else ""
    if expected and signature_header and hmac.compare_digest(expected, signature_header.strip()):
        return True
    if token and authorization:
        scheme, _, given = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    return False


def notification_event(payload: Any, *, delivery_id: str | None) -> Event:
    """The inbox event for one notification; raises ValueError when it is not one."""
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    table, sys_id = payload.get("table"), payload.get("sys_id")
    if table not in TABLES:
        raise ValueError(f"'table' must be one of {', '.join(TABLES)}")
    if not isinstance(sys_id, str) or not sys_id.strip():
        raise ValueError("'sys_id' is missing")
    if len(sys_id.strip()) > MAX_SYS_ID:
        raise ValueError(
            f"'sys_id' is {len(sys_id.strip())} characters long; ServiceNow's are 32 "
            f"(at most {MAX_SYS_ID} accepted)"
        )
    hint = {k: payload[k] for k in NOTIFICATION_KEYS if k in payload}
    return Event(
        EntityRef("servicenow", str(table), sys_id.strip()),
        source="webhook",
        hint=hint,
        delivery_id=_delivery_key(delivery_id) if delivery_id else None,
    )


def _delivery_key(delivery_id: str) -> str:
    """The de-duplication key of a delivery id; a long one is kept as its hash (same id, same key)."""
    key = f"servicenow:{delivery_id}"
    return (
        key
        if len(key) <= 200
        else "servicenow:" + hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()
    )

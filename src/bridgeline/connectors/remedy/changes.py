"""Detecting what changed in Remedy: the changes bridgeline made, by ``Last Modified Date``.

A poll reads ``'Vendor Ticket Number' != $NULL$ AND 'Last Modified Date' >= "<epoch s>"`` (the
cursor minus an overlap: dates have second precision, and two writes in one second share one),
keeps only the changes bridgeline owns (the caller says which), and drops what it has already seen
by a hash of what it read (status, reason, window, last modification) - not by the date alone,
which a second write in the same second would not move. Changes last written by bridgeline's own
login are marked seen, not enqueued. Events are ``remedy:change:<Request ID>``.

Not seen by polling: a signature that leaves the change as it is (one of several approvers when
all must sign); the change moves, and is seen, once the CAB's decision is complete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bridgeline.connectors.remedy.client import RemedyClient
from bridgeline.model import EntityRef, Event, content_hash

CHANGE = "CHG:Infrastructure Change"
MARK_SCOPE = "remedy:change"
# what a poll reads of each change; its hash is the mark
POLL_FIELDS = (
    "Request ID",
    "Infrastructure Change ID",
    "Change Request Status",
    "Status Reason",
    "Scheduled Start Date",
    "Scheduled End Date",
    "Last Modified Date",
    "Last Modified By",
)

MarkLookup = Callable[[Sequence[str]], Awaitable[dict[str, str]]]
Owned = Callable[[str, Sequence[str]], Awaitable[set[str]]]


@dataclass
class PollResult:
    """What one poll found: events to append, marks to remember, the cursor to advance - stored together."""

    events: list[Event] = field(default_factory=list)
    marks: dict[str, tuple[str, str]] = field(default_factory=dict)
    cursor: tuple[str, str] | None = None
    seen: int = 0


def parse_ar_time(text: str) -> datetime:
    """``2019-01-28T11:19:29.000+0000`` -> an aware datetime."""
    return datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S.%f%z")


class RemedyChanges:
    cursor_name = "remedy:change"

    def __init__(
        self,
        client: RemedyClient,
        *,
        overlap_seconds: float = 120.0,
        page_size: int = 200,
    ) -> None:
        self.client = client
        self.overlap = int(overlap_seconds)
        self.page_size = page_size

    def qualification(self, cursor: str | None) -> str:
        q = "'Vendor Ticket Number' != $NULL$"
        if cursor:
            q += f" AND 'Last Modified Date' >= \"{max(0, int(cursor) - self.overlap)}\""
        return q

    async def poll(self, cursor: str | None, lookup: MarkLookup, owned: Owned) -> PollResult:
        """Changes modified since ``cursor`` (epoch seconds; None: from the start)."""
        result = PollResult()
        rows = [
            values
            async for values in self.client.entries(
                CHANGE,
                self.qualification(cursor),
                fields=POLL_FIELDS,
                sort="Last Modified Date.asc",
                page_size=self.page_size,
            )
        ]
        result.seen = len(rows)
        newest = int(cursor) if cursor else 0
        for values in rows:
            if values.get("Last Modified Date"):
                newest = max(newest, int(parse_ar_time(str(values["Last Modified Date"])).timestamp()))
        ids = [str(v["Request ID"]) for v in rows]
        mine = await owned("change", ids) if rows else set()
        entities = {i: str(EntityRef("remedy", "change", i)) for i in ids}
        known = await lookup(list(entities.values())) if entities else {}
        for values in rows:
            request_id = str(values["Request ID"])
            if request_id not in mine:
                continue
            entity = entities[request_id]
            mark = content_hash(values)
            if known.get(entity) == mark:
                continue
            result.marks[entity] = (MARK_SCOPE, mark)
            # Remedy keeps no update counter: whether others wrote between two of our writes cannot be
            # told from the last modifier, so every change is an event; the engine recognises echoes
            # (what it wrote itself) with one read and no Jira call.
            result.events.append(Event(EntityRef.parse(entity), source="poll"))
        if newest:
            result.cursor = (self.cursor_name, str(newest))
        return result

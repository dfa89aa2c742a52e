"""Replay and drop of dead letters from the status page and the API, audited with who asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridgeline import metrics
from bridgeline.server.auth import Caller

if TYPE_CHECKING:
    from bridgeline.sync.service import Service

ACTIONS = ("replay", "drop")


async def dead_letter_action(
    service: Service, action: str, entity: str | None, *, every: bool, asked_by: Caller
) -> dict[str, Any]:
    """Replay or drop one dead letter (or all of them); each one done gets an audit row naming
    ``asked_by`` (``replay asked by session:alex from 10.0.0.5``)."""
    store = service.store
    entities = (
        [r.entity for r in await store.inbox_rows(state="dead", limit=100000)] if every else [entity or ""]
    )
    who = asked_by.describe()
    done: list[str] = []
    for e in entities:
        act = store.replay if action == "replay" else store.drop
        if await act(e, asked_by=who):
            done.append(e)
            metrics.DEAD_LETTER_ACTIONS.labels(action).inc()
    return {"action": action, "done": done, "missing": [e for e in entities if e not in done]}

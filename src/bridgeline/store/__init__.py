"""bridgeline's state: the inbox, links, cursors, source marks and the audit log (SQL)."""

from __future__ import annotations

from bridgeline.store.locks import ProcessLock
from bridgeline.store.store import AppliedAction, Claim, InboxRow, Store, async_url, redact_url

__all__ = ["AppliedAction", "Claim", "InboxRow", "ProcessLock", "Store", "async_url", "redact_url"]

"""What the sync engine needs from an ITSM system, whichever it is (ServiceNow, Remedy).

Records are addressed by :class:`~bridgeline.model.TargetRef`; ``kind`` names the record type in
the system's own words (``change_request``, ``change_task``; Remedy ``change``, ``task``), and
``options`` carry the mapping's target settings (API, change type, template) as plain values.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from bridgeline.model import TargetRef, WriteResult


@runtime_checkable
class TargetConnector(Protocol):
    system: str

    async def find(
        self,
        kind: str,
        correlation_id: str,
        *,
        parent: TargetRef | None = None,
        options: dict[str, Any] | None = None,
    ) -> WriteResult | None:
        """The record carrying ``correlation_id`` (under ``parent``, for a child), if one exists
        (action ``adopt``)."""

    async def create(
        self,
        kind: str,
        fields: dict[str, Any],
        *,
        correlation_id: str,
        parent: TargetRef | None = None,
        options: dict[str, Any] | None = None,
    ) -> WriteResult:
        """Create a record. Must not create a second one when a first attempt's outcome was unknown."""

    async def update(
        self, ref: TargetRef, fields: dict[str, Any], *, options: dict[str, Any] | None = None
    ) -> WriteResult:
        """Write ``fields`` (only those) to an existing record."""

    async def retire(
        self, ref: TargetRef, action: str, fields: dict[str, Any], *, options: dict[str, Any] | None = None
    ) -> WriteResult:
        """Cancel or close a record whose source went away (``action``: cancel | close)."""

    async def read(self, ref: TargetRef) -> dict[str, Any]:
        """The record as it stands, normalized for reverse rules (see docs/mappings.md, ``target``)."""

    def record_url(self, ref: TargetRef) -> str:
        """A URL a person can open to see the record."""

    async def aclose(self) -> None: ...

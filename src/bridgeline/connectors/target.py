"""What the sync engine needs from an ITSM system, whichever it is (ServiceNow, Remedy).

Records are addressed by :class:`~bridgeline.model.TargetRef`; ``kind`` names the record type in
the system's own words (``change_request``, ``change_task``; Remedy ``change``, ``task``), and
``options`` carry the mapping's target settings (API, change type, template) as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from bridgeline.model import TargetRef, WriteResult


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """One write of several sent together (``write_batch``): a create under a parent, or an update."""

    action: Literal["create", "update"]
    kind: str
    fields: dict[str, Any]
    correlation_id: str | None = None
    parent: TargetRef | None = None
    ref: TargetRef | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        kind: str,
        fields: dict[str, Any],
        correlation_id: str,
        parent: TargetRef,
        options: dict[str, Any],
    ) -> BatchWrite:
        return cls("create", kind, fields, correlation_id=correlation_id, parent=parent, options=options)

    @classmethod
    def update(cls, ref: TargetRef, fields: dict[str, Any], options: dict[str, Any]) -> BatchWrite:
        return cls("update", ref.kind, fields, ref=ref, options=options)


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

    # Optional, where the system takes several writes in one call (ServiceNow's Batch API):
    #   async def write_batch(self, ops: list[BatchWrite]) -> list[WriteResult | BaseException] | None
    # each write's result or error, in order; None when the instance takes no batches.

    def record_url(self, ref: TargetRef) -> str:
        """A URL a person can open to see the record."""

    async def aclose(self) -> None: ...

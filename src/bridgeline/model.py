"""The small shared vocabulary every package speaks.

An :class:`EntityRef` names one thing in one system (``jira:version:10042``,
``servicenow:change_request:9d3f...``). The inbox holds :class:`Event` s about entity refs;
a :class:`Link` ties a source entity to the target record bridgeline made for it, with the
:class:`Snapshot` of what was last pushed; a :class:`WriteResult` says what a connector did.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

System = Literal["jira", "servicenow", "remedy"]
SYSTEMS: tuple[System, ...] = ("jira", "servicenow", "remedy")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, order=True, slots=True)
class EntityRef:
    """One entity in one system: ``EntityRef("jira", "version", "10042")``.

    Its string form ``jira:version:10042`` is the inbox key and the link key.
    """

    system: str
    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.system}:{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> EntityRef:
        """``EntityRef.parse("jira:version:10042")``; ids may themselves contain colons."""
        system, kind, ident = text.split(":", 2)
        if not (system and kind and ident):
            raise ValueError(f"not an entity reference: {text!r} (expected system:kind:id)")
        return cls(system, kind, ident)


@dataclass(frozen=True, slots=True)
class Event:
    """Something changed about ``ref``; the engine reads the current state itself.

    ``hint`` may carry the webhook payload, used only when provably as fresh as what was seen.
    """

    ref: EntityRef
    source: str = "poll"  # poll | webhook | replay | cli
    received_at: datetime = field(default_factory=utcnow)
    hint: dict[str, Any] | None = None
    delivery_id: str | None = None  # webhook delivery identifier, for de-duplication


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no whitespace; the input to every snapshot hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (hex, 64 characters)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A record's fields as bridgeline last pushed (or last saw) them, with their hash."""

    fields: dict[str, Any]
    hash: str

    @classmethod
    def of(cls, fields: dict[str, Any]) -> Snapshot:
        return cls(dict(fields), content_hash(fields))

    def diff(self, desired: dict[str, Any]) -> dict[str, Any]:
        """The fields of ``desired`` whose value differs from this snapshot."""
        return {k: v for k, v in desired.items() if k not in self.fields or self.fields[k] != v}


@dataclass(frozen=True, slots=True)
class TargetRef:
    """A record in a target system: its key (sys_id, Remedy request id) and human number."""

    system: str
    kind: str
    id: str
    number: str | None = None
    url: str | None = None


@dataclass(slots=True)
class Link:
    """Source entity -> the target record bridgeline made for it under one mapping.

    ``key`` is unique within the mapping: the source entity for a top-level record
    (``jira:version:10042``), parent and child for a child record
    (``jira:version:10042/tasks/jira:issue:10001``), since an issue in two releases gets two tasks.
    """

    mapping: str
    key: str
    source: EntityRef
    target: TargetRef
    correlation_id: str
    pushed: Snapshot
    seen: Snapshot | None = None
    parent_id: int | None = None
    state: str = "active"  # active | retired (the source left, e.g. issue removed from the release)
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


WriteAction = Literal["create", "update", "adopt", "noop", "transition", "comment", "link", "retire"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a connector did to a target record, and the record as it now stands."""

    action: WriteAction
    target: TargetRef
    fields: dict[str, Any] = field(default_factory=dict)  # what was sent
    record: dict[str, Any] = field(default_factory=dict)  # what the target answered
    # the record as reverse rules see it (``TargetConnector.read``), when the write's own answer
    # carried all of it: the way back of a new record need not read it again
    seen: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One thing bridgeline did (or decided not to do), for the audit log and the status page."""

    action: str  # create | update | adopt | noop | retire | transition | comment | ... | error | dead
    entity: str
    mapping: str | None = None
    target_system: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    target_number: str | None = None
    fields: dict[str, Any] | None = None
    outcome: str = "ok"  # ok | error | skipped
    detail: str | None = None
    duration_ms: float | None = None
    at: datetime = field(default_factory=utcnow)
    id: int | None = None

    @classmethod
    def of(cls, link: Link, action: str, **rest: Any) -> AuditEntry:
        """An entry about ``link``'s record: its entity (unless ``rest`` names another), mapping
        and target filled in."""
        t = link.target
        about: dict[str, Any] = {"entity": link.key, "mapping": link.mapping, "target_system": t.system}
        about.update(target_kind=t.kind, target_id=t.id, target_number=t.number)
        return cls(action=action, **{**about, **rest})

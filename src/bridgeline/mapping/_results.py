"""What a mapping says: the desired target record(s) and the Jira actions the target's state asks for.

These are plain frozen values; the sync engine decides what to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RemoveAction = Literal["cancel", "close", "keep"]
ActionKind = Literal[
    "transition", "comment", "remote_link", "label", "field", "release_version",
    "version_description", "version_property", "issue_property",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """Where a record goes: ``TargetSpec("servicenow", "change_request", api="table", type="normal")``."""

    system: str
    record: str
    api: str | None = None
    type: str | None = None
    template: str | None = None


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What a mapping reads and which of those entities it applies to."""

    system: str
    entity: str
    projects: tuple[str, ...] | None = None
    issue_types: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None
    when: str | None = None


@dataclass(frozen=True, slots=True)
class RemovePolicy:
    """What to do with a child record whose source left (issue removed from the release).

    ``fields`` are already rendered (with the parent's context) and in the target's format.
    """

    action: RemoveAction
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """A children block of a mapping: its name, target and removal policy."""

    name: str
    target: TargetSpec
    on_remove: RemoveAction
    for_each: str


@dataclass(frozen=True, slots=True)
class RenderedChild:
    """One desired child record, e.g. the change task of one issue of the release."""

    group: str
    source_key: str  # EntityRef string of the item, e.g. "jira:issue:10001"
    identity: str
    target: TargetSpec
    fields: dict[str, Any]
    on_remove: RemovePolicy
    provenance: dict[str, str] = field(default_factory=dict)
    write: dict[str, str] = field(default_factory=dict)  # field -> when it is sent, when not always


@dataclass(frozen=True, slots=True)
class Rendered:
    """The desired target record of one source entity under one mapping, with its children."""

    mapping: str
    target: TargetSpec
    identity: str
    fields: dict[str, Any]
    provenance: dict[str, str]  # field -> which rule produced it
    children: list[RenderedChild]
    on_remove: dict[str, RemovePolicy] = field(default_factory=dict)  # group -> policy for vanished items
    conflicts: dict[str, str] = field(default_factory=dict)  # field -> declared conflict policy
    write: dict[str, str] = field(default_factory=dict)  # field -> once | until_approved (else always)


@dataclass(frozen=True, slots=True)
class ReverseAction:
    """One Jira write the target's state asks for; ``key`` is applied once (idempotency)."""

    rule: str
    kind: ActionKind
    scope: Literal["issue", "version"]
    issue_key: str | None
    version_id: str | None
    params: dict[str, Any]
    key: str

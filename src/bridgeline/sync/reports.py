"""What processing one entity did, for the demo, the status page and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridgeline.model import EntityRef
from bridgeline.sync.reconcile import Outcome


@dataclass
class MappingResult:
    mapping: str
    outcome: Outcome | None = None
    children: list[Outcome] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class EntityReport:
    """What processing one entity did."""

    ref: EntityRef
    results: list[MappingResult] = field(default_factory=list)
    note: str | None = None
    jira_writes: list[str] = field(default_factory=list)  # reverse actions applied, by key

    @property
    def writes(self) -> int:
        n = len(self.jira_writes)
        for r in self.results:
            for o in ([r.outcome] if r.outcome else []) + r.children:
                n += o.action != "noop"
        return n

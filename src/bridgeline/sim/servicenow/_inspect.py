"""``sim.state``: what tests and benchmarks read back without going through the API.

::

    sim.state.change("CHG0030007")["state"]                  # "-4"
    sim.state.journal(change_sys_id, element="work_notes")   # appended notes, oldest first
    sim.state.approvals("CHG0030007")                        # the CAB's approval records
    sim.state.count_calls("GET", "/api/now/table/change_request")
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from bridgeline.sim.servicenow._query import EvalContext, compile_query, parse

if TYPE_CHECKING:
    from bridgeline.sim.servicenow._simulator import ServiceNowSimulator

Row = dict[str, str]


class SimState:
    """Read access to the simulated instance's tables and its API call log (rows are copies)."""

    def __init__(self, sim: ServiceNowSimulator) -> None:
        self._sim = sim
        self._calls_lock = threading.Lock()
        self.calls: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.call_counts: Counter[str] = Counter()

    @property
    def tables(self) -> list[str]:
        return list(self._sim.store.defs)

    def records(self, table: str, query: str | None = None) -> list[Row]:
        """Every row of ``table`` (optionally filtered by an encoded query), in insertion order."""
        sim = self._sim
        with sim.lock:
            compiled = compile_query(
                parse(query), sim.store.defs[table], sim.store, EvalContext(sim.clock.now())
            )
            rows = sim.store.storage(table).rows
            return [dict(rows[i]) for i in sim.store.select(table, compiled)]

    def get(self, table: str, sys_id: str) -> Row | None:
        with self._sim.lock:
            row = self._sim.store.get(table, sys_id)
            return dict(row) if row else None

    def find(self, table: str, **fields: str) -> list[Row]:
        query = "^".join(f"{name}={value}" for name, value in fields.items())
        return self.records(table, query)

    def change(self, number: str) -> Row | None:
        found = self.find("change_request", number=number)
        return found[0] if found else None

    def task(self, number: str) -> Row | None:
        found = self.find("change_task", number=number)
        return found[0] if found else None

    def journal(
        self, sys_id: str | None = None, *, element: str | None = None, table: str | None = None
    ) -> list[Row]:
        """Journal entries (work notes, comments), oldest first."""
        conditions = {k: v for k, v in (("element_id", sys_id), ("element", element), ("name", table)) if v}
        return self.find("sys_journal_field", **conditions)

    def approvals(self, change: str) -> list[Row]:
        """The approval records of a change, by number or sys_id."""
        row = self.change(change) or self.get("change_request", change)
        return self.find("sysapproval_approver", sysapproval=row["sys_id"]) if row else []

    def log_call(self, entry: dict[str, Any]) -> None:
        with self._calls_lock:
            self.calls.append(entry)
            self.call_counts[f"{entry['method']} {entry['route']}"] += 1

    def count_calls(self, method: str | None = None, route: str | None = None) -> int:
        """API calls seen, by method and/or normalised path (sys_ids read ``{sys_id}``)."""
        with self._calls_lock:
            total = 0
            for key, count in self.call_counts.items():
                verb, _, path = key.partition(" ")
                if (method is None or verb == method) and (route is None or path == route):
                    total += count
            return total

    def clear_calls(self) -> None:
        with self._calls_lock:
            self.calls.clear()
            self.call_counts.clear()

    def calls_summary(self, limit: int = 100) -> dict[str, Any]:
        with self._calls_lock:
            recent = list(self.calls)[-limit:] if limit > 0 else []
            return {
                "total": sum(self.call_counts.values()),
                "by_route": dict(self.call_counts.most_common()),
                "recent": recent,
            }

    def dump(self, tables: list[str] | None = None) -> dict[str, Any]:
        with self._sim.lock:
            data = self._sim.store.dump()
        if tables:
            data["tables"] = {k: v for k, v in data["tables"].items() if k in tables}
        data.pop("random", None)
        return data

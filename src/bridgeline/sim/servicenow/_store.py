"""In-memory tables with the indexes benchmark-sized queries need.

Rows are plain ``dict[str, str]`` (every ServiceNow value is a string). Each root table keeps a
hash index per frequently queried field (number, correlation_id, the parent reference, ...) and a
sorted index on ``sys_updated_on``/``sys_created_on``, so ``correlation_id=X`` and
``sys_updated_on>=T`` stay fast with tens of thousands of records. Child tables
(``cmdb_ci_service``) live in their parent's storage and are told apart by ``sys_class_name``.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from typing import Any

from bridgeline.sim.servicenow._query import CompiledCondition, CompiledQuery
from bridgeline.sim.servicenow._schema import TableDef

Row = dict[str, str]
TIME_INDEXED = ("sys_updated_on", "sys_created_on")


class Table:
    """The rows of one root table, in insertion order, with their indexes."""

    def __init__(self, definition: TableDef, indexed: Iterable[str]) -> None:
        self.definition = definition
        self.rows: dict[str, Row] = {}
        self.seq: dict[str, int] = {}
        self._hash: dict[str, dict[str, set[str]]] = {name: {} for name in indexed}
        self._time: dict[str, list[tuple[str, int, str]]] = {name: [] for name in TIME_INDEXED}

    def _key(self, name: str, value: str) -> str:
        fdef = self.definition.fields.get(name)
        return fdef.norm(value) if fdef else value.lower()

    def _index(self, sys_id: str, row: Row, add: bool) -> None:
        seq = self.seq[sys_id]
        for name, index in self._hash.items():
            key = self._key(name, row.get(name, ""))
            if add:
                index.setdefault(key, set()).add(sys_id)
            else:
                bucket = index.get(key)
                if bucket is not None:
                    bucket.discard(sys_id)
                    if not bucket:
                        del index[key]
        for name, ordered in self._time.items():
            entry = (row.get(name, ""), seq, sys_id)
            if add:
                insort(ordered, entry)
            else:
                at = bisect_left(ordered, entry)
                if at < len(ordered) and ordered[at] == entry:
                    del ordered[at]

    def insert(self, row: Row, seq: int) -> None:
        sys_id = row["sys_id"]
        self.rows[sys_id] = row
        self.seq[sys_id] = seq
        self._index(sys_id, row, add=True)

    def update(self, sys_id: str, changes: Row) -> None:
        row = self.rows[sys_id]
        self._index(sys_id, row, add=False)
        row.update(changes)
        self._index(sys_id, row, add=True)

    def delete(self, sys_id: str) -> Row | None:
        row = self.rows.get(sys_id)
        if row is None:
            return None
        self._index(sys_id, row, add=False)
        del self.rows[sys_id]
        del self.seq[sys_id]
        return row

    def lookup(self, name: str, keys: Iterable[str]) -> set[str] | None:
        index = self._hash.get(name)
        if index is None:
            return None
        found: set[str] = set()
        for key in keys:
            found |= index.get(key, set())
        return found

    def time_range(self, cond: CompiledCondition) -> list[str] | None:
        ordered = self._time.get(cond.index_field or "")
        if ordered is None:
            return None
        start, end = 0, len(ordered)
        if cond.low is not None:
            bound, inclusive = cond.low
            start = (bisect_left if inclusive else bisect_right)(ordered, bound, key=lambda e: e[0])
        if cond.high is not None:
            bound, inclusive = cond.high
            end = (bisect_right if inclusive else bisect_left)(ordered, bound, key=lambda e: e[0])
        return [entry[2] for entry in ordered[start:end]]


class Store:
    """All tables of the instance, the number counters and the sys_id generator."""

    def __init__(self, defs: dict[str, TableDef], seed: int) -> None:
        self.defs = defs
        self.tables: dict[str, Table] = {}
        for name, definition in defs.items():
            if definition.parent is None:
                indexed = {*definition.indexed}
                for child in defs.values():
                    if child.parent == name:
                        indexed |= set(child.indexed)
                self.tables[name] = Table(definition, sorted(indexed))
        self.counters = {name: d.number_start for name, d in defs.items() if d.number_prefix}
        self._random = random.Random(seed)
        self._seq = 0

    def new_sys_id(self) -> str:
        return f"{self._random.getrandbits(128):032x}"

    def next_number(self, table: str) -> str:
        definition = self.defs[table]
        number = self.counters[table]
        self.counters[table] = number + 1
        return f"{definition.number_prefix}{number:07d}"

    def storage(self, table: str) -> Table:
        return self.tables[self.defs[table].root]

    def _belongs(self, table: str, row: Row) -> bool:
        return self.defs[table].parent is None or row.get("sys_class_name") == table

    def get(self, table: str, sys_id: str) -> Row | None:
        row = self.storage(table).rows.get(sys_id)
        return row if row is not None and self._belongs(table, row) else None

    def rows(self, table: str) -> Iterator[Row]:
        for row in self.storage(table).rows.values():
            if self._belongs(table, row):
                yield row

    def insert(self, table: str, row: Row) -> Row:
        row.setdefault("sys_id", self.new_sys_id())
        self._seq += 1
        self.storage(table).insert(row, self._seq)
        return row

    def update(self, table: str, sys_id: str, changes: Row) -> None:
        self.storage(table).update(sys_id, changes)

    def delete(self, table: str, sys_id: str) -> Row | None:
        return self.storage(table).delete(sys_id)

    def find(self, table: str, name: str, value: str) -> list[Row]:
        """Rows whose field ``name`` equals ``value`` (case-insensitive), by index when there is one."""
        storage = self.storage(table)
        fdef = self.defs[table].fields.get(name)
        key = fdef.norm(value) if fdef else value.lower()
        ids = storage.lookup(name, [key])
        if ids is None:
            return [
                r for r in self.rows(table) if (fdef.norm(r.get(name, "")) if fdef else r.get(name)) == key
            ]
        found = [storage.rows[i] for i in ids if self._belongs(table, storage.rows[i])]
        return sorted(found, key=lambda r: storage.seq[r["sys_id"]])

    def select(self, table: str, query: CompiledQuery) -> list[str]:
        """sys_ids of the rows matching ``query``, in its order (insertion order by default)."""
        storage = self.storage(table)
        child = self.defs[table].parent is not None
        chosen: set[str] = set()
        for part in query.parts or [[]]:
            pool: Iterable[str] | None = self._plan(storage, part)
            if pool is None and child:
                pool = storage.lookup("sys_class_name", [table.lower()])
            for sys_id in storage.rows if pool is None else pool:
                row = storage.rows[sys_id]
                if (not child or row.get("sys_class_name") == table) and query.matches(part, row):
                    chosen.add(sys_id)
        ordered = sorted(chosen, key=storage.seq.__getitem__)
        for key, descending in reversed(query.order):
            ordered.sort(key=lambda i, k=key: k(storage.rows[i]), reverse=descending)  # type: ignore[misc]
        return ordered

    @staticmethod
    def _plan(storage: Table, part: list[list[CompiledCondition]]) -> Iterable[str] | None:
        """The smallest candidate set an index gives for one NQ part, or None for a full scan."""
        best: Iterable[str] | None = None
        best_size = len(storage.rows) + 1
        for term in part:
            if len(term) != 1 or term[0].index_field is None:
                continue
            cond = term[0]
            found: Iterable[str] | None = None
            if cond.keys is not None:
                found = storage.lookup(cond.index_field or "", cond.keys)
            elif cond.low is not None or cond.high is not None:
                found = storage.time_range(cond)
            if found is not None and len(found) < best_size:  # type: ignore[arg-type]
                best, best_size = found, len(found)  # type: ignore[arg-type]
        return best

    def dump(self) -> dict[str, Any]:
        tables = {}
        for name, storage in self.tables.items():
            tables[name] = sorted(storage.rows.values(), key=lambda r: storage.seq[r["sys_id"]])
        version, internal, gauss = self._random.getstate()
        return {
            "tables": tables,
            "counters": dict(self.counters),
            "seq": self._seq,
            "random": [version, list(internal), gauss],
        }

    def load(self, data: dict[str, Any]) -> None:
        for name, rows in data.get("tables", {}).items():
            if name not in self.tables:
                continue
            storage = Table(self.tables[name].definition, self.tables[name]._hash.keys())
            self.tables[name] = storage
            for row in rows:
                self._seq += 1
                storage.insert({k: str(v) for k, v in row.items()}, self._seq)
        self.counters.update({k: int(v) for k, v in data.get("counters", {}).items() if k in self.counters})
        self._seq = max(self._seq, int(data.get("seq", 0)))
        state = data.get("random")
        if state:
            self._random.setstate((state[0], tuple(state[1]), state[2]))

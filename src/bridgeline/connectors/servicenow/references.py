"""Reference fields by name: ``assignment_group: Payments Platform`` becomes the group's sys_id.

A mapping may give a reference as a sys_id (sent as is) or as a name; names are looked up once per
process and remembered, and concurrent writes asking for the same name share one lookup. A name
the instance does not know is an error a person must fix (a typo in a mapping, a renamed group),
so it is not remembered: once the group exists, a replay finds it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bridgeline.connectors.servicenow.client import ServiceNowClient
from bridgeline.errors import PermanentError

SYS_ID = re.compile(r"^[0-9a-f]{32}$")

# field -> (table, fields a name may match, tried in order)
REFERENCE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "assignment_group": ("sys_user_group", ("name",)),
    "cmdb_ci": ("cmdb_ci", ("name",)),
    "business_service": ("cmdb_ci_service", ("name",)),
    "assigned_to": ("sys_user", ("user_name", "name", "email")),
    "requested_by": ("sys_user", ("user_name", "name", "email")),
}


class ReferenceResolver:
    """Names -> sys_ids for the reference fields a mapping writes."""

    def __init__(self, client: ServiceNowClient) -> None:
        self.client = client
        self._known: dict[tuple[str, str], str] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[str]] = {}
        self.lookups = 0  # calls made, for tests and benchmarks

    def learn(self, field: str, name: str, sys_id: str) -> None:
        """Remember a name seen next to its sys_id (a record read with display values)."""
        if field in REFERENCE_FIELDS and name and SYS_ID.match(sys_id):
            self._known.setdefault((REFERENCE_FIELDS[field][0], name), sys_id)

    def known(self, field: str, name: str) -> str | None:
        """The sys_id a name stands for, if this process has met it."""
        if field not in REFERENCE_FIELDS:
            return None
        return self._known.get((REFERENCE_FIELDS[field][0], name))

    async def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with every reference given by name replaced by its sys_id."""
        out = dict(values)
        for name, value in values.items():
            if name in REFERENCE_FIELDS and isinstance(value, str) and value and not SYS_ID.match(value):
                out[name] = await self.sys_id(name, value)
        return out

    async def sys_id(self, field: str, name: str) -> str:
        table, keys = REFERENCE_FIELDS[field]
        key = (table, name)
        if key in self._known:
            return self._known[key]
        waiting = self._pending.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            found = await self._lookup(field, table, keys, name)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: callers that never came must not warn
            raise
        finally:
            self._pending.pop(key, None)
        self._known[key] = found
        future.set_result(found)
        return found

    async def _lookup(self, field: str, table: str, keys: tuple[str, ...], name: str) -> str:
        self.lookups += 1
        query = "^OR".join(f"{k}={_escape(name)}" for k in keys)
        rows = await self.client.all(table, query, fields=["sys_id", *keys], limit=5)
        for k in keys:  # the most specific key wins (a user_name over a display name)
            for row in rows:
                if str(row.get(k, "")).lower() == name.lower():
                    return str(row["sys_id"])
        raise PermanentError(
            f"servicenow: {field} names {name!r}, but no {table} record has that "
            f"{' or '.join(keys)}; correct the mapping or create it in ServiceNow"
        )


def _escape(value: str) -> str:
    """Encoded queries split on ``^``; a literal caret is written ``^^``."""
    return value.replace("^", "^^")

"""The Change Management API (``/api/sn_chg_rest/change``): typed creates, the state model, tasks.

Unlike the Table API it creates a change of a given model (``normal``, ``emergency``, or
``standard`` from a template), always in New; answers 200 on create; sends every field as
``{"value", "display_value"}`` (numbers and booleans typed); lists what it did not take in
``__meta.ignoredFields``; and tells which states may follow (``/nextstates``). Records come out of
this client flat, with string values, like the Table API's. ::

    api = ChangeApiClient(http)
    change = await api.create("normal", {"short_description": "Release PAY 1.4"})
    states = await api.next_states(change.record["sys_id"])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bridgeline.connectors.http import HttpClient

BASE = "/api/sn_chg_rest/change"


def flat_value(value: Any) -> str:
    """One Change API value as the Table API would send it (``-5.0`` -> ``"-5"``, ``True`` -> ``"true"``)."""
    if isinstance(value, dict):
        value = value.get("value")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flatten(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A Change API record -> (flat record of strings, fields the instance ignored)."""
    meta = record.get("__meta") or {}
    flat = {k: flat_value(v) for k, v in record.items() if k != "__meta"}
    return flat, [str(f) for f in meta.get("ignoredFields") or []]


@dataclass
class Written:
    """A record as the Change API answered a write, with what it ignored."""

    record: dict[str, Any]
    ignored: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # as answered: {"value", "display_value"} pairs


def _written(result: dict[str, Any]) -> Written:
    flat, ignored = flatten(result)
    return Written(flat, ignored, {k: v for k, v in result.items() if k != "__meta"})


@dataclass
class Transition:
    to_state: str
    available: bool
    failed_conditions: list[str]


@dataclass
class NextStates:
    """``/nextstates``: the current state and the transitions out of it."""

    current: str
    transitions: list[Transition]
    labels: dict[str, str]

    @property
    def available(self) -> list[str]:
        return [t.to_state for t in self.transitions if t.available]

    def transition(self, to_state: str) -> Transition | None:
        return next((t for t in self.transitions if t.to_state == to_state), None)

    def label(self, state: str) -> str:
        return self.labels.get(state, state)


class ChangeApiClient:
    """Calls of the Change Management API; no mapping or store knowledge."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def create(
        self, change_type: str, values: dict[str, Any], *, template: str | None = None
    ) -> Written:
        """A new change in New (``standard`` needs the template's sys_id). Not retried blindly."""
        if change_type == "standard":
            if not template:
                raise ValueError("a standard change needs a template sys_id")
            path, endpoint = f"{BASE}/standard/{template}", f"{BASE}/standard/{{template}}"
        else:
            path = endpoint = f"{BASE}/{change_type}"
        resp = await self.http.request("POST", path, json=values, endpoint=endpoint, idempotent=False)
        return _written(resp.json()["result"])

    async def query(self, query: str, *, limit: int = 100) -> list[dict[str, Any]]:
        body = await self.http.get_json(
            BASE, params={"sysparm_query": query, "sysparm_limit": limit}, endpoint=BASE
        )
        return [flatten(r)[0] for r in body.get("result") or []]

    async def get(self, sys_id: str) -> dict[str, Any]:
        body = await self.http.get_json(f"{BASE}/{sys_id}", endpoint=f"{BASE}/{{sys_id}}")
        return flatten(body["result"])[0]

    async def patch(self, sys_id: str, values: dict[str, Any]) -> Written:
        resp = await self.http.request(
            "PATCH", f"{BASE}/{sys_id}", json=values, endpoint=f"{BASE}/{{sys_id}}", idempotent=True
        )
        return _written(resp.json()["result"])

    async def next_states(self, sys_id: str) -> NextStates:
        path = f"{BASE}/{sys_id}/nextstates"
        body = await self.http.get_json(path, endpoint=f"{BASE}/{{sys_id}}/nextstates")
        result = body.get("result") or {}
        available = [flat_value(s) for s in result.get("available_states") or []]
        transitions: list[Transition] = []
        for group in result.get("state_transitions") or []:
            for t in group if isinstance(group, list) else [group]:
                failed = [
                    str((c.get("condition") or {}).get("name") or "a condition")
                    for c in t.get("conditions") or []
                    if not c.get("passed")
                ]
                ok = bool(t.get("transition_available", not failed))
                transitions.append(Transition(flat_value(t.get("to_state")), ok, failed))
        labels = {flat_value(k): str(v) for k, v in (result.get("state_label") or {}).items()}
        return NextStates(available[0] if available else "", transitions, labels)

    async def tasks(self, change_id: str, query: str = "", *, limit: int = 100) -> list[dict[str, Any]]:
        path = f"{BASE}/{change_id}/task"
        params: dict[str, Any] = {"sysparm_limit": limit}
        if query:
            params["sysparm_query"] = query
        body = await self.http.get_json(path, params=params, endpoint=f"{BASE}/{{sys_id}}/task")
        return [flatten(r)[0] for r in body.get("result") or []]

    async def create_task(self, change_id: str, values: dict[str, Any]) -> Written:
        resp = await self.http.request(
            "POST",
            f"{BASE}/{change_id}/task",
            json=values,
            endpoint=f"{BASE}/{{sys_id}}/task",
            idempotent=False,
        )
        return Written(*flatten(resp.json()["result"]))

    async def patch_task(self, change_id: str, task_id: str, values: dict[str, Any]) -> Written:
        resp = await self.http.request(
            "PATCH",
            f"{BASE}/{change_id}/task/{task_id}",
            json=values,
            endpoint=f"{BASE}/{{sys_id}}/task/{{task_id}}",
            idempotent=True,
        )
        return Written(*flatten(resp.json()["result"]))

    async def templates(self, query: str, *, fields: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Standard change templates (``std_change_record_producer``) matching an encoded query."""
        params: dict[str, Any] = {"sysparm_query": query, "sysparm_limit": 10}
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        body = await self.http.get_json(f"{BASE}/standard/template", params=params)
        return [flatten(r)[0] for r in body.get("result") or []]

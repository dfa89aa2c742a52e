"""One API call as the handlers see it, and the answer they give back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from bridgeline.sim.servicenow._errors import SimError
from bridgeline.sim.servicenow._query import EvalContext
from bridgeline.sim.servicenow._rules import User

# Parameters the APIs read themselves; anything else on a Change API URL is a field value.
RESERVED_PARAMS = frozenset({"api_version", "encrypted_fields", "order", "textSearch"})


@dataclass(slots=True)
class Call:
    method: str
    parts: list[str]  # path segments after the API prefix
    params: QueryParams
    body: bytes
    user: User
    base_url: str
    path: str

    def param(self, name: str) -> str | None:
        return self.params.get(name)

    def json_object(self, *, required: bool = True) -> dict[str, Any]:
        """The request body as a JSON object; ServiceNow's 400 when it is not one."""
        if not self.body.strip():
            if required:
                raise SimError(400, "Exception while reading request", "No request body provided")
            return {}
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SimError(400, "Exception while reading request", "The payload is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise SimError(400, "Exception while reading request", "The payload must be a JSON object.")
        return data

    def field_params(self) -> dict[str, str]:
        """URL parameters that name fields (the Change API accepts values in the query string)."""
        return {
            k: v for k, v in self.params.items() if not k.startswith("sysparm_") and k not in RESERVED_PARAMS
        }

    def eval_context(self, now: Any) -> EvalContext:
        return EvalContext(now=now, user_sys_id=self.user.sys_id, user_name=self.user.user_name)


@dataclass(slots=True)
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    items: list[dict[str, Any]] | None = None  # a batch's items, for the call log

    @classmethod
    def result(cls, result: Any, status: int = 200, **headers: str) -> Answer:
        return cls(status, {"result": result}, dict(headers))

    @classmethod
    def from_error(cls, error: SimError) -> Answer:
        return cls(error.status, error.body(), dict(error.headers))


def int_param(text: str | None, default: int, *, minimum: int = 0) -> int:
    if text is None or text.strip() == "":
        return default
    try:
        return max(minimum, int(float(text)))
    except ValueError:
        return default


def unknown_resource() -> SimError:
    return SimError(400, "Requested URI does not represent any resource", None)

"""The simulator's knobs: behaviour that differs between instances or that sources disagree on.

Most can be changed at run time through ``PUT /_sim/settings``; the choice lists
(``task_states``, ``risk_scale``) are fixed when the simulator is built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

CHOICES: dict[str, tuple[str, ...]] = {
    "table_transition_refusal": ("error", "ignore"),
    "on_rejection": ("new", "canceled", "stay"),
    "task_states": ("task", "change_task"),
    "risk_scale": ("four", "three"),
}
FIXED = frozenset({"task_states", "risk_scale", "seed"})


@dataclass
class SimSettings:
    seed: int = 42
    # How the Table API reports a state change the model forbids: 403 naming the allowed next
    # states ("error"), or 200 with the state left as it was ("ignore"). Both are seen on instances.
    table_transition_refusal: str = "error"
    # Where a rejected change goes: back to New (the normal change model), Canceled, or nowhere.
    on_rejection: str = "new"
    # The CAB's approval moves a change in Assess/Authorize on to Scheduled by itself.
    auto_advance_on_approval: bool = True
    token_lifetime: float = 1799.0
    refresh_token_lifetime: float = 100 * 24 * 3600.0
    # A rate limit rule: at most `rate_limit` API calls per user per `rate_limit_window` seconds.
    rate_limit: int = 0
    rate_limit_window: float = 1.0
    # The Priority Data Lookup (dl_u_priority): a change's priority follows its impact and urgency.
    priority_lookup: bool = True
    # Change Management API values typed as the instance sends them (-5.0, false) or all strings.
    change_api_typed_values: bool = True
    task_states: str = "task"
    risk_scale: str = "four"
    cab_group: str = "CAB Approval"
    integration_user: str = "bridgeline.integration"
    # The Batch API (/api/now/v1/batch): answered, or an unknown resource (older or locked-down
    # instances); a batch still running after batch_time_limit seconds (the "REST Batch API request
    # timeout" quota rule, 30 s) leaves the rest of its items unserviced.
    batch_api: bool = True
    batch_time_limit: float = 30.0
    outbound_max_attempts: int = 5
    outbound_backoff_seconds: float = 0.2
    outbound_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, not {getattr(self, name)!r}")

    def update(self, values: dict[str, Any]) -> None:
        """Apply run-time changes; unknown names and fixed settings are refused with a clear message."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        fixed = sorted(set(values) & FIXED)
        if fixed:
            raise ValueError(f"setting(s) {fixed} are fixed when the simulator starts")
        before = asdict(self)
        try:
            for name, value in values.items():
                kind = type(before[name])
                setattr(self, name, kind(value) if kind is not bool else _boolean(value))
            self.validate()
        except (TypeError, ValueError):
            for name, value in before.items():
                setattr(self, name, value)
            raise

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)

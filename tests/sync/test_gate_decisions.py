"""The gate's judgement alone: a change as connectors normalize it, a mapping's gate, a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridgeline.connectors.servicenow.blackouts import Blackout
from bridgeline.mapping import GateSpec
from bridgeline.sync.gate import decide, parse_instant

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def change(**values: Any) -> dict[str, Any]:
    base = {
        "number": "CHG0030001",
        "state": "scheduled",
        "approval": "approved",
        "approver": "Dana CAB",
        "planned_start": "2026-12-03 10:00:00",
        "planned_end": "2026-12-03 18:00:00",
    }
    return {**base, **values}


def gate(**values: Any) -> GateSpec:
    return GateSpec.model_validate(values)


def test_an_approved_change_in_its_window_is_allowed_with_who_approved_and_until_when() -> None:
    assert decide(gate(), change(), "production", NOW) == (
        "allowed",
        ["CHG0030001 is approved by Dana CAB", "window open until 2026-12-03 18:00 UTC"],
    )


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (
            {"approval": "requested", "state": "assess"},
            "CHG0030001 is not approved yet (approval: requested)",
        ),
        ({"planned_start": "2026-12-03 13:00:00"}, "window opens at 2026-12-03 13:00 UTC"),
        ({"planned_start": None, "planned_end": None}, "CHG0030001 has no planned window yet"),
        ({"state": "review"}, "CHG0030001 is in state review; deployments go ahead in scheduled, implement"),
    ],
)
def test_what_waits(values: dict[str, Any], reason: str) -> None:
    decision, reasons = decide(gate(), change(**values), "production", NOW)
    assert decision == "awaiting" and reason in reasons


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (
            {"approval": "rejected", "approval_comment": "No rollback plan"},
            "CHG0030001 was rejected by Dana CAB: No rollback plan",
        ),
        ({"state": "canceled", "approval": "requested"}, "CHG0030001 is canceled"),
        ({"planned_end": "2026-12-03 11:00:00"}, "window closed at 2026-12-03 11:00 UTC"),
        ({"state": "rejected", "approval": None, "approver": None}, "CHG0030001 was rejected"),
    ],
)
def test_what_prevents(values: dict[str, Any], reason: str) -> None:
    assert decide(gate(), change(**values), "production", NOW) == ("prevented", [reason])


def test_a_freeze_prevents_in_the_environments_it_names_until_it_ends() -> None:
    policy = gate(
        environments=["production", "prod-*"],
        freezes=[
            {
                "from": "2026-12-01",
                "until": "2026-12-05",
                "reason": "Year-end freeze",
                "environments": ["production"],
            },
            {"from": "2026-12-04T00:00:00Z", "until": "2026-12-06T00:00:00Z", "reason": "Later"},
        ],
    )
    assert decide(policy, change(), "production", NOW) == (
        "prevented",
        ["freeze until 2026-12-05 00:00 UTC: Year-end freeze"],
    )
    assert decide(policy, change(), "prod-eu", NOW)[0] == "allowed"  # the freeze names production only
    assert decide(policy, change(), "staging", NOW) == ("allowed", ["staging is not a gated environment"])


def test_blackouts_prevent_unless_the_mapping_opts_out() -> None:
    blackout = Blackout("Year-end blackout", "Holidays", NOW - timedelta(hours=1), NOW + timedelta(days=1))
    assert decide(gate(), change(), "Production", NOW, [blackout]) == (
        "prevented",
        ["freeze until 2026-12-04 12:00 UTC: ServiceNow blackout schedule Year-end blackout (Holidays)"],
    )
    assert decide(gate(blackouts=False), change(), "production", NOW, [blackout])[0] == "allowed"


def test_window_policies() -> None:
    outside = change(planned_start="2026-12-04 10:00:00", planned_end="2026-12-04 18:00:00")
    assert decide(gate(window="ignored"), outside, "production", NOW)[0] == "allowed"
    no_window = change(planned_start=None, planned_end=None)
    assert decide(gate(window="if_set"), no_window, "production", NOW) == (
        "allowed",
        ["CHG0030001 is approved by Dana CAB"],
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03 18:00:00", datetime(2026, 12, 3, 18, tzinfo=UTC)),
        ("2024-06-15T03:00:00.000+0000", datetime(2024, 6, 15, 3, tzinfo=UTC)),
        ("2026-12-03T18:00:00+01:00", datetime(2026, 12, 3, 17, tzinfo=UTC)),
        ("1764784800", datetime(2025, 12, 3, 18, tzinfo=UTC)),
        ("", None),
        ("soon", None),
    ],
)
def test_planned_windows_as_either_tool_writes_them(text: str, expected: datetime | None) -> None:
    assert parse_instant(text) == expected

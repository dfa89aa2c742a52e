"""The gate's judgement of a release train: its parent and every child change, each judged like a
single change; the train goes only when all of them may, and otherwise answers the worst."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bridgeline.connectors.servicenow.blackouts import Blackout
from bridgeline.mapping import GateSpec
from bridgeline.sync.gate import decide_train

from .test_gate_decisions import change

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
PARENT = "parent CHG0030010 (train 2026.12)"
PAY = "child CHG0030011 (PAY)"
WEB = "child CHG0030012 (WEB)"


def train(
    parent: dict[str, Any] | None = None, pay: dict[str, Any] | None = None, web: dict[str, Any] | None = None
) -> list[tuple[str, dict[str, Any] | None]]:
    return [
        (PARENT, change(number="CHG0030010", **(parent or {}))),
        (PAY, change(number="CHG0030011", **(pay or {}))),
        (WEB, change(number="CHG0030012", **(web or {}))),
    ]


def test_a_train_all_approved_in_its_windows_is_allowed_naming_each_change() -> None:
    decision, reasons = decide_train(GateSpec(), train(), "production", NOW)
    assert decision == "allowed"
    assert reasons == [
        f"{PARENT} is approved by Dana CAB",
        f"{PARENT}: window open until 2026-12-03 18:00 UTC",
        f"{PAY} is approved by Dana CAB",
        f"{PAY}: window open until 2026-12-03 18:00 UTC",
        f"{WEB} is approved by Dana CAB",
        f"{WEB}: window open until 2026-12-03 18:00 UTC",
    ]


def test_one_child_not_approved_makes_the_train_await_naming_that_child_only() -> None:
    changes = train(web={"approval": "requested"})
    assert decide_train(GateSpec(), changes, "production", NOW) == (
        "awaiting",
        [f"{WEB} is not approved yet (approval: requested)"],
    )


def test_the_worst_wins_and_its_reasons_name_the_changes_that_hold_it() -> None:
    changes = train(
        parent={"planned_start": "2026-12-03 13:00:00"},
        pay={"approval": "rejected", "approval_comment": "No rollback plan"},
        web={"state": "closed"},
    )
    assert decide_train(GateSpec(), changes, "production", NOW) == (
        "prevented",
        [f"{PAY} was rejected by Dana CAB: No rollback plan", f"{WEB} is closed"],
    )


def test_a_child_gone_from_the_itsm_tool_prevents() -> None:
    changes = [*train()[:2], (WEB, None)]
    assert decide_train(GateSpec(), changes, "production", NOW) == ("prevented", [f"{WEB} no longer exists"])


def test_a_freeze_is_named_once_for_the_whole_train() -> None:
    blackout = Blackout("Year-end blackout", "Holidays", NOW - timedelta(hours=1), NOW + timedelta(days=1))
    decision, reasons = decide_train(
        GateSpec(), train(pay={"approval": "requested"}), "prod", NOW, [blackout]
    )
    assert decision == "prevented"
    assert reasons == [
        "freeze until 2026-12-04 12:00 UTC: ServiceNow blackout schedule Year-end blackout (Holidays)"
    ]
    policy = GateSpec.model_validate(
        {"freezes": [{"from": "2026-12-01", "until": "2026-12-05", "reason": "Year-end freeze"}]}
    )
    changes = train(web={"approval": "rejected"})
    assert decide_train(policy, changes, "production", NOW) == (
        "prevented",
        ["freeze until 2026-12-05 00:00 UTC: Year-end freeze", f"{WEB} was rejected by Dana CAB"],
    )


def test_an_environment_the_gate_does_not_guard_lets_the_train_go() -> None:
    changes = train(parent={"approval": "rejected"})
    assert decide_train(GateSpec(), changes, "staging", NOW) == (
        "allowed",
        ["staging is not a gated environment"],
    )

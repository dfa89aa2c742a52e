"""Per-project ``overrides`` of ``gate`` and ``deployments``: one mapping, a stricter gate and other
deployment notes for one project's releases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridgeline.sync.gate import decide

BODY = """\
gate:
  environments: [production]
  window: ignored
deployments:
  - name: started
    states: [started]
    change:
      work_notes: "started: {{ deployment.run_url }}"
  - name: succeeded
    states: [succeeded]
    change: {state: closed, close_code: successful, close_notes: "run {{ deployment.run_id }}"}
overrides:
  PAY:
    gate:
      environments: [production, staging]
      freezes:
        - {from: "2026-12-20", until: "2027-01-04", reason: Payments year-end freeze}
    deployments:
      - name: started
        change:
          work_notes: "PAY started: {{ deployment.run_url }} ({{ deployment.commit }})"
      - name: failed
        states: [failed, rolled_back]
        change: {state: closed, close_code: unsuccessful, close_notes: "run {{ deployment.run_id }}"}
"""

CHANGE = {"number": "CHG0030042", "state": "assess", "approval": "requested"}


def _deployment(state: str, environment: str = "production") -> dict[str, Any]:
    run = {"run_id": "77", "run_url": "https://ci.example.com/runs/77", "commit": "9fceb02"}
    return {"environment": environment, "state": state, "source": "bridgeline", **run}


def _plans(mapping: Any, kit: Any, project: str, state: str) -> dict[str, dict[str, Any]]:
    ctx = {**kit.release(key=project), "target": kit.target(), "link": {"number": "CHG0030042"}}
    return {p.rule: p.change for p in mapping.deployment({**ctx, "deployment": _deployment(state)})}


def test_a_project_gets_its_own_gate_merged_over_the_mappings(load, kit) -> None:
    mapping = load(kit.mapping(body=BODY)).get("rel")
    pay, web = mapping.gate_of("PAY"), mapping.gate_of("WEB")
    assert pay.environments == ["production", "staging"] and web.environments == ["production"]
    assert pay.window == "ignored" == web.window  # merged: what PAY does not say stays the mapping's
    assert [f.reason for f in pay.freezes] == ["Payments year-end freeze"] and web.freezes == []
    assert mapping.gate_of(None) is mapping.gate
    # what that means at the gate: PAY's staging waits for the CAB, WEB's goes ahead; PAY is frozen
    now = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
    assert decide(pay, CHANGE, "staging", now)[0] == "awaiting"
    assert decide(web, CHANGE, "staging", now)[0] == "allowed"
    frozen = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    approved = {**CHANGE, "state": "scheduled", "approval": "approved"}
    assert decide(pay, approved, "production", frozen)[0] == "prevented"
    assert decide(web, approved, "production", frozen)[0] == "allowed"


def test_a_projects_deployment_rules_merge_by_name_over_the_mappings(load, kit) -> None:
    mapping = load(kit.mapping(body=BODY)).get("rel")
    assert _plans(mapping, kit, "PAY", "started") == {
        "started": {"work_notes": "PAY started: https://ci.example.com/runs/77 (9fceb02)"}
    }
    assert _plans(mapping, kit, "WEB", "started") == {
        "started": {"work_notes": "started: https://ci.example.com/runs/77"}
    }
    # a rule PAY does not name stays; one only PAY has is PAY's alone
    assert _plans(mapping, kit, "PAY", "succeeded")["succeeded"]["close_code"] == "successful"
    assert _plans(mapping, kit, "PAY", "failed")["failed"]["close_code"] == "unsuccessful"
    assert _plans(mapping, kit, "WEB", "failed") == {}


def test_an_overrides_gate_is_checked_where_it_is_written(problems, kit) -> None:
    text = kit.mapping(
        body="""\
        overrides:
          PAY:
            gate:
              window: sometimes
            deployments:
              - name: started
                states: [begun]
        """
    )
    found = problems(text)
    assert any(p.startswith("mapping.yaml:10:15: gate.window") for p in found), found
    assert any(p.startswith("mapping.yaml:13:18: deployments[0].states[0]") for p in found), found

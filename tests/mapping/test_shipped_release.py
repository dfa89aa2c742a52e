"""The shipped release mapping, driven through the public surface the sync engine uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridgeline.mapping import RemovePolicy, TargetSpec, load_mapping_set, version_context

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"


@pytest.fixture(scope="module")
def release_ctx() -> dict:
    data = json.loads((MAPPINGS / "fixtures" / "pay-release-1.4.json").read_text())
    now = datetime(2024, 4, 29, 8, 0, tzinfo=UTC)
    return version_context(data["version"], data["project"], data["issues"], now)


def test_a_release_renders_a_normal_change_request_with_a_task_per_issue(release_ctx: dict) -> None:
    mapping = load_mapping_set([MAPPINGS]).get("servicenow-release")

    assert mapping.applies(release_ctx)
    rendered = mapping.render(release_ctx)

    assert rendered.target == TargetSpec(
        "servicenow", "change_request", api=None, type="normal"
    )  # the setting decides
    assert rendered.identity == "jira:PAY:version:10042"
    assert rendered.fields["risk"] == "2"
    assert rendered.fields["start_date"] == "2024-05-03 18:00:00"
    assert all(isinstance(v, str) for v in rendered.fields.values())
    assert [c.source_key for c in rendered.children] == [
        "jira:issue:10101",
        "jira:issue:10102",
        "jira:issue:10103",
    ]
    assert rendered.children[0].on_remove == RemovePolicy(
        "cancel", {"close_notes": "Removed from Jira release 1.4.0; no longer part of this change."}
    )
    assert "risk_matrix 'Highest' -> '2'" in rendered.provenance["risk"]


def test_an_approval_gives_transitions_with_stable_keys(release_ctx: dict) -> None:
    mapping = load_mapping_set([MAPPINGS]).get("servicenow-release")
    target = {
        "system": "servicenow",
        "record": "change_request",
        "number": "CHG0030042",
        "url": "https://sn.example/x",
        "state": "authorize",
        "approval": "approved",
    }

    first = mapping.reverse({**release_ctx, "target": target})
    later = mapping.reverse({**release_ctx, "target": {**target, "state": "scheduled"}})

    transitions = [a for a in first if a.kind == "transition"]
    assert [(a.issue_key, a.params["to"]) for a in transitions] == [
        ("PAY-101", "Ready for Release"),  # in review; PAY-102 is still in progress
    ]
    assert {a.key for a in transitions} <= {a.key for a in later}


APPROVED = {
    "system": "servicenow", "record": "change_request", "number": "CHG0030042",
    "url": "https://acme.service-now.com/change_request.do?sys_id=4f1e", "state": "scheduled",
    "approval": "approved", "approver": "Dana CAB",
}  # fmt: skip


def _deployment(state: str, environment: str = "production") -> dict:
    run = {"run_id": "4711", "run_url": "https://ci.example.com/runs/4711", "commit": "9fceb02"}
    return {"environment": environment, "state": state, "source": "bridgeline", **run}


@pytest.mark.parametrize("name", ["servicenow-release", "remedy-release"])
def test_shipped_deployment_rules_move_the_change_and_tell_jira_per_run_and_state(
    release_ctx: dict, name: str
) -> None:
    mapping = load_mapping_set([MAPPINGS]).get(name)
    ctx = {**release_ctx, "target": APPROVED, "link": {"number": "CHG0030042"}}
    [started] = mapping.deployment({**ctx, "deployment": _deployment("started")})
    [succeeded] = mapping.deployment({**ctx, "deployment": _deployment("succeeded")})
    [failed] = mapping.deployment({**ctx, "deployment": _deployment("failed")})
    if name == "servicenow-release":
        assert started.change["state"] == "implement"
        assert "https://ci.example.com/runs/4711" in started.change["work_notes"]
        assert succeeded.change["state"] == "closed" and succeeded.change["close_code"] == "successful"
        assert "run 4711" in succeeded.change["close_notes"]
        assert failed.change["close_code"] == "unsuccessful"
    else:
        assert started.change["Status"] == "Implementation In Progress"
        assert started.change["Work Info Summary"] == "Deployment to production started"
        assert "https://ci.example.com/runs/4711 (commit 9fceb02)" in started.change["Work Info Notes"]
        assert {k: v for k, v in succeeded.change.items() if not k.startswith("Work Info")} == {
            "Status": "Completed",
            "Status Reason": "Successful",
        }
        assert "https://ci.example.com/runs/4711" in succeeded.change["Work Info Notes"]
        assert failed.change == {"Status": "Completed", "Status Reason": "Unsuccessful"}
    kinds = {a.kind for a in started.actions}
    assert kinds == {"comment", "remote_link"}
    assert all(a.key.endswith("/production:4711:started") for a in started.actions)
    assert [a.kind for a in succeeded.actions if a.scope == "version"] == ["release_version"]
    # a staging deployment is none of production's business
    assert mapping.deployment({**ctx, "deployment": _deployment("started", "staging")}) == []

"""State files: saved after every change, loaded on start, never half-written."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from bridgeline.sim.servicenow import ServiceNowSimulator

CHANGES = "/api/now/table/change_request"


def _rows(path: Path, table: str) -> list[dict[str, str]]:
    return list(json.loads(path.read_text())["store"]["tables"][table])


def test_every_write_is_saved_and_a_restart_carries_on(tmp_path: Path) -> None:
    path = tmp_path / "servicenow.json"
    first = ServiceNowSimulator(seed=42, state_path=path)
    assert len(_rows(path, "change_request")) == 6  # the seed is saved straight away
    with first.serve() as server, httpx.Client(base_url=server.url, auth=("admin", "admin")) as api:
        created = api.post(CHANGES, json={"short_description": "Survives restarts"}).json()["result"]
        assert [r["number"] for r in _rows(path, "change_request")][-1] == created["number"]
        api.patch(f"{CHANGES}/{created['sys_id']}", json={"state": "-4", "work_notes": "submitted"})
        assert _rows(path, "change_request")[-1]["state"] == "-4"
        token = httpx.post(
            f"{server.url}/oauth_token.do",
            data={
                "grant_type": "client_credentials",
                "client_id": "bridgeline-client",
                "client_secret": "bridgeline-secret",
            },
        ).json()["access_token"]
        api.put("/_sim/outbound", json={"url": "http://127.0.0.1:9/hook", "secret": "kept"})
    first.close()
    assert [p.name for p in tmp_path.iterdir()] == ["servicenow.json"]  # no temporary files left behind

    second = ServiceNowSimulator(seed=42, state_path=path)
    restored = second.state.change(created["number"])
    assert restored is not None and restored["state"] == "-4" and restored["approval"] == "requested"
    assert len(second.state.approvals(created["number"])) == 2
    assert [j["value"] for j in second.state.journal(created["sys_id"])] == ["submitted"]
    assert second.outbound.target is not None and second.outbound.target.secret == "kept"
    with second.serve() as server:
        bearer = {"Authorization": f"Bearer {token}"}
        again = httpx.post(
            f"{server.url}{CHANGES}", json={"short_description": "After restart"}, headers=bearer
        )
        assert again.status_code == 201
        after = again.json()["result"]
    number = int(created["number"][3:])
    assert after["number"] == f"CHG{number + 1:07d}"
    all_ids = [
        r["sys_id"]
        for table in ("change_request", "sys_journal_field", "sysapproval_approver")
        for r in second.state.records(table)
    ]
    assert len(all_ids) == len(set(all_ids))  # new sys_ids do not repeat the first run's
    second.close()


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"something": "else"}))
    with pytest.raises(ValueError, match="not a ServiceNow simulator state file"):
        ServiceNowSimulator(state_path=path)


def test_a_state_file_with_the_former_password_signs_in_with_the_current_one(tmp_path: Path) -> None:
    path = tmp_path / "servicenow.json"
    ServiceNowSimulator(seed=42, state_path=path).close()
    data = json.loads(path.read_text())
    for user in data["store"]["tables"]["sys_user"]:
        if user["user_name"] == "bridgeline.integration":
            user["user_password"] = "bridgeline"
    path.write_text(json.dumps(data))
    sim = ServiceNowSimulator(seed=42, state_path=path)
    with sim.serve() as server:
        current = httpx.get(f"{server.url}{CHANGES}", auth=("bridgeline.integration", "snow-pw-4Kd9Vq7z"))
        former = httpx.get(f"{server.url}{CHANGES}", auth=("bridgeline.integration", "bridgeline"))
    assert (current.status_code, former.status_code) == (200, 401)
    sim.close()

"""With a state file the simulator survives a restart: changes, numbering, signatures and tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bridgeline.sim import serve_in_thread
from bridgeline.sim.remedy import RemedySimulator

from .conftest import LOGIN

CREATE = "/api/arsys/v1/entry/CHG:ChangeInterface_Create"


def create(http: httpx.Client, values: dict[str, Any]) -> str:
    response = http.post(
        CREATE, params={"fields": "values(Infrastructure Change Id)"}, json={"values": values}
    )
    assert response.status_code == 201, response.text
    crq: str = response.json()["values"]["Infrastructure Change Id"]
    return crq


def test_state_is_saved_after_each_change_and_loaded_on_start(
    tmp_path: Path, change_values: Callable[..., dict[str, Any]]
) -> None:
    path = tmp_path / "remedy.json"
    first = RemedySimulator(state_path=path)
    assert path.exists()  # the seed is written at once
    with serve_in_thread(first.app) as served, httpx.Client(base_url=served.url) as http:
        token = http.post("/api/jwt/login", data=LOGIN).text
        http.headers["Authorization"] = f"AR-JWT {token}"
        crq = create(http, change_values(Status="Request For Authorization"))
        saved = json.loads(path.read_text())
        assert crq in {
            e["values"]["Infrastructure Change ID"]
            for e in saved["state"]["stores"]["CHG:Infrastructure Change"].values()
        }
    first.approve(crq, comment="approved before the restart")
    assert [p.name for p in tmp_path.iterdir()] == ["remedy.json"]  # no temporary files left behind

    second = RemedySimulator(state_path=path)
    assert second.state.change(crq)["Change Request Status"] == "Request For Change"
    assert second.state.approvals(crq)[0]["Comments"] == "approved before the restart"
    with serve_in_thread(second.app) as served, httpx.Client(base_url=served.url) as http:
        http.headers["Authorization"] = f"AR-JWT {token}"  # the token issued before the restart
        assert http.get(f"/api/arsys/v1/entry/CHG:Infrastructure Change/{crq}").status_code == 200
        assert create(http, change_values()) == "CRQ000000000107"


def test_reset_rewrites_the_state_file(tmp_path: Path, change_values: Callable[..., dict[str, Any]]) -> None:
    path = tmp_path / "remedy.json"
    sim = RemedySimulator(state_path=path)
    sim.advance("CRQ000000000101", "Scheduled")
    assert (
        RemedySimulator(state_path=path).state.change("CRQ000000000101")["Change Request Status"]
        == "Scheduled"
    )
    sim.reset()
    assert (
        RemedySimulator(state_path=path).state.change("CRQ000000000101")["Change Request Status"] == "Draft"
    )

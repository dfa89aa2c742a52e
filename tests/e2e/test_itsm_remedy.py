"""A Jira release becomes a BMC Remedy change waiting for the CAB, stays in step, and the CAB's answer
comes back as an event - the real service against the Jira and Remedy simulators over sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.config import settings_from_values
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraSimulator
from bridgeline.sim.remedy import INTEGRATION as REMEDY_INTEGRATION
from bridgeline.sim.remedy import RemedySimulator
from bridgeline.sync.service import Service

from .conftest import JIRA_ADMIN

MAPPINGS = Path(__file__).parent / "mappings_itsm" / "remedy"
VERSION = "10003"  # PAY 3.3.0 in the Jira simulator's seed
CORR = f"jira:PAY:version:{VERSION}"


class Sims:
    def __init__(self, jira: JiraSimulator, remedy: RemedySimulator, jira_url: str, remedy_url: str) -> None:
        self.jira, self.remedy, self.jira_url, self.remedy_url = jira, remedy, jira_url, remedy_url

    def jira_api(self) -> httpx.Client:
        return httpx.Client(base_url=self.jira_url + "/rest/api/3", auth=JIRA_ADMIN, timeout=10)

    def changes(self) -> list[dict[str, Any]]:
        return [c for c in self.remedy.changes() if c.get("Vendor Ticket Number") == CORR]

    def writes(self) -> dict[str, int]:
        counts: dict[str, int] = self.remedy.call_counts()["by_endpoint"]
        return {k: v for k, v in counts.items() if k.split(" ")[0] in ("POST", "PUT") and "/jwt/" not in k}


@pytest.fixture
def sims() -> Iterator[Sims]:
    jira, remedy = JiraSimulator(), RemedySimulator(seed=5)
    with ServedApp(jira.app) as j, ServedApp(remedy.app) as r:
        yield Sims(jira, remedy, j.url, r.url)


@pytest.fixture
async def service(sims: Sims, database_url: str) -> AsyncIterator[Service]:
    settings = settings_from_values(
        {
            "database_url": database_url,
            "mappings": [MAPPINGS],
            "jira": {
                "url": sims.jira_url,
                "email": "bridgeline@example.com",
                "api_token": INTEGRATION_CLOUD[1],
                "projects": ["PAY"],
                "poll_overlap": 5,
            },
            "remedy": {"url": sims.remedy_url, "username": "bridgeline", "password": REMEDY_INTEGRATION[1]},
            "worker": {"concurrency": 4, "backoff_initial": 0.05, "backoff_max": 0.2, "max_attempts": 3},
        }
    )
    svc = await Service.start(settings)
    yield svc
    await svc.aclose()


async def test_a_release_becomes_a_remedy_change_waiting_for_the_cab(service: Service, sims: Sims) -> None:
    report = await service.sync_once()
    assert report.dead == 0 and report.pending == 0
    [change] = sims.changes()
    assert change["Description"] == "Release PAY 3.3.0" and change["Change Type"] == "Release"
    assert change["Change Request Status"] == "Request For Authorization"
    assert change["Submitter"] == "bridgeline" and change["Impact"] == "3-Moderate/Limited"
    assert [a["Approval Status"] for a in sims.remedy.state.approvals(change["Request ID"])] == ["Pending"]
    assert sims.writes() == {"POST /api/arsys/v1/entry CHG:ChangeInterface_Create": 1}
    link = await service.store.link_by_target("remedy", change["Request ID"])
    assert link is not None and link.target.number == change["Infrastructure Change ID"]
    sims.remedy.reset_counters()
    again = await service.sync_once()
    assert again.writes == 0 and sims.writes() == {}


async def test_a_changed_release_puts_only_the_changed_field(service: Service, sims: Sims) -> None:
    await service.sync_once()
    with sims.jira_api() as api:
        created = api.post(
            "/issue",
            json={
                "fields": {
                    "project": {"key": "PAY"},
                    "issuetype": {"name": "Task"},
                    "summary": "Rotate the signing keys",
                    "fixVersions": [{"id": VERSION}],
                }
            },
        )
        assert created.status_code == 201, created.text
    sims.remedy.reset_counters()
    report = await service.sync_once()
    assert report.dead == 0 and report.writes == 1
    assert sims.writes() == {"PUT /api/arsys/v1/entry CHG:Infrastructure Change {entryId}": 1}
    [change] = sims.changes()
    assert change["Change Request Status"] == "Request For Authorization"  # not touched


async def test_the_cabs_answer_comes_back_as_an_event_and_reads_as_approved(
    service: Service, sims: Sims
) -> None:
    await service.sync_once()
    [change] = sims.changes()
    sims.remedy.approve(change["Infrastructure Change ID"], approver="mary", comment="CAB 2026-11-20")
    report = await service.sync_once()
    assert report.dead == 0
    row = await service.store.inbox_row(f"remedy:change:{change['Request ID']}")
    assert row is not None and row.state == "done" and row.source == "poll"
    link = await service.store.link_by_target("remedy", change["Request ID"])
    assert link is not None
    read = await service.targets["remedy"].read(link.target)
    assert read["raw_state"] == "Request For Change" and read["state"] == "authorize"
    # the next phase (Business Approval) now waits for the CAB again
    assert read["approval"] == "requested"
    sims.remedy.approve(change["Infrastructure Change ID"], approver="mary", comment="Business OK")
    read = await service.targets["remedy"].read(link.target)
    assert read["approval"] == "approved" and read["approver"] == "Mary Mann"
    assert read["approval_comment"] == "Business OK" and read["state"] == "planning"


async def test_the_daemon_logs_out_when_it_stops(service: Service, sims: Sims) -> None:
    await service.sync_once()
    assert sims.remedy.dump()["tokens"] == 1
    await service.aclose()
    assert sims.remedy.dump()["tokens"] == 0

"""Readiness checks Jira's projects (a project and its whole version list each) every ten minutes,
not every 30 s: an idle daemon watching fifty projects would otherwise call Jira four times as often
for its health as for its polls. The last project checks stay in the report in between."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridgeline.config import settings_from_values
from bridgeline.server.health import ConnectorHealth
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraScale, JiraSimulator


@pytest.fixture(scope="module")
def jira() -> Iterator[tuple[JiraSimulator, str]]:
    sim = JiraSimulator(scale=JiraScale(projects=3, versions=6, issues=10))
    with ServedApp(sim.app) as served:
        yield sim, served.url


async def test_project_checks_are_repeated_only_every_project_ttl(jira: tuple[JiraSimulator, str]) -> None:
    sim, url = jira
    settings = settings_from_values(
        {
            "jira": {
                "url": url,
                "email": "bridgeline@example.com",
                "api_token": INTEGRATION_CLOUD[1],
                "projects": ["PAY", "WEB", "OPS"],
            }
        }
    )
    health = ConnectorHealth(settings, ttl=0.0, project_ttl=3600.0)  # every refresh is due

    def calls() -> int:
        return sim.fault_injector.counters.requests

    before = calls()
    first = await health.refresh()
    assert calls() - before == 2 + 2 * 3  # serverInfo, myself; each project and its versions
    before = calls()
    second = await health.refresh()
    assert calls() - before == 2  # serverInfo and myself only
    assert [r.check for r in second] == [r.check for r in first]  # the project checks are still reported
    assert all(r.ok for r in second)

    health.project_ttl = 0.0
    before = calls()
    await health.refresh()
    assert calls() - before == 2 + 2 * 3

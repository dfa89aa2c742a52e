"""The poll path on Cloud and on Data Center: the same change requests, each deployment searched its
own way (tokens, offsets), and only the issue fields the loaded mappings read are asked for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from bridgeline.config import settings_from_values
from bridgeline.connectors.jira import BASE_ISSUE_FIELDS
from bridgeline.connectors.jira.changes import POLL_FIELDS
from bridgeline.mapping import load_mapping_set
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, INTEGRATION_PAT, JiraSimulator
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.sync.service import Service


@dataclass
class Searches:
    """Records the query of every search the simulator answers."""

    app: Any
    queries: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "/search" in scope["path"]:
            self.queries.append((scope["path"], parse_qs(scope["query_string"].decode())))
        await self.app(scope, receive, send)


@dataclass
class Deployment:
    mode: str
    jira_url: str
    snow_url: str
    searches: Searches


@pytest.fixture(params=["cloud", "datacenter"])
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    jira = JiraSimulator(mode=request.param)
    searches = Searches(jira.app)
    with ServedApp(searches) as j, ServedApp(ServiceNowSimulator().app) as s:
        yield Deployment(request.param, j.url, s.url, searches)


async def test_cloud_and_data_center_polls_make_the_same_change_requests(
    deployment: Deployment, database_url: str, e2e_mappings: Path
) -> None:
    credentials: dict[str, Any] = (
        {"email": INTEGRATION_CLOUD[0], "api_token": INTEGRATION_CLOUD[1]}
        if deployment.mode == "cloud"
        else {"token": INTEGRATION_PAT}
    )
    settings = settings_from_values(
        {
            "database_url": database_url,
            "mappings": [e2e_mappings],
            "jira": {"url": deployment.jira_url, "projects": ["OPS"], "page_size": 10, **credentials},
            "servicenow": {
                "url": deployment.snow_url,
                "username": "bridgeline.integration",
                "password": SERVICENOW_INTEGRATION[1],
            },
        }
    )
    service = await Service.start(settings)
    try:
        assert service.jira is not None and service.jira.deployment == deployment.mode
        report = await service.sync_once()
        assert report.dead == 0 and report.pending == 0
    finally:
        await service.aclose()

    with httpx.Client(base_url=deployment.snow_url + "/api/now/table", auth=("admin", "admin")) as snow:
        changes = snow.get(
            "/change_request", params={"sysparm_query": "correlation_idSTARTSWITHjira:", "sysparm_limit": 100}
        ).json()["result"]
    assert sorted(c["short_description"] for c in changes) == open_releases(deployment)

    paths = {path for path, _ in deployment.searches.queries}
    if deployment.mode == "cloud":
        assert paths == {"/rest/api/3/search/jql"}
        assert any("nextPageToken" in q for _, q in deployment.searches.queries), "several pages"
    else:
        assert paths == {"/rest/api/2/search"}
        assert {q["startAt"][0] for _, q in deployment.searches.queries} > {"0"}, "several pages"
    # the poll asks for what places a change; reading a release, for what its mappings read
    wanted = set(BASE_ISSUE_FIELDS) | (load_mapping_set([e2e_mappings]).jira_fields() or {"*all"})
    asked = {frozenset(q["fields"][0].split(",")) for _, q in deployment.searches.queries}
    assert asked == {frozenset(POLL_FIELDS), frozenset(wanted)}


def open_releases(deployment: Deployment) -> list[str]:
    """What the release mapping should have made: one change request per open release."""
    auth: Any = (
        ("admin", "admin") if deployment.mode == "datacenter" else ("admin@example.com", "admin-token")
    )
    with httpx.Client(base_url=deployment.jira_url + "/rest/api/2", auth=auth) as jira:
        return sorted(
            f"Release {p} {v['name']}"
            for p in ["OPS"]
            for v in jira.get(f"/project/{p}/versions").json()
            if not v["released"] and not v["archived"]
        )

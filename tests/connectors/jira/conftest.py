"""A Cloud and a Data Center Jira simulator (served once per module, fresh for every test), and
bridgeline's Jira client logged in to each the way it would be in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.config import JiraSettings
from bridgeline.connectors.http import RetryPolicy
from bridgeline.connectors.jira import JiraChanges, JiraClient
from bridgeline.sim import FaultConfig, ServedApp, serve_in_thread
from bridgeline.sim.jira import (
    INTEGRATION_CLOUD,
    INTEGRATION_PAT,
    JiraSimulator,
    RateLimitConfig,
    Settings,
    WebhookOptions,
)
from bridgeline.store import Store
from bridgeline.sync.mappings import LiveMappings
from bridgeline.sync.polling import JiraPoller

FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, total=5, max_retry_after=3)
PROJECTS = ["PAY", "WEB", "OPS"]


@dataclass
class Jira:
    """One simulated Jira: the simulator, its URL, and an admin's view of it for arranging tests."""

    sim: JiraSimulator
    served: ServedApp

    @property
    def mode(self) -> str:
        return self.sim.mode

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def rest(self) -> str:
        return "/rest/api/3" if self.mode == "cloud" else "/rest/api/2"

    def admin(self) -> httpx.Client:
        """Arranges test data as a person would, through the simulator's REST API."""
        auth: Any = ("admin@example.com", "admin-token") if self.mode == "cloud" else None
        headers = {} if auth else {"Authorization": "Bearer admin-pat"}
        return httpx.Client(base_url=self.url + self.rest, auth=auth, headers=headers, timeout=10)

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The simulator's own controls (``/_sim/...``): clock, users, updated times."""
        response = httpx.put(self.url + "/_sim/" + path, json=body, timeout=10)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def settings(self, **extra: Any) -> JiraSettings:
        """bridgeline's Jira settings: Cloud logs in with email + API token, Data Center with a PAT."""
        creds: dict[str, Any] = (
            {"email": INTEGRATION_CLOUD[0], "api_token": INTEGRATION_CLOUD[1]}
            if self.mode == "cloud"
            else {"token": INTEGRATION_PAT}
        )
        values: dict[str, Any] = {"url": self.url, "projects": PROJECTS, **creds, **extra}
        return JiraSettings(**values)


def _fresh(sim: JiraSimulator) -> None:
    sim.faults.update(FaultConfig().as_dict())
    sim.fault_injector.reseed()
    sim.rate_limit.update(RateLimitConfig().as_dict())
    sim.rate_limiter.reset()
    sim.webhook_options.update(
        {
            **WebhookOptions().as_dict(),
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.2,
            "timeout_seconds": 2,
        }
    )
    sim.state.settings.update(asdict(Settings()))
    sim.state.clock.reset()
    sim.reset(seed=42)


@pytest.fixture(scope="module")
def cloud_served() -> Iterator[Jira]:
    sim = JiraSimulator(mode="cloud", seed=42)
    with serve_in_thread(sim.app) as served:
        yield Jira(sim, served)


@pytest.fixture(scope="module")
def dc_served() -> Iterator[Jira]:
    sim = JiraSimulator(mode="datacenter", seed=42)
    with serve_in_thread(sim.app) as served:
        yield Jira(sim, served)


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request: pytest.FixtureRequest) -> Jira:
    """Each test runs against Cloud and against Data Center."""
    served: Jira = request.getfixturevalue("cloud_served" if request.param == "cloud" else "dc_served")
    _fresh(served.sim)
    return served


@pytest.fixture
def cloud(cloud_served: Jira) -> Jira:
    _fresh(cloud_served.sim)
    return cloud_served


@pytest.fixture
async def client(jira: Jira) -> AsyncIterator[JiraClient]:
    c = JiraClient.from_settings(jira.settings(), retry=FAST)
    await c.detect()
    yield c
    await c.aclose()


# -- the poller with a real store -----------------------------------------------------------------------

ISSUE_MAPPING = """\
apiVersion: bridgeline/v1
kind: Mapping
metadata:
  name: test-issue
source:
  system: jira
  entity: issue
  projects: [PAY, WEB, OPS]
target:
  system: servicenow
  record: change_request
identity: "jira:{{ project.key }}:issue:{{ issue.id }}"
fields:
  short_description: "{{ issue.key }} {{ issue.summary }}"
"""

VERSION_MAPPING = """\
apiVersion: bridgeline/v1
kind: Mapping
metadata:
  name: test-release
source:
  system: jira
  entity: version
  projects: [PAY, WEB, OPS]
target:
  system: servicenow
  record: change_request
identity: "jira:{{ project.key }}:version:{{ version.id }}"
fields:
  short_description: "Release {{ project.key }} {{ version.name }}"
"""


def write_mappings(root: Path, *, issues: bool) -> Path:
    """A mapping folder: a release mapping, and an issue mapping when ``issues``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "release.yaml").write_text(VERSION_MAPPING)
    if issues:
        (root / "issue.yaml").write_text(ISSUE_MAPPING)
    return root


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    s = await Store.open(sqlite_url)
    yield s
    await s.close()


def make_poller(
    client: JiraClient,
    store: Store,
    mappings: Path,
    *,
    projects: list[str] | None = None,
    overlap: float = 5.0,
    page_size: int | None = None,
) -> JiraPoller:
    live = LiveMappings([mappings])
    live.load()
    changes = JiraChanges(client, projects or PROJECTS, overlap_seconds=overlap, page_size=page_size)
    return JiraPoller(store, changes, live)


async def settle(store: Store, kind: str | None = None) -> set[str]:
    """Take everything pending from the inbox as a worker would, mark it done; the entities taken."""
    taken: set[str] = set()
    while claims := await store.claim("test", limit=500, lease_seconds=60):
        for claim in claims:
            await store.complete(claim)
            taken.add(str(claim.ref))
    return {e for e in taken if kind is None or e.split(":")[1] == kind}

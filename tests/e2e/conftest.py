"""End to end: the real service against the Jira and ServiceNow simulators over loopback sockets."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.config import Settings, settings_from_values
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraScale, JiraSimulator
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.sync.service import Service

HERE = Path(__file__).parent
PROJECTS = ["PAY", "WEB", "OPS"]
# realistic shape (three projects, released/open/archived versions, every issue type), a third of
# the demo's size: end-to-end tests create every record of it several times over
E2E_SCALE = JiraScale(projects=3, versions=12, issues=100)
JIRA_ADMIN = ("admin@example.com", "admin-token")
SNOW_ADMIN = ("admin", "admin")


@dataclass
class Recorder:
    """An ASGI wrapper that records the requests a simulator received (method, path, JSON body)."""

    app: Any
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def replay() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        entry: dict[str, Any] = {"method": scope["method"], "path": scope["path"]}
        self.calls.append(entry)
        await self.app(scope, replay, send)
        raw = b"".join(chunks)
        try:
            entry["body"] = json.loads(raw) if raw else None
        except ValueError:
            entry["body"] = raw

    def requests(self) -> list[dict[str, Any]]:
        """Every request as the instance ran it: a Batch API call stands for the calls it carried
        (each with its method, path, decoded JSON body and ``"batched": True``)."""
        out: list[dict[str, Any]] = []
        for c in self.calls:
            if c["path"] != "/api/now/v1/batch" or not isinstance(c.get("body"), dict):
                out.append(c)
                continue
            for item in c["body"].get("rest_requests") or []:
                raw = base64.b64decode(item.get("body") or "")
                out.append(
                    {
                        "method": item["method"],
                        "path": item["url"].split("?")[0],
                        "body": json.loads(raw) if raw else None,
                        "batched": True,
                    }
                )
        return out

    def writes(self, prefix: str = "/api/") -> list[dict[str, Any]]:
        """The writes the instance ran (those carried by a batch included)."""
        return [
            c
            for c in self.requests()
            if c["method"] in ("POST", "PATCH", "PUT", "DELETE")
            and c["path"].startswith(prefix)
            and c["path"] != "/api/now/v1/batch"
        ]

    def count(self, method: str, path: str) -> int:
        """HTTP calls made to ``path`` (a batch counts once, as one call to the Batch API)."""
        return sum(1 for c in self.calls if c["method"] == method and c["path"] == path)

    def clear(self) -> None:
        self.calls.clear()


@dataclass
class Sims:
    jira: JiraSimulator
    snow: ServiceNowSimulator
    jira_url: str
    snow_url: str
    snow_calls: Recorder
    jira_calls: Recorder

    def jira_api(self) -> httpx.Client:
        return httpx.Client(base_url=self.jira_url + "/rest/api/3", auth=JIRA_ADMIN, timeout=10)

    def snow_api(self) -> httpx.Client:
        return httpx.Client(base_url=self.snow_url + "/api/now/table", auth=SNOW_ADMIN, timeout=10)


@pytest.fixture
def sims() -> Iterator[Sims]:
    jira = JiraSimulator(scale=E2E_SCALE)
    snow = ServiceNowSimulator()
    jira_rec, snow_rec = Recorder(jira.app), Recorder(snow.app)
    with ServedApp(jira_rec) as j, ServedApp(snow_rec) as s:
        yield Sims(jira, snow, j.url, s.url, snow_rec, jira_rec)


def make_settings(sims: Sims, database_url: str, mappings: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "mappings": [mappings],
        "jira": {
            "url": sims.jira_url,
            "email": "bridgeline@example.com",
            "api_token": INTEGRATION_CLOUD[1],
            "projects": PROJECTS,
            "poll_overlap": 5,
        },
        "servicenow": {
            "url": sims.snow_url,
            "username": "bridgeline.integration",
            "password": SERVICENOW_INTEGRATION[1],
        },
        "worker": {"concurrency": 4, "backoff_initial": 0.05, "backoff_max": 0.2, "max_attempts": 3},
    }
    values.update(extra)
    return settings_from_values(values)


@pytest.fixture
def e2e_mappings() -> Path:
    return HERE / "mappings"


@pytest.fixture
async def service(sims: Sims, database_url: str, e2e_mappings: Path) -> AsyncIterator[Service]:
    svc = await Service.start(make_settings(sims, database_url, e2e_mappings))
    yield svc
    await svc.aclose()

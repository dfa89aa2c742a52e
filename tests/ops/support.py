"""Simulators on loopback and settings for the operations and server tests (imported by path)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraScale, JiraSimulator
from bridgeline.sim.remedy import DEFAULT_USERS, RemedySimulator, User
from bridgeline.sim.servicenow import ServiceNowSimulator

HERE = Path(__file__).parent
MAPPINGS = HERE / "mappings"
JIRA_ADMIN = ("admin@example.com", "admin-token")
SNOW_ADMIN = ("admin", "admin")
# one project, four releases (two open), twenty issues: a sync takes well under a second
SMALL = JiraScale(projects=1, versions=4, issues=20)
SNOW_PASSWORD = "integration-pw-3b7e"
REMEDY_PASSWORD = "remedy-pw-51c0"


@dataclass
class Sims:
    jira: JiraSimulator
    snow: ServiceNowSimulator
    remedy: RemedySimulator
    jira_url: str
    snow_url: str
    remedy_url: str

    def jira_api(self) -> httpx.Client:
        return httpx.Client(base_url=self.jira_url + "/rest/api/3", auth=JIRA_ADMIN, timeout=10)

    def snow_api(self) -> httpx.Client:
        return httpx.Client(base_url=self.snow_url + "/api/now/table", auth=SNOW_ADMIN, timeout=10)

    def change_requests(self) -> list[dict[str, Any]]:
        with self.snow_api() as api:
            params = {
                "sysparm_query": "correlation_idSTARTSWITHjira:",
                "sysparm_exclude_reference_link": "true",
            }
            result: list[dict[str, Any]] = api.get("/change_request", params=params).json()["result"]
            return result

    def set_version_description(self, version_id: str, text: str) -> None:
        with self.jira_api() as api:
            api.put(f"/version/{version_id}", json={"description": text}).raise_for_status()

    def set_jira_token(self, token: str) -> None:
        """Give bridgeline's Jira account a new API token (the simulator's own user record)."""
        user = self.jira.state.user("bridgeline")
        assert user is not None
        user.api_token = token

    def set_servicenow_password(self, password: str) -> None:
        with self.snow_api() as api:
            found = api.get("/sys_user", params={"sysparm_query": "user_name=bridgeline.integration"}).json()
            sys_id = found["result"][0]["sys_id"]
            api.patch(f"/sys_user/{sys_id}", json={"user_password": password}).raise_for_status()


@contextlib.contextmanager
def served_sims(scale: JiraScale = SMALL) -> Iterator[Sims]:
    jira = JiraSimulator(scale=scale)
    snow = ServiceNowSimulator()
    remedy = RemedySimulator(users={**DEFAULT_USERS, "bridgeline": User(REMEDY_PASSWORD)})
    with ServedApp(jira.app) as j, ServedApp(snow.app) as s, ServedApp(remedy.app) as r:
        sims = Sims(jira, snow, remedy, j.url, s.url, r.url)
        # the seed's password is the word "bridgeline", which the log redactor would mask everywhere
        sims.set_servicenow_password(SNOW_PASSWORD)
        yield sims


def settings_values(sims: Sims, database_url: str, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "database_url": database_url,
        "mappings": [str(MAPPINGS)],
        "jira": {
            "url": sims.jira_url,
            "email": "bridgeline@example.com",
            "api_token": INTEGRATION_CLOUD[1],
            "projects": ["PAY"],
            "poll_overlap": 5,
        },
        "servicenow": {"url": sims.snow_url, "username": "bridgeline.integration", "password": SNOW_PASSWORD},
        "worker": {"concurrency": 4, "backoff_initial": 0.05, "backoff_max": 0.2, "max_attempts": 2},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return values


def write_config(folder: Path, values: dict[str, Any], name: str = "bridgeline.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    return path

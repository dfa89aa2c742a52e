"""Fixtures of the reliability tests: databases, a small world of simulators, the chaos harness."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.config import Settings, settings_from_values
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraScale, JiraSimulator
from bridgeline.sim.servicenow import ServiceNowSimulator


def _load_harness() -> Any:
    name = "bridgeline_chaos_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "harness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


def pg_schema(base: str) -> Iterator[str]:
    """A URL whose search_path is a fresh PostgreSQL schema, dropped afterwards."""
    yield from harness.pg_schema(base)


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
    else:
        yield from pg_schema(os.environ["BRIDGELINE_TEST_DATABASE_URL"])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL schema; the test is skipped without BRIDGELINE_TEST_DATABASE_URL."""
    base = os.environ.get("BRIDGELINE_TEST_DATABASE_URL")
    if not base:
        pytest.skip("BRIDGELINE_TEST_DATABASE_URL is not set")
    yield from pg_schema(base)


class Gate:
    """ASGI middleware that holds the requests matching a rule until opened: a target that is slow
    at exactly the wrong moment. ``gate.hold("POST", "/api/now/table/change_request")``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.rule: tuple[str, str] | None = None
        self.opened = threading.Event()
        self.opened.set()
        self.waiting = threading.Event()

    def hold(self, method: str, prefix: str) -> None:
        self.rule = (method, prefix)
        self.waiting.clear()
        self.opened.clear()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        rule = self.rule
        if (
            rule is not None
            and scope["type"] == "http"
            and scope["method"] == rule[0]
            and scope["path"].startswith(rule[1])
        ):
            self.waiting.set()
            while not self.opened.is_set():
                await asyncio.sleep(0.01)
        await self.app(scope, receive, send)


@dataclass
class SmallWorld:
    """A small Jira (one project, a few releases) and ServiceNow on loopback, in this process."""

    jira: JiraSimulator
    snow: ServiceNowSimulator
    jira_url: str
    snow_url: str
    snow_gate: Gate

    def settings(self, database_url: str, mappings: Path, **extra: Any) -> Settings:
        return settings_from_values(self.values(database_url, mappings, **extra))

    def values(self, database_url: str, mappings: Path, **extra: Any) -> dict[str, Any]:
        """The configuration as a YAML file would hold it."""
        values: dict[str, Any] = {
            "database_url": database_url,
            "mappings": [str(mappings)],
            "jira": {
                "url": self.jira_url,
                "email": "bridgeline@example.com",
                "api_token": INTEGRATION_CLOUD[1],
                "projects": ["PAY"],
                "poll_interval": 0.5,
                "poll_overlap": 5,
            },
            "servicenow": {
                "url": self.snow_url,
                "username": "bridgeline.integration",
                "password": SNOW_PASSWORD,
                "poll_interval": 0.5,
            },
            "worker": {"concurrency": 4, "backoff_initial": 0.05, "backoff_max": 0.2, "max_attempts": 3},
        }
        for key, value in extra.items():
            values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
        return values

    def versions(self) -> list[dict[str, Any]]:
        with self.jira.state.lock:
            return [
                {"id": str(v.id), "name": v.name}
                for v in sorted(self.jira.state.versions.values(), key=lambda v: v.id)
            ]

    def change_requests(self) -> list[dict[str, str]]:
        return self.snow.state.records("change_request", "correlation_idSTARTSWITHchaos:")


@pytest.fixture
def small_world() -> Iterator[SmallWorld]:
    jira = JiraSimulator(scale=JiraScale(projects=1, versions=6, issues=40))
    snow = ServiceNowSimulator()
    gate = Gate(snow.app)
    with ServedApp(jira.app) as j, ServedApp(gate) as s:
        set_integration_password(s.url)
        yield SmallWorld(jira, snow, j.url, s.url, gate)
        gate.opened.set()


SNOW_PASSWORD = "integration-pw-91d2"  # not the seed's "bridgeline", which log redaction would mask


def set_integration_password(snow_url: str) -> None:
    with httpx.Client(base_url=snow_url + "/api/now/table", auth=("admin", "admin"), timeout=10) as api:
        found = api.get("/sys_user", params={"sysparm_query": "user_name=bridgeline.integration"}).json()
        sys_id = found["result"][0]["sys_id"]
        api.patch(f"/sys_user/{sys_id}", json={"user_password": SNOW_PASSWORD}).raise_for_status()


@pytest.fixture
def chaos_mappings(tmp_path: Path) -> Path:
    """A copy of the chaos mapping that a test may edit."""
    folder = tmp_path / "mappings"
    shutil.copytree(Path(__file__).parent / "mappings", folder)
    return folder


DATABASES = (
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
    if os.environ.get("BRIDGELINE_TEST_DATABASE_URL")
    else ["sqlite"]
)


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """An empty database of ``kind`` for a module's worth of tests."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bridgeline.db'}"
    else:
        yield from pg_schema(os.environ["BRIDGELINE_TEST_DATABASE_URL"])

"""Fixtures: the ServiceNow simulator served once per module (reset before each test), and
targets built from settings the way the daemon builds them, with quick retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bridgeline.config import ServiceNowSettings, settings_from_values
from bridgeline.connectors.http import RetryPolicy
from bridgeline.connectors.servicenow import ServiceNowTarget
from bridgeline.sim import FaultConfig, ServedApp
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.sim.servicenow import ServiceNowSimulator, SimSettings

FAST = RetryPolicy(attempts=3, initial=0.001, maximum=0.01, total=5, max_retry_after=2)
INTEGRATION = {"username": SERVICENOW_INTEGRATION[0], "password": SERVICENOW_INTEGRATION[1]}


class Snow:
    """The served simulator and a way to make connectors against it."""

    def __init__(self, sim: ServiceNowSimulator, server: ServedApp) -> None:
        self.sim = sim
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def settings(self, **values: Any) -> ServiceNowSettings:
        section = {"url": self.url, **INTEGRATION, **values}
        settings = settings_from_values({"servicenow": section}).servicenow
        assert settings is not None
        return settings

    def target(self, **values: Any) -> ServiceNowTarget:
        return ServiceNowTarget.from_settings(self.settings(**values), retry=FAST)

    def calls(self, method: str | None = None, route: str | None = None) -> int:
        return self.sim.state.count_calls(method=method, route=route)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ServiceNowSimulator, ServedApp]]:
    sim = ServiceNowSimulator(seed=7)
    with sim.serve() as server:
        yield sim, server
    sim.close()


@pytest.fixture
def snow(served: tuple[ServiceNowSimulator, ServedApp]) -> Snow:
    sim, server = served
    fixed = ("seed", "task_states", "risk_scale")
    sim.settings.update({k: v for k, v in SimSettings().as_dict().items() if k not in fixed})
    sim.faults.update(FaultConfig().as_dict())
    sim.reset()
    return Snow(sim, server)


@pytest.fixture
async def table(snow: Snow) -> AsyncIterator[ServiceNowTarget]:
    target = snow.target(api="table")
    yield target
    await target.aclose()


@pytest.fixture
async def change_api(snow: Snow) -> AsyncIterator[ServiceNowTarget]:
    target = snow.target(api="change")
    yield target
    await target.aclose()

"""Fixtures: the Remedy simulator served once per module (back to its seed and default knobs before
each test), and targets built from settings the way the daemon builds them, with quick retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import fields
from typing import Any

import pytest

from bridgeline.config import RemedySettings, settings_from_values
from bridgeline.connectors.http import RetryPolicy
from bridgeline.connectors.remedy import RemedyTarget
from bridgeline.sim import FaultConfig, ServedApp
from bridgeline.sim.remedy import INTEGRATION as REMEDY_INTEGRATION
from bridgeline.sim.remedy import RemedyConfig, RemedySimulator

FAST = RetryPolicy(attempts=3, initial=0.001, maximum=0.01, total=5, max_retry_after=2)

# What a Remedy mapping sends on create (the interface form's required values).
CHANGE_FIELDS: dict[str, Any] = {
    "Description": "Release INFRA 7.2",
    "Detailed Description": "Core network refresh",
    "Impact": "3-Moderate/Limited",
    "Urgency": "3-Medium",
    "Change Type": "Release",
    "Timing": "Normal",
    "Risk Level": "Risk Level 2",
    "Company": "Calbro Services",
    "Location Company": "Calbro Services",
    "First Name": "Bridgeline",
    "Last Name": "Integration",
    "Support Company": "Calbro Services",
    "Support Organization": "Release Management",
    "Support Group Name": "Release Coordinators",
}


class Remedy:
    def __init__(self, sim: RemedySimulator, server: ServedApp) -> None:
        self.sim = sim
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def settings(self, **values: Any) -> RemedySettings:
        section = {
            "url": self.url,
            "username": REMEDY_INTEGRATION[0],
            "password": REMEDY_INTEGRATION[1],
            **values,
        }
        settings = settings_from_values({"remedy": section}).remedy
        assert settings is not None
        return settings

    def target(self, **values: Any) -> RemedyTarget:
        return RemedyTarget.from_settings(self.settings(**values), retry=FAST)

    def calls(self, label: str) -> int:
        return int(self.sim.call_counts()["by_endpoint"].get(label, 0))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[RemedySimulator, ServedApp]]:
    sim = RemedySimulator(seed=11)
    with ServedApp(sim.app) as server:
        yield sim, server


@pytest.fixture
def remedy(served: tuple[RemedySimulator, ServedApp]) -> Remedy:
    sim, server = served
    defaults = RemedyConfig()
    for f in fields(RemedyConfig):
        setattr(sim.config, f.name, getattr(defaults, f.name))
    sim.faults.update(FaultConfig().as_dict())
    sim.reset()
    return Remedy(sim, server)


@pytest.fixture
async def target(remedy: Remedy) -> AsyncIterator[RemedyTarget]:
    t = remedy.target()
    yield t
    await t.aclose()

"""A Cloud and a Data Center Jira simulator, each served once per module and reset before each test;
plus a webhook receiver served on its own loopback port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridgeline.sim import FaultConfig, ServedApp, serve_in_thread
from bridgeline.sim.jira import JiraSimulator, RateLimitConfig, Settings, WebhookOptions

BRIDGELINE = ("bridgeline@example.com", "jira-api-7Rk2Qx4m")
ADMIN = ("admin@example.com", "admin-token")
VIEWER = ("viewer@example.com", "viewer-token")


@dataclass
class Served:
    sim: JiraSimulator
    served: ServedApp

    @property
    def url(self) -> str:
        return self.served.url

    def client(
        self, auth: tuple[str, str] | None = BRIDGELINE, path: str = "", **kwargs: Any
    ) -> httpx.Client:
        return httpx.Client(base_url=self.url + path, auth=auth, timeout=10.0, **kwargs)


def _fresh(sim: JiraSimulator) -> JiraSimulator:
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
    return sim


@pytest.fixture(scope="module")
def cloud_served() -> Iterator[Served]:
    sim = JiraSimulator(mode="cloud", seed=42)
    with serve_in_thread(sim.app) as served:
        yield Served(sim, served)


@pytest.fixture(scope="module")
def dc_served() -> Iterator[Served]:
    sim = JiraSimulator(mode="datacenter", seed=42)
    with serve_in_thread(sim.app) as served:
        yield Served(sim, served)


@pytest.fixture
def cloud(cloud_served: Served) -> Served:
    _fresh(cloud_served.sim)
    return cloud_served


@pytest.fixture
def dc(dc_served: Served) -> Served:
    _fresh(dc_served.sim)
    return dc_served


@pytest.fixture
def api(cloud: Served) -> Iterator[httpx.Client]:
    """An httpx client on the Cloud simulator, signed in as the integration account."""
    with cloud.client() as client:
        yield client


# -- a webhook receiver -------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Receiver:
    """Records every POST; answers with the queued statuses first, then 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[str]:
        with self.lock:
            return [r.json["webhookEvent"] for r in self.requests if r.body]


@pytest.fixture(scope="module")
def receiver_served() -> Iterator[Receiver]:
    receiver = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        with receiver.lock:
            receiver.requests.append(Received(dict(request.headers), body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
        return Response(status_code=status)

    app = Starlette(routes=[Route("/hook/{rest:path}", hook, methods=["POST"])])
    with serve_in_thread(app) as served:
        receiver.url = served.url + "/hook/jira"
        yield receiver


@pytest.fixture
def receiver(receiver_served: Receiver) -> Receiver:
    with receiver_served.lock:
        receiver_served.requests.clear()
        receiver_served.statuses.clear()
    return receiver_served

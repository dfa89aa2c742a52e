"""Fixtures: one ServiceNow simulator served per test module, reset to its seed before each test.

``snow`` is the simulator (fresh seed data, default knobs, no faults), ``url`` where it listens,
``api`` an httpx client logged in as the integration user and ``admin_api`` one logged in as admin.
``tls`` serves a second copy over https with a throwaway CA, for clients that insist (pysnc).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from bridgeline.sim import FaultConfig, ServedApp
from bridgeline.sim.servicenow import ServiceNowSimulator, SimSettings

INTEGRATION = ("bridgeline.integration", "snow-pw-4Kd9Vq7z")
ADMIN = ("admin", "admin")
CAB = ("alex.mercer", "cab")


@dataclass
class Served:
    sim: ServiceNowSimulator
    server: ServedApp

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    sim = ServiceNowSimulator(seed=42)
    with sim.serve() as server:
        yield Served(sim, server)
    sim.close()


@pytest.fixture
def snow(served: Served) -> ServiceNowSimulator:
    """The served simulator, back to seed data, default knobs and no faults."""
    sim = served.sim
    defaults = SimSettings()
    fixed = ("seed", "task_states", "risk_scale")
    sim.settings.update({k: v for k, v in defaults.as_dict().items() if k not in fixed})
    sim.faults.update(FaultConfig().as_dict())
    sim.reset()
    return sim


@pytest.fixture
def url(served: Served, snow: ServiceNowSimulator) -> str:
    return served.url


@pytest.fixture
def api(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, auth=INTEGRATION, timeout=10) as client:
        yield client


@pytest.fixture
def admin_api(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, auth=ADMIN, timeout=10) as client:
        yield client


@dataclass(frozen=True)
class TLSFiles:
    ca: str
    cert: str
    key: str


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it."""
    folder: Path = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert_path.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_path))
    return TLSFiles(str(ca_path), str(cert_path), str(key_path))

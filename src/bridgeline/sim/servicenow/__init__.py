"""A simulated ServiceNow instance for the demo, the end-to-end tests, chaos tests and benchmarks.

It speaks the Table API (``/api/now/table``), the Change Management API (``/api/sn_chg_rest``)
and OAuth 2 (``/oauth_token.do``) as documented, enforces the change state model, asks the CAB
for approval, sends outbound notifications like a Business Rule would, and rate-limits like a
rate limit rule. See ``docs/simulators/servicenow.md``.

::

    from bridgeline.sim.servicenow import ServiceNowSimulator

    sim = ServiceNowSimulator(seed=42)
    with sim.serve() as served:
        ...  # Basic auth admin / admin, or INTEGRATION (the integration account), at served.url
        sim.approve("CHG0030007", approver="alex.mercer")
"""

from __future__ import annotations

from bridgeline.sim.servicenow._errors import SimError
from bridgeline.sim.servicenow._inspect import SimState
from bridgeline.sim.servicenow._outbound import OutboundTarget, signature
from bridgeline.sim.servicenow._seed import INTEGRATION
from bridgeline.sim.servicenow._settings import SimSettings
from bridgeline.sim.servicenow._simulator import ServiceNowSimulator

__all__ = [
    "INTEGRATION",
    "OutboundTarget",
    "ServiceNowSimulator",
    "SimError",
    "SimSettings",
    "SimState",
    "signature",
]

"""A BMC Remedy / Helix ITSM simulator speaking the AR System REST API (``docs/simulators/remedy.md``).

::

    from bridgeline.sim import serve_in_thread
    from bridgeline.sim.remedy import RemedySimulator

    sim = RemedySimulator(seed=42)
    with serve_in_thread(sim.app) as served:
        ...                                   # AR-JWT login, CHG:ChangeInterface_Create, TMS:Task
        sim.approve("CRQ000000000106", approver="mary")
"""

from __future__ import annotations

from bridgeline.sim.remedy._config import DEFAULT_USERS, INTEGRATION, RemedyConfig, User
from bridgeline.sim.remedy._errors import ARError
from bridgeline.sim.remedy._simulator import RemedySimulator
from bridgeline.sim.remedy._state import RemedyState
from bridgeline.sim.remedy._workflow import ApprovalError

__all__ = [
    "DEFAULT_USERS",
    "INTEGRATION",
    "ARError",
    "ApprovalError",
    "RemedyConfig",
    "RemedySimulator",
    "RemedyState",
    "User",
]

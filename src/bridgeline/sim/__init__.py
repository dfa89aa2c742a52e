"""In-memory simulators of Jira, ServiceNow and BMC Remedy, served as ASGI apps.

They implement the vendors' documented APIs (see ``docs/simulators.md``), not bridgeline's
expectations: the independent clients ``jira``, ``pysnc`` and ``remedy-py`` are run against
them in the tests. Each simulator offers seed data, optional persistence to a JSON file,
and fault injection (latency, 5xx, 429 with ``Retry-After``, timeouts, connection resets)
configurable at start or at run time through ``/_sim/faults``.

This package imports nothing of bridgeline but :mod:`bridgeline.model`.
"""

from __future__ import annotations

from bridgeline.sim._faults import FaultConfig, FaultInjector
from bridgeline.sim._serve import ServedApp, serve_in_thread

__all__ = ["FaultConfig", "FaultInjector", "ServedApp", "serve_in_thread"]

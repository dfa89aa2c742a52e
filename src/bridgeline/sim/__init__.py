"""In-memory simulators of Jira, ServiceNow and BMC Remedy, served as ASGI apps.

They implement the vendors' documented APIs (see ``docs/simulators/``), not bridgeline's
expectations: the independent clients ``jira``, ``pysnc`` and ``remedy-py`` are run against
them in the tests. Each simulator offers seed data, optional persistence to a JSON file,
and fault injection (latency, 5xx, 429 with ``Retry-After``, timeouts, connection resets)
configurable at start or at run time through ``/_sim/faults``, and ``https://`` with a CA and
certificate made by :func:`make_tls_files` (the ``--https`` option of each simulator).

This package imports nothing of bridgeline but :mod:`bridgeline.model`.
"""

from __future__ import annotations

from bridgeline.sim._endpoints import read_endpoint, remove_endpoints, write_endpoints
from bridgeline.sim._faults import FaultConfig, FaultInjector
from bridgeline.sim._serve import ServedApp, serve_in_thread
from bridgeline.sim._tls import TLSError, TLSFiles, make_tls_files

__all__ = [
    "FaultConfig",
    "FaultInjector",
    "ServedApp",
    "TLSError",
    "TLSFiles",
    "make_tls_files",
    "read_endpoint",
    "remove_endpoints",
    "serve_in_thread",
    "write_endpoints",
]

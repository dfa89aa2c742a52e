"""bridgeline: Jira releases become ITIL change requests, and the CAB's answers come back to Jira."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]

"""bridgeline: Jira releases become ITIL change requests, and the CAB's answers come back to Jira."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

# The version lives in pyproject.toml alone; the installed package's metadata carries it.
try:
    __version__ = version("bridgeline")
except PackageNotFoundError:  # the source tree on sys.path without an install
    __version__ = "0+unknown"
__all__ = ["__version__"]

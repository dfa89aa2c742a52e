"""Fixtures of the operations tests: the simulators on loopback and a configuration file for them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _load_support() -> Any:
    name = "bridgeline_ops_support"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "support.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


support = _load_support()


@pytest.fixture
def sims() -> Iterator[Any]:
    with support.served_sims() as served:
        yield served


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test's own file and variables, never from the shell running the tests."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("BRIDGELINE_") and not name.upper().startswith("BRIDGELINE_TEST"):
            monkeypatch.delenv(name)

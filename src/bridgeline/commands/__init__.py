"""Subcommands of ``bridgeline`` beyond the core ones, one module per topic.

Each module defines ``register(subparsers)``; :mod:`bridgeline.cli` registers every module of this
package, in name order.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def register_all(subparsers: Any) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subparsers)

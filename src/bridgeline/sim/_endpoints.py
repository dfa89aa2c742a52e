"""Where a running demo's simulators listen, so that ``bridgeline sim <x> <action>`` finds them, and
what every such action shares (its target options, its errors, its exit codes).

``bridgeline demo`` writes ``<demo folder>/simulators.json`` while it runs (and removes it when it
stops)::

    {"jira": {"url": "http://127.0.0.1:41234", "mode": "cloud", "accounts": {...}},
     "servicenow": {"url": "...", "accounts": {...}}, "remedy": {"url": "...", "accounts": {...}}}

Each entry is what the simulator's ``endpoint(url)`` says: its URL, the CA file when it serves
https (``"ca"``), and the seeded accounts with their credentials.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bridgeline.sim._persist import save_json_atomic

FILE_NAME = "simulators.json"
DEMO_FOLDER = Path(".demo")


def write_endpoints(folder: Path, endpoints: dict[str, dict[str, Any]]) -> Path:
    path = folder / FILE_NAME
    save_json_atomic(path, endpoints)
    return path


def remove_endpoints(folder: Path) -> None:
    (folder / FILE_NAME).unlink(missing_ok=True)


def read_endpoint(folder: Path, simulator: str) -> dict[str, Any] | None:
    """The entry for ``simulator`` in ``folder``'s file; None when there is no (readable) file."""
    try:
        data = json.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = data.get(simulator) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) and isinstance(entry.get("url"), str) else None


@dataclass(frozen=True)
class Target:
    """The running simulator a command talks to, and where that was learnt."""

    url: str
    ca: str | None
    origin: str  # "--url", the demo file's path, or "the default"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca) if self.ca else True

    def unreachable(self, name: str, error: Exception) -> str:
        hint = " (is `bridgeline demo --serve` still running?)" if self.origin.endswith(FILE_NAME) else ""
        return f"cannot reach the {name} simulator at {self.url} (from {self.origin}){hint}: {error}"


def add_target_arguments(parser: argparse.ArgumentParser, default_port: int) -> None:
    """``--url``, ``--demo`` and ``--ca``: which running simulator an action is for."""
    parser.add_argument(
        "--url",
        help=f"the running simulator (default: the demo's, from .demo/{FILE_NAME}, "
        f"else http://127.0.0.1:{default_port})",
    )
    parser.add_argument(
        "--demo",
        type=Path,
        default=DEMO_FOLDER,
        help=f"the demo folder whose {FILE_NAME} names the running simulators (default .demo)",
    )
    parser.add_argument("--ca", help="CA file to trust for an https:// simulator")


def target_from_args(args: argparse.Namespace, simulator: str, default_port: int) -> Target:
    if args.url:
        return Target(args.url.rstrip("/"), args.ca, "--url")
    entry = read_endpoint(args.demo, simulator)
    if entry is not None:
        return Target(entry["url"].rstrip("/"), args.ca or entry.get("ca"), str(args.demo / FILE_NAME))
    return Target(f"http://127.0.0.1:{default_port}", args.ca, "the default")


class CommandError(Exception):
    """A refusal, said as a person should read it: exit code 1 (``usage``: 2, the command was wrong)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.exit_code = 2 if usage else 1


def run_command(target: Target, name: str, action: Callable[[], str]) -> int:
    """Run ``action`` and print what it says; refusals and an unreachable simulator on stderr."""
    try:
        print(action())
    except CommandError as error:
        print(error, file=sys.stderr)
        return error.exit_code
    except httpx.TransportError as error:
        print(target.unreachable(name, error), file=sys.stderr)
        return 2
    return 0


def add_cab_actions(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], change: str, approver: str
) -> list[argparse.ArgumentParser]:
    """``approve`` (or ``--reject``) and ``reject``: the CAB's answer on the change it waits for."""
    approve = actions.add_parser("approve", help="answer for the CAB: approve (or --reject) a change")
    approve.add_argument("--reject", action="store_true")
    approve.add_argument("--reason", help="why the CAB rejects (required with --reject)")
    approve.add_argument("--comment", help="approval comment")
    reject = actions.add_parser("reject", help="answer for the CAB: reject a change, with the reason")
    reject.add_argument("--reason", required=True, help="why the CAB rejects")
    reject.set_defaults(reject=True, comment=None)
    for parser in (approve, reject):
        parser.add_argument("change", help=change)
        parser.add_argument("--approver", help=approver)
    return [approve, reject]

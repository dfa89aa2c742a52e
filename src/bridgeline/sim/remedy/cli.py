"""``bridgeline sim remedy``: serve the Remedy simulator, or act on a change of a running one.

::

    bridgeline sim remedy --port 8083 --state .demo/remedy.json --latency-ms 50 --error-rate 0.05
    bridgeline sim remedy move CRQ000000000106 "Scheduled For Approval"     # actions: _commands.py
    bridgeline sim remedy approve CRQ000000000106 --url http://127.0.0.1:8083
    bridgeline sim remedy reject CRQ000000000106 --reason "Clashes with the freeze"

The main command calls :func:`register` with its ``sim`` subparsers; ``args.func(args)`` then runs
the chosen action and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bridgeline.sim._cli import (
    add_fault_arguments,
    add_tls_arguments,
    faults_from_args,
    port_number,
    serving_from_args,
)
from bridgeline.sim._serve import serve_until_stopped
from bridgeline.sim._tls import TLSError
from bridgeline.sim.remedy._commands import register_actions, run_action
from bridgeline.sim.remedy._config import DEFAULT_USERS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``remedy`` (serve) and its actions (``move``, ``approve``, ...) to ``sim``."""
    parser = subparsers.add_parser(
        "remedy",
        help="serve the BMC Remedy / Helix ITSM simulator (AR System REST API)",
        description="Serve the BMC Remedy simulator until Ctrl-C, or act on a change of a running one: "
        "move, approve, reject, close.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=8083)
    parser.add_argument(
        "--state", type=Path, help="JSON file: loaded when it exists, saved after every change"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="AR-JWT lifetime in seconds")
    add_fault_arguments(parser)
    parser.add_argument("--rate-limit", type=float, default=0.0, help="API calls per second before 429")
    parser.add_argument(
        "--rate-limit-rate", type=float, default=0.0, help="fraction of API calls answered 429"
    )
    parser.add_argument(
        "--approval-statuses",
        help="comma-separated statuses whose approval phase waits for the CAB "
        "(default: Request For Authorization,Request For Change,Scheduled For Approval)",
    )
    parser.add_argument("--cab-approver", action="append", help="login of a CAB approver (repeatable)")
    parser.add_argument("--create-location", choices=("interface", "change"), default="interface")
    add_tls_arguments(parser)
    parser.set_defaults(func=run, remedy_action=None)

    actions = parser.add_subparsers(dest="remedy_action", metavar="ACTION")
    register_actions(actions)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.remedy_action:
        return run_action(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:

    from bridgeline.sim.remedy._simulator import RemedySimulator

    try:
        serving = serving_from_args(args)
    except TLSError as error:
        print(error, file=sys.stderr)
        return 2
    faults = faults_from_args(
        args, rate_limit_per_second=args.rate_limit, rate_limit_rate=args.rate_limit_rate
    )
    knobs: dict[str, Any] = {"create_location": args.create_location}
    if args.approval_statuses is not None:
        knobs["approval_statuses"] = tuple(s.strip() for s in args.approval_statuses.split(",") if s.strip())
    if args.cab_approver:
        knobs["cab_approvers"] = tuple(args.cab_approver)
    sim = RemedySimulator(
        seed=args.seed, state_path=args.state, faults=faults, token_lifetime=args.token_lifetime, **knobs
    )
    url = f"{serving.scheme}://{args.host}:{args.port}"
    users = ", ".join(f"{login}/{user.password}" for login, user in DEFAULT_USERS.items())
    print(f"BMC Remedy simulator on {url}  (REST API {url}/api/arsys/v1, changes {url}/)", flush=True)
    if serving.trust_hint():
        print(serving.trust_hint(), flush=True)
    print(f"users: {users}; Ctrl-C to stop", flush=True)
    try:
        serve_until_stopped(
            sim.app, host=args.host, port=args.port, certfile=serving.certfile, keyfile=serving.keyfile
        )
    finally:
        serving.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m bridgeline.sim.remedy.cli ...``, the same as ``bridgeline sim remedy ...``."""
    parser = argparse.ArgumentParser(prog="bridgeline sim")
    register(parser.add_subparsers(dest="simulator", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

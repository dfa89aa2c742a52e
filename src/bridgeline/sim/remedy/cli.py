"""``bridgeline sim remedy``: serve the Remedy simulator, or act as the CAB on a running one.

::

    bridgeline sim remedy --port 8083 --state .demo/remedy.json --latency-ms 50 --error-rate 0.05
    bridgeline sim remedy approve CRQ000000000106 --url http://127.0.0.1:8083
    bridgeline sim remedy approve CRQ000000000106 --reject --reason "Clashes with the freeze"

The main command calls :func:`register` with its ``sim`` subparsers; ``args.func(args)`` then runs
the chosen action and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx

from bridgeline.sim._cli import add_fault_arguments, faults_from_args
from bridgeline.sim.remedy._config import DEFAULT_USERS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``remedy`` (serve) and ``remedy approve`` to a ``sim`` subparsers object."""
    parser = subparsers.add_parser(
        "remedy",
        help="serve the BMC Remedy / Helix ITSM simulator (AR System REST API)",
        description="Serve the BMC Remedy simulator until Ctrl-C, or approve or reject a change on one.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8083)
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
    parser.set_defaults(func=run, remedy_action=None)

    actions = parser.add_subparsers(dest="remedy_action", metavar="ACTION")
    approve = actions.add_parser("approve", help="approve (or --reject) the phase a change waits in")
    approve.add_argument("change", help="CRQ number, e.g. CRQ000000000106")
    approve.add_argument("--reject", action="store_true")
    approve.add_argument("--reason", help="why the CAB rejects (with --reject)")
    approve.add_argument("--approver", help="login of the approver (default: the pending approver)")
    approve.add_argument("--comment")
    approve.add_argument("--url", default="http://127.0.0.1:8083", help="the running simulator")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.remedy_action == "approve":
        return _approve(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bridgeline.sim.remedy._simulator import RemedySimulator

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
    url = f"http://{args.host}:{args.port}"
    users = ", ".join(f"{login}/{user.password}" for login, user in DEFAULT_USERS.items())
    print(f"BMC Remedy simulator on {url}  (REST API {url}/api/arsys/v1, changes {url}/)", flush=True)
    print(f"users: {users}; Ctrl-C to stop", flush=True)
    uvicorn.run(sim.app, host=args.host, port=args.port, log_level="warning")
    return 0


def _approve(args: argparse.Namespace) -> int:
    action = "reject" if args.reject else "approve"
    body = {"approver": args.approver}
    body.update({"reason": args.reason} if args.reject else {"comment": args.comment})
    try:
        response = httpx.post(
            f"{args.url.rstrip('/')}/_sim/changes/{args.change}/{action}", json=body, timeout=10
        )
    except httpx.HTTPError as error:
        print(f"cannot reach the Remedy simulator at {args.url}: {error}", file=sys.stderr)
        return 2
    if response.status_code != 200:
        print(
            f"{action} {args.change} failed ({response.status_code}): {response.json().get('error')}",
            file=sys.stderr,
        )
        return 1
    change = response.json()
    print(f"{change['Infrastructure Change ID']}: {change['Change Request Status']}")
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

"""``bridgeline sim servicenow``: serve the ServiceNow simulator, or act on a change of a running one.

::

    bridgeline sim servicenow --port 8082 --state .demo/servicenow.json --latency-ms 50 --rate-limit 20
    bridgeline sim servicenow --https                     # TLS with a CA made at start; prints the CA file
    bridgeline sim servicenow assess CHG0030007           # the actions: see _commands.py
    bridgeline sim servicenow approve CHG0030007 --url http://127.0.0.1:8082
    bridgeline sim servicenow reject CHG0030007 --reason "Clashes with the release freeze"

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
from bridgeline.sim.servicenow._commands import register_actions, run_action
from bridgeline.sim.servicenow._seed import USERS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``servicenow`` (serve) and its actions (``assess``, ``approve``, ...) to ``sim``."""
    parser = subparsers.add_parser(
        "servicenow",
        help="serve the ServiceNow simulator (Table API, Change Management API, OAuth)",
        description="Serve the ServiceNow simulator until Ctrl-C, or act on a change of a running one: "
        "assess, approve, reject, move, close.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=8082)
    parser.add_argument(
        "--state", type=Path, help="JSON file: loaded when it exists, saved after every change"
    )
    parser.add_argument("--seed", type=int, default=42)
    add_tls_arguments(parser)
    parser.add_argument(
        "--token-lifetime", type=float, default=1799.0, help="OAuth access token lifetime (s)"
    )
    parser.add_argument(
        "--transition-refusal",
        choices=("error", "ignore"),
        default="error",
        help="how the Table API answers a forbidden state change: 403, or 200 with the state unchanged",
    )
    parser.add_argument("--on-rejection", choices=("new", "canceled", "stay"), default="new")
    parser.add_argument(
        "--rate-limit", type=int, default=0, help="rate limit rule: API calls per user per second (0 = off)"
    )
    add_fault_arguments(parser)
    parser.add_argument("--outbound-url", help="send change notifications here (like the Business Rule)")
    parser.add_argument("--outbound-secret", help="HMAC secret for X-Bridgeline-Signature")
    parser.set_defaults(func=run, servicenow_action=None)

    actions = parser.add_subparsers(dest="servicenow_action", metavar="ACTION")
    register_actions(actions)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.servicenow_action:
        return run_action(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:

    from bridgeline.sim.servicenow._simulator import ServiceNowSimulator

    try:
        serving = serving_from_args(args)
    except TLSError as error:
        print(error, file=sys.stderr)
        return 2
    faults = faults_from_args(args)
    sim = ServiceNowSimulator(
        seed=args.seed,
        state_path=args.state,
        faults=faults,
        token_lifetime=args.token_lifetime,
        table_transition_refusal=args.transition_refusal,
        on_rejection=args.on_rejection,
        rate_limit=args.rate_limit,
    )
    if args.outbound_url:
        sim.register_outbound(args.outbound_url, secret=args.outbound_secret)
    url = f"{serving.scheme}://{args.host}:{args.port}"
    users = ", ".join(f"{name}/{password}" for name, *_, password in USERS if password)
    print(f"ServiceNow simulator on {url}  (changes {url}/change_request_list.do)", flush=True)
    if serving.trust_hint():
        print(serving.trust_hint(), flush=True)
    print(f"users: {users}; OAuth client bridgeline-client/bridgeline-secret; Ctrl-C to stop", flush=True)
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "warning"}
    options.update(certfile=serving.certfile, keyfile=serving.keyfile)
    try:
        serve_until_stopped(sim.app, **options)
    finally:
        sim.close()
        serving.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m bridgeline.sim.servicenow.cli ...``, the same as ``bridgeline sim servicenow ...``."""
    parser = argparse.ArgumentParser(prog="bridgeline sim")
    register(parser.add_subparsers(dest="simulator", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

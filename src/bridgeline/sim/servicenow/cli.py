"""``bridgeline sim servicenow``: serve the ServiceNow simulator, or act as the CAB on a running one.

::

    bridgeline sim servicenow --port 8082 --state .demo/servicenow.json --latency-ms 50 --rate-limit 20
    bridgeline sim servicenow approve CHG0030007 --url http://127.0.0.1:8082
    bridgeline sim servicenow approve CHG0030007 --reject --reason "Clashes with the release freeze"

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
from bridgeline.sim.servicenow._seed import USERS
from bridgeline.sim.servicenow._statemodel import label


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``servicenow`` (serve) and ``servicenow approve`` to a ``sim`` subparsers object."""
    parser = subparsers.add_parser(
        "servicenow",
        help="serve the ServiceNow simulator (Table API, Change Management API, OAuth)",
        description="Serve the ServiceNow simulator until Ctrl-C, or approve or reject a change on one.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument(
        "--state", type=Path, help="JSON file: loaded when it exists, saved after every change"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tls-cert", help="certificate file (PEM): serve https://")
    parser.add_argument("--tls-key", help="private key file (PEM) for --tls-cert")
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
    approve = actions.add_parser("approve", help="answer for the CAB: approve (or --reject) a change")
    approve.add_argument("change", help="change number, e.g. CHG0030007")
    approve.add_argument("--reject", action="store_true")
    approve.add_argument("--reason", help="why the CAB rejects (required with --reject)")
    approve.add_argument("--approver", help="user_name of the approver (default: the first pending one)")
    approve.add_argument("--comment", help="approval comment")
    approve.add_argument("--url", default="http://127.0.0.1:8082", help="the running simulator")
    approve.add_argument("--ca", help="CA bundle to trust for an https:// simulator")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.servicenow_action == "approve":
        return _approve(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bridgeline.sim.servicenow._simulator import ServiceNowSimulator

    if bool(args.tls_cert) != bool(args.tls_key):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
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
    scheme = "https" if args.tls_cert else "http"
    url = f"{scheme}://{args.host}:{args.port}"
    users = ", ".join(f"{name}/{password}" for name, *_, password in USERS if password)
    print(f"ServiceNow simulator on {url}  (changes {url}/change_request_list.do)", flush=True)
    print(f"users: {users}; OAuth client bridgeline-client/bridgeline-secret; Ctrl-C to stop", flush=True)
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "warning"}
    if args.tls_cert:
        options.update(ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key)
    try:
        uvicorn.run(sim.app, **options)
    finally:
        sim.close()
    return 0


def _approve(args: argparse.Namespace) -> int:
    if args.reject and not args.reason:
        print("--reject needs --reason: the CAB says why", file=sys.stderr)
        return 2
    body: dict[str, Any] = {"reject": bool(args.reject), "approver": args.approver}
    body["reason"] = args.reason if args.reject else args.comment
    verify: bool | str = args.ca or True
    try:
        response = httpx.post(
            f"{args.url.rstrip('/')}/_sim/approve/{args.change}", json=body, timeout=10, verify=verify
        )
    except httpx.HTTPError as error:
        print(f"cannot reach the ServiceNow simulator at {args.url}: {error}", file=sys.stderr)
        return 2
    if response.status_code != 200:
        problem = response.json().get("error", {})
        print(
            f"{'reject' if args.reject else 'approve'} {args.change} failed ({response.status_code}): "
            f"{problem.get('message')} {problem.get('detail') or ''}".rstrip(),
            file=sys.stderr,
        )
        return 1
    change = response.json()["result"]
    print(f"{change['number']}: approval {change['approval']}, state {label(change['state'])}")
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

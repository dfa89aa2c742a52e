"""``bridgeline sim jira``: serve the Jira simulator until Ctrl-C.

::

    bridgeline sim jira --port 8081 --mode cloud --state .demo/jira.json --latency-ms 30

Also runnable alone: ``python -m bridgeline.sim.jira.cli --port 8081``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import uvicorn

from bridgeline.sim._cli import add_fault_arguments, faults_from_args
from bridgeline.sim.jira._ratelimit import RateLimitConfig
from bridgeline.sim.jira._seed import JiraScale
from bridgeline.sim.jira._simulator import JiraSimulator
from bridgeline.sim.jira._webhook_events import QUIRKS
from bridgeline.sim.jira._webhooks import WebhookOptions


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``jira`` to an argparse subparsers object; the parsed args carry ``func``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "jira",
        help="serve a simulated Jira (Cloud or Data Center)",
        description="Serve an in-memory Jira with seed data, fault injection and webhooks until Ctrl-C.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    serve = parser.add_argument_group("serving")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    serve.add_argument(
        "--mode", choices=("cloud", "datacenter"), default="cloud", help="deployment (default cloud)"
    )
    serve.add_argument(
        "--state", metavar="FILE", help="load state from FILE (seed it when missing) and save changes"
    )
    serve.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--keyfile", help="private key for --certfile")
    serve.add_argument("--log-level", default="info", help="uvicorn log level (default info)")

    data = parser.add_argument_group("seed data")
    data.add_argument("--seed", type=int, default=42, help="seed for the generated data (default 42)")
    data.add_argument("--projects", type=int, default=3, help="projects to generate (default 3)")
    data.add_argument("--versions", type=int, default=12, help="versions to generate (default 12)")
    data.add_argument("--issues", type=int, default=300, help="issues to generate (default 300)")

    chaos = parser.add_argument_group("faults")
    add_fault_arguments(chaos)
    chaos.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        metavar="N",
        help="Jira-style limit: N calls per second per credential",
    )
    chaos.add_argument("--search-lag-ms", type=int, default=0, help="searches see changes this much later")

    hooks = parser.add_argument_group("webhooks")
    hooks.add_argument("--webhook-delay-ms", type=float, default=0.0, help="delay before each delivery")
    hooks.add_argument(
        "--webhook-reorder-ms", type=float, default=0.0, help="random extra delay that reorders"
    )
    hooks.add_argument("--webhook-duplicate-rate", type=float, default=0.0, help="fraction delivered twice")
    hooks.add_argument(
        "--webhook-quirk",
        action="append",
        default=[],
        choices=sorted(QUIRKS),
        help="payload quirk seen in the wild (repeatable)",
    )


def build(args: argparse.Namespace) -> JiraSimulator:
    faults = faults_from_args(args)
    options = WebhookOptions(
        delay_ms=args.webhook_delay_ms,
        reorder_window_ms=args.webhook_reorder_ms,
        duplicate_rate=args.webhook_duplicate_rate,
        quirks=list(args.webhook_quirk),
    )
    sim = JiraSimulator(
        mode=args.mode,
        seed=args.seed,
        scale=JiraScale(projects=args.projects, versions=args.versions, issues=args.issues),
        state_path=args.state,
        faults=faults,
        webhook_options=options,
        rate_limit=RateLimitConfig(limit=args.rate_limit),
    )
    if args.search_lag_ms:
        sim.state.settings.search_lag_ms = args.search_lag_ms
    return sim


def run(args: argparse.Namespace) -> int:
    sim = build(args)
    scheme = "https" if args.certfile else "http"
    state = sim.state
    with state.lock:
        counts = f"{len(state.projects)} projects, {len(state.versions)} versions, {len(state.issues)} issues"
    print(f"Jira simulator ({args.mode}) on {scheme}://{args.host}:{args.port}  [{counts}]", file=sys.stderr)
    print(
        "  accounts: bridgeline@example.com / bridgeline-token, admin@example.com / admin-token",
        file=sys.stderr,
    )
    uvicorn.run(
        sim.app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
        timeout_graceful_shutdown=2,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bridgeline-sim-jira", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

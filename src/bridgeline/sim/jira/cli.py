"""``bridgeline sim jira``: serve the Jira simulator until Ctrl-C, or edit an issue of a running one.

::

    bridgeline sim jira --port 8081 --mode cloud --state .demo/jira.json --latency-ms 30
    bridgeline sim jira edit PAY-3 --status "In Review" --add-label hotfix     # see _commands.py

Also runnable alone: ``python -m bridgeline.sim.jira.cli --port 8081``.
"""

from __future__ import annotations

import argparse
import sys
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
from bridgeline.sim.jira._commands import register_actions, run_action
from bridgeline.sim.jira._http import credentials
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
        description="Serve an in-memory Jira with seed data, fault injection and webhooks until Ctrl-C, "
        "or edit an issue of a running one.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    serve = parser.add_argument_group("serving")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=port_number, default=8081, help="port to listen on (default 8081)")
    serve.add_argument(
        "--mode", choices=("cloud", "datacenter"), default="cloud", help="deployment (default cloud)"
    )
    serve.add_argument(
        "--state", metavar="FILE", help="load state from FILE (seed it when missing) and save changes"
    )
    add_tls_arguments(serve, cert_flags=("--tls-cert", "--certfile"), key_flags=("--tls-key", "--keyfile"))
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
    parser.set_defaults(jira_action=None)
    register_actions(parser.add_subparsers(dest="jira_action", metavar="ACTION"))


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
    if args.jira_action:
        return run_action(args)
    try:
        serving = serving_from_args(args)
    except TLSError as error:
        print(error, file=sys.stderr)
        return 2
    sim = build(args)
    state = sim.state
    with state.lock:
        counts = f"{len(state.projects)} projects, {len(state.versions)} versions, {len(state.issues)} issues"
    url = f"{serving.scheme}://{args.host}:{args.port}"
    print(f"Jira simulator ({args.mode}) on {url}  [{counts}]", file=sys.stderr)
    if serving.trust_hint():
        print(f"  {serving.trust_hint()}", file=sys.stderr)
    for line in sign_in_lines(sim):
        print(line, file=sys.stderr)
    try:
        serve_until_stopped(
            sim.app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            certfile=serving.certfile,
            keyfile=serving.keyfile,
        )
    finally:
        serving.close()
    return 0


def sign_in_lines(sim: JiraSimulator) -> list[str]:
    """The accounts and the credentials the simulator's mode accepts, one line per account."""
    how = (
        "Cloud: HTTP Basic with email and API token"
        if sim.mode == "cloud"
        else "Data Center: a personal access token (Authorization: Bearer) or HTTP Basic with username "
        "and password"
    )
    by_user: dict[str, list[str]] = {}
    for credential in credentials(sim):
        label = credential.user.name + (" (read-only)" if credential.user.read_only else "")
        by_user.setdefault(label, []).append(str(credential))
    return [f"  sign in ({how}):"] + [f"    {who}: {', '.join(ways)}" for who, ways in by_user.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bridgeline-sim-jira", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

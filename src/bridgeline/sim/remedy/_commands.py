"""What a person does to a change on a running Remedy server, from the command line::

    bridgeline sim remedy move CRQ000000000106 "Scheduled For Approval"   # walk there; stop at the CAB
    bridgeline sim remedy approve CRQ000000000106 --comment "CAB 2030-01-21"
    bridgeline sim remedy reject CRQ000000000106 --reason "Clashes with the freeze"
    bridgeline sim remedy move CRQ000000000106 "Implementation In Progress"
    bridgeline sim remedy close CRQ000000000106 --reason Successful      # Completed, then Closed

``move`` walks the normal path (Draft, Request For Authorization, ..., Scheduled,
Implementation In Progress, Completed, Closed) one status at a time as the change coordinator
(``mary``), and stops where the change waits for the CAB; any other status (Pending, Cancelled,
Draft again) is one manual step, checked like a PUT. Each finds the simulator with ``--url``, else
in the running demo's ``.demo/simulators.json``, else on port 8083.
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx

from bridgeline.sim._endpoints import (
    CommandError,
    Target,
    add_cab_actions,
    add_target_arguments,
    run_command,
    target_from_args,
)
from bridgeline.sim.remedy._forms import COMPLETION_REASONS
from bridgeline.sim.remedy._workflow import HAPPY_PATH

DEFAULT_PORT = 8083


def register_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cab = add_cab_actions(
        actions, "CRQ number, e.g. CRQ000000000106", "login of the approver (default: the pending approver)"
    )
    move = actions.add_parser(
        "move", help="move a change to a status, along the normal path up to where the CAB decides"
    )
    move.add_argument("change", help="CRQ number, e.g. CRQ000000000106")
    move.add_argument("status", help='the status to reach, e.g. "Scheduled For Approval"')
    move.add_argument("--reason", help="Status Reason (Completed, Pending, Cancelled take one)")
    close = actions.add_parser("close", help="complete and close a change (through the statuses before)")
    close.add_argument("change", help="CRQ number, e.g. CRQ000000000106")
    close.add_argument(
        "--reason",
        default="Successful",
        choices=COMPLETION_REASONS,
        help="Status Reason (default Successful)",
    )
    for parser in (*cab, move, close):
        add_target_arguments(parser, DEFAULT_PORT)


def run_action(args: argparse.Namespace) -> int:
    target = target_from_args(args, "remedy", DEFAULT_PORT)

    def act() -> str:
        if args.remedy_action in ("approve", "reject"):
            return _decide(target, args)
        status = "Closed" if args.remedy_action == "close" else args.status
        return _move(target, args.change, status, args.reason)

    return run_command(target, "Remedy", act)


def _decide(target: Target, args: argparse.Namespace) -> str:
    if args.reject and not args.reason:
        raise CommandError("--reject needs --reason: the CAB says why", usage=True)
    action = "reject" if args.reject else "approve"
    body: dict[str, Any] = {"approver": args.approver}
    body.update({"reason": args.reason} if args.reject else {"comment": args.comment})
    change = _post(target, args.change, action, body)
    return f"{change['Infrastructure Change ID']}: {change['Change Request Status']}"


def _move(target: Target, crq: str, status: str, reason: str | None) -> str:
    if status in HAPPY_PATH and status != HAPPY_PATH[0]:
        change = _post(target, crq, "advance", {"to": status, "status_reason": reason, "approve": False})
    else:
        change = _post(target, crq, "status", {"status": status, "status_reason": reason})
    reached = change["Change Request Status"]
    if reached == status:
        return f"{change['Infrastructure Change ID']}: {reached}"
    response = httpx.get(f"{target.url}/_sim/changes/{crq}", timeout=10, verify=target.verify)
    phase = response.json().get("waiting_for") if response.status_code == 200 else None
    if phase:
        raise CommandError(
            f"{crq}: {reached}, waiting for the CAB ({phase}): "
            f"`bridgeline sim remedy approve {crq}` (or `reject`), then move it on"
        )
    raise CommandError(f"{crq}: {reached}, not {status}")


def _post(target: Target, crq: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{target.url}/_sim/changes/{crq}/{action}", json=body, timeout=10, verify=target.verify
    )
    if response.status_code != 200:
        raise CommandError(f"{action} {crq} failed ({response.status_code}): {_problem(response)}")
    change: dict[str, Any] = response.json()
    return change


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = body.get("detail")
    return f"{body.get('error')}{f' ({detail})' if detail else ''}"

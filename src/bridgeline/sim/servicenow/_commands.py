"""What a person does to a change on a running instance, from the command line::

    bridgeline sim servicenow assess CHG0030007           # ask the CAB (Assess; Authorize if emergency)
    bridgeline sim servicenow approve CHG0030007 --comment "CAB 2025-03-04"
    bridgeline sim servicenow reject CHG0030007 --reason "No backout plan"
    bridgeline sim servicenow move CHG0030007 implement   # scheduled, implement, review, new, canceled
    bridgeline sim servicenow close CHG0030007 --code successful --notes "Deployed without issues"

``assess``, ``move`` and ``close`` write through the Table API as the change manager
(``beth.anguiano``; ``--user``/``--password`` for someone else), one state at a time along the
change's path, so the state model, the CAB and the outbound notifications behave as they do for a
person at an instance; never as the integration account, whose own changes bridgeline ignores.
``approve`` and ``reject`` answer for the CAB through ``/_sim/approve``. Each finds the simulator
with ``--url``, else in the running demo's ``.demo/simulators.json``, else on port 8082.
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
    read_endpoint,
    run_command,
    target_from_args,
)
from bridgeline.sim.servicenow import _statemodel as sm
from bridgeline.sim.servicenow._seed import USERS

DEFAULT_PORT = 8082
CHANGE_MANAGER = "beth.anguiano"
CHANGES = "/api/now/table/change_request"
# forward order of the states; each change type walks the part of it its model allows
ORDER = (sm.NEW, sm.ASSESS, sm.AUTHORIZE, sm.SCHEDULED, sm.IMPLEMENT, sm.REVIEW, sm.CLOSED)
STATES = {sm.label(s).lower(): s for s in (*ORDER, sm.CANCELED) if s != sm.CLOSED}


def register_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cab = add_cab_actions(
        actions,
        "change number, e.g. CHG0030007",
        "user_name of the approver (default: the first pending one)",
    )
    assess = actions.add_parser(
        "assess", help="ask the CAB: move a change to Assess (Authorize for an emergency change)"
    )
    assess.add_argument("change", help="change number, e.g. CHG0030007")
    move = actions.add_parser(
        "move", help="move a change to a state, one step at a time along its path, as the change manager"
    )
    move.add_argument("change", help="change number, e.g. CHG0030007")
    move.add_argument("state", choices=sorted(STATES), help="the state to reach")
    close = actions.add_parser("close", help="close a change (through Implement and Review if need be)")
    close.add_argument("change", help="change number, e.g. CHG0030007")
    close.add_argument(
        "--code",
        required=True,
        choices=("successful", "successful_issues", "unsuccessful"),
        help="close code",
    )
    close.add_argument("--notes", required=True, help="close notes")
    for parser in (assess, move, close):
        parser.add_argument(
            "--user", default=CHANGE_MANAGER, help=f"who makes the change (default {CHANGE_MANAGER})"
        )
        parser.add_argument("--password", help="the user's password (default: the seeded one)")
    for parser in (*cab, assess, move, close):
        add_target_arguments(parser, DEFAULT_PORT)


def run_action(args: argparse.Namespace) -> int:
    target = target_from_args(args, "servicenow", DEFAULT_PORT)
    decide = args.servicenow_action in ("approve", "reject")
    return run_command(target, "ServiceNow", lambda: _decide(target, args) if decide else _walk(target, args))


def _decide(target: Target, args: argparse.Namespace) -> str:
    if args.reject and not args.reason:
        raise CommandError("--reject needs --reason: the CAB says why", usage=True)
    body: dict[str, Any] = {"reject": bool(args.reject), "approver": args.approver}
    body["reason"] = args.reason if args.reject else args.comment
    response = httpx.post(
        f"{target.url}/_sim/approve/{args.change}", json=body, timeout=10, verify=target.verify
    )
    if response.status_code != 200:
        raise CommandError(
            f"{'reject' if args.reject else 'approve'} {args.change} failed ({response.status_code}): "
            f"{_problem(response)}"
        )
    change = response.json()["result"]
    return f"{change['number']}: approval {change['approval']}, state {sm.label(change['state'])}"


def _walk(target: Target, args: argparse.Namespace) -> str:
    auth = (args.user, args.password or _password(args, args.user))
    with httpx.Client(base_url=target.url, auth=auth, timeout=10, verify=target.verify) as api:
        change = _read(api, args.change)
        if args.servicenow_action == "assess":
            goal = {"normal": sm.ASSESS, "emergency": sm.AUTHORIZE}.get(change.get("type", "normal"))
            if goal is None:
                raise CommandError(
                    f"{args.change} is a {change.get('type')} change: pre-approved, the CAB is not asked. "
                    f"Move it on with `bridgeline sim servicenow move {args.change} scheduled`"
                )
        elif args.servicenow_action == "close":
            goal = sm.CLOSED
        else:
            goal = STATES[args.state]
        passed = [sm.label(change["state"])]
        for step in _path(change, goal):
            values = {"state": step}
            if step == sm.CLOSED:
                values.update(close_code=args.code, close_notes=args.notes)
            response = api.patch(f"{CHANGES}/{change['sys_id']}", json=values)
            if response.status_code != 200:
                raise CommandError(f"{' -> '.join(passed)}: {_problem(response)}{_hint(change, step)}")
            change = response.json()["result"]
            if change["state"] != step:  # the knob table_transition_refusal="ignore"
                raise CommandError(
                    f"{' -> '.join(passed)}: the instance left {args.change} in {sm.label(change['state'])}"
                )
            passed.append(sm.label(step))
    moved = " -> ".join(passed) if len(passed) > 1 else f"already {passed[0]}"
    return f"{change['number']}: {moved} (approval {change['approval']})"


def _path(change: dict[str, Any], goal: str) -> list[str]:
    """The states from the change's own to ``goal``, forward along its type's model; a goal behind
    it (or off its path) is one step, for the instance to allow or refuse."""
    current = change["state"]
    if goal == current:
        return []
    if goal not in ORDER or current not in ORDER or ORDER.index(goal) < ORDER.index(current):
        return [goal]
    model = sm.model_for(change)
    steps: list[str] = []
    state = current
    while state != goal:
        ahead = [s for s in model.get(state, ()) if s in ORDER and ORDER.index(state) < ORDER.index(s)]
        ahead = [s for s in ahead if ORDER.index(s) <= ORDER.index(goal)]
        if not ahead:
            return [*steps, goal]
        state = ahead[0]
        steps.append(state)
    return steps


def _hint(change: dict[str, Any], step: str) -> str:
    if change["state"] == sm.AUTHORIZE and step == sm.SCHEDULED and change.get("approval") != "approved":
        number = change["number"]
        return f"\nThe CAB decides first: `bridgeline sim servicenow approve {number}` (or `reject`)"
    return ""


def _read(api: httpx.Client, number: str) -> dict[str, Any]:
    response = api.get(
        CHANGES,
        params={
            "sysparm_query": f"number={number}",
            "sysparm_fields": "sys_id,number,state,type,approval",
            "sysparm_limit": "1",
        },
    )
    if response.status_code != 200:
        raise CommandError(f"cannot read {number} ({response.status_code}): {_problem(response)}")
    found = response.json()["result"]
    if not found:
        raise CommandError(f"no change request {number}: check the number (CHG...)")
    row: dict[str, Any] = found[0]
    return row


def _password(args: argparse.Namespace, user: str) -> str:
    entry = read_endpoint(args.demo, "servicenow") if not args.url else None
    known = (entry or {}).get("accounts", {}).get(user, {}).get("password")
    if known:
        return str(known)
    seeded = {name: password for name, *_, password in USERS if password}
    if user not in seeded:
        raise CommandError(f"no known password for {user}: give it with --password", usage=True)
    return seeded[user]


def _problem(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return response.text[:200]
    if isinstance(error, dict):
        return f"{error.get('message')} {error.get('detail') or ''}".strip()
    return str(error)

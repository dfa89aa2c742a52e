"""What a person does to an issue on a running Jira, from the command line::

    bridgeline sim jira edit PAY-3 --summary "Retry card authorisations" --status "In Review"
    bridgeline sim jira edit PAY-3 --add-label hotfix --remove-label backend --fix-version 3.3.0
    bridgeline sim jira edit PAY-3 --remove-fix-version 3.2.0 --comment "Moved to the next release"

The edit goes through the REST API (``/rest/api/2``) as the Jira administrator (``--user`` for
another seeded account), so ``updated``, the changelog and the webhooks follow as for a person in
Jira; never as the integration account, whose own changes bridgeline ignores. ``--status`` takes
the target status (or the transition's name) of a transition available from the issue's status.
The simulator is found with ``--url``, else in the running demo's ``.demo/simulators.json``, else
on port 8081.
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx

from bridgeline.sim._endpoints import (
    CommandError,
    Target,
    add_target_arguments,
    read_endpoint,
    run_command,
    target_from_args,
)
from bridgeline.sim.jira._seed_data import ACCOUNTS

DEFAULT_PORT = 8081


def register_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    edit = actions.add_parser(
        "edit", help="edit an issue as a person would: summary, status, labels, fix versions, a comment"
    )
    edit.add_argument("issue", help="issue key, e.g. PAY-3")
    edit.add_argument("--summary", help="the new summary")
    edit.add_argument("--status", help='move it to this status, e.g. "In Review" (one transition)')
    edit.add_argument("--add-label", action="append", default=[], metavar="LABEL", help="repeatable")
    edit.add_argument("--remove-label", action="append", default=[], metavar="LABEL", help="repeatable")
    edit.add_argument(
        "--fix-version", action="append", default=[], metavar="NAME", help="add a fix version (repeatable)"
    )
    edit.add_argument("--remove-fix-version", action="append", default=[], metavar="NAME", help="repeatable")
    edit.add_argument("--comment", help="add a comment (wiki markup)")
    edit.add_argument("--user", default="admin", help="the seeded account that edits (default admin)")
    add_target_arguments(edit, DEFAULT_PORT)


def run_action(args: argparse.Namespace) -> int:
    target = target_from_args(args, "jira", DEFAULT_PORT)
    return run_command(target, "Jira", lambda: _edit(target, args))


def _edit(target: Target, args: argparse.Namespace) -> str:
    wanted = (args.summary, args.status, args.add_label, args.remove_label, args.fix_version)
    if not any(wanted) and not (args.remove_fix_version or args.comment):
        raise CommandError(
            "nothing to change: give --summary, --status, --add-label, --remove-label, "
            "--fix-version, --remove-fix-version or --comment",
            usage=True,
        )
    key = args.issue
    with _client(target, args) as api:
        issue = _issue(api, key)
        fields: dict[str, Any] = {"summary": args.summary} if args.summary else {}
        update: dict[str, list[dict[str, Any]]] = {}
        labels = [{"add": x} for x in args.add_label] + [{"remove": x} for x in args.remove_label]
        versions = [{"add": {"name": v}} for v in args.fix_version]
        versions += [{"remove": {"name": v}} for v in args.remove_fix_version]
        if labels:
            update["labels"] = labels
        if versions:
            update["fixVersions"] = versions
        if fields or update:
            _check(api.put(f"/rest/api/2/issue/{key}", json={"fields": fields, "update": update}), key)
        if args.status:
            _transition(api, key, issue, args.status)
        if args.comment:
            _check(api.post(f"/rest/api/2/issue/{key}/comment", json={"body": args.comment}), key)
        after = _issue(api, key)["fields"]
    shown = [
        after["status"]["name"],
        f"labels: {', '.join(after['labels']) or 'none'}",
        f"fix versions: {', '.join(v['name'] for v in after['fixVersions']) or 'none'}",
    ]
    return f"{key}: {'; '.join(shown)}"


def _transition(api: httpx.Client, key: str, issue: dict[str, Any], status: str) -> None:
    current = issue["fields"]["status"]["name"]
    if current.lower() == status.lower():
        return
    response = api.get(f"/rest/api/2/issue/{key}/transitions")
    _check(response, key)
    available = response.json()["transitions"]
    chosen = next(
        (t for t in available if status.lower() in (t["to"]["name"].lower(), t["name"].lower())), None
    )
    if chosen is None:
        names = ", ".join(t["to"]["name"] for t in available) or "nothing"
        raise CommandError(f"{key} is {current}: from there it can move to {names}, not {status}")
    _check(api.post(f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": chosen["id"]}}), key)


def _issue(api: httpx.Client, key: str) -> dict[str, Any]:
    response = api.get(f"/rest/api/2/issue/{key}", params={"fields": "summary,status,labels,fixVersions"})
    _check(response, key)
    issue: dict[str, Any] = response.json()
    return issue


def _client(target: Target, args: argparse.Namespace) -> httpx.Client:
    entry = read_endpoint(args.demo, "jira") if not args.url else None
    mode = (entry or {}).get("mode") or _mode(target)
    account = (entry or {}).get("accounts", {}).get(args.user) or _seeded(args.user, mode)
    if mode == "cloud":
        auth = httpx.BasicAuth(account["email"], account["api_token"])
        return httpx.Client(base_url=target.url, auth=auth, timeout=10, verify=target.verify)
    headers = {"Authorization": f"Bearer {account['token']}"}
    return httpx.Client(base_url=target.url, headers=headers, timeout=10, verify=target.verify)


def _mode(target: Target) -> str:
    response = httpx.get(f"{target.url}/rest/api/2/serverInfo", timeout=10, verify=target.verify)
    if response.status_code != 200:
        raise CommandError(f"{target.url} does not say what Jira it is ({response.status_code})")
    return "cloud" if response.json().get("deploymentType") == "Cloud" else "datacenter"


def _seeded(user: str, mode: str) -> dict[str, str]:
    for name, _display, email, _tz, token, pat, _password, _admin, _read_only in ACCOUNTS:
        if name == user:
            return {"email": email, "api_token": token} if mode == "cloud" else {"token": pat}
    known = ", ".join(a[0] for a in ACCOUNTS)
    raise CommandError(f"no seeded account {user!r}: choose one of {known}", usage=True)


def _check(response: httpx.Response, key: str) -> None:
    if response.status_code < 300:
        return
    try:
        body = response.json()
        problems = [*body.get("errorMessages", []), *(f"{f}: {m}" for f, m in body.get("errors", {}).items())]
    except (ValueError, AttributeError):
        problems = [response.text[:200]]
    raise CommandError(f"{key}: Jira answered {response.status_code}: {'; '.join(problems)}")

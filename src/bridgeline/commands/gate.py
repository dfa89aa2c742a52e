"""``bridgeline gate``: the pipeline step that asks the deployment gate, and waits while it says awaiting.

::

    export BRIDGELINE_URL=https://bridgeline.example.com
    export BRIDGELINE_PIPELINE_TOKEN=...            # pipelines.<name>.token
    bridgeline gate --project PAY --version 1.4.0 --environment production --wait 1h --interval 60

Each answer that differs from the one before is printed (``awaiting: CHG0030001 is not approved
yet``). Exit codes: 0 allowed; 1 prevented or invalid; 2 a usage error (an option or the
environment missing, a question the gate refuses as malformed); 3 still awaiting when the wait
ended (or without ``--wait``); 4 the gate could not be asked (unreachable, a refused token, a
project the token may not ask about).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from typing import IO, Any

import httpx

ALLOWED, NOT_ALLOWED, USAGE, TIMED_OUT, UNREACHABLE = 0, 1, 2, 3, 4
URL_VARIABLE = "BRIDGELINE_URL"
TOKEN_VARIABLE = "BRIDGELINE_PIPELINE_TOKEN"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.I)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``1h`` -> seconds."""
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write 90s, 15m or 1h")
    return float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]


def seconds(text: str) -> float:
    value = duration(text)
    if value < 0.1:
        raise argparse.ArgumentTypeError("the interval is at least 0.1 s")
    return value


def register(subparsers: Any) -> None:
    gate = subparsers.add_parser(
        "gate",
        help="ask the deployment gate whether a release may deploy now (a pipeline step)",
        description=(
            f"Asks bridgeline at ${URL_VARIABLE} with the token in ${TOKEN_VARIABLE}. Exit codes: "
            "0 allowed, 1 prevented or invalid, 2 usage error, 3 still awaiting (timed out), "
            "4 the gate could not be asked."
        ),
    )
    gate.add_argument("--project", help="Jira project key of the release (with --version or --version-id)")
    gate.add_argument("--version", dest="release", help="the release's Jira version name, e.g. 1.4.0")
    gate.add_argument("--version-id", help="the release's Jira version id, e.g. 10042")
    gate.add_argument("--change", help="or the change number, e.g. CHG0030001")
    gate.add_argument(
        "--environment", "-e", required=True, help="where the pipeline deploys, e.g. production"
    )
    gate.add_argument(
        "--wait",
        type=duration,
        default=0.0,
        help="keep asking while awaiting, up to this long (90s, 15m, 1h)",
    )
    gate.add_argument(
        "--interval", type=seconds, default=60.0, help="seconds between questions while waiting (default 60)"
    )
    gate.add_argument("--timeout", type=seconds, default=30.0, help="seconds one question may take")
    gate.add_argument("--json", action="store_true", help="print the last answer as JSON as well")
    gate.set_defaults(func=cmd_gate)


def cmd_gate(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    url = os.environ.get(URL_VARIABLE, "").strip().rstrip("/")
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    missing = [name for name, value in ((URL_VARIABLE, url), (TOKEN_VARIABLE, token)) if not value]
    if missing:
        print(f"bridgeline gate: set {' and '.join(missing)} (see docs/pipelines.md)", file=sys.stderr)
        return USAGE
    if not url.startswith(("http://", "https://")):
        print(f"bridgeline gate: {URL_VARIABLE} is not an http(s) URL: {url[:100]}", file=sys.stderr)
        return USAGE
    question = {
        "project": args.project,
        "version": args.release,
        "version_id": args.version_id,
        "change": args.change,
        "environment": args.environment,
    }
    if not (args.change or (args.project and (args.release or args.version_id))):
        print(
            "bridgeline gate: name --project with --version (or --version-id), or --change", file=sys.stderr
        )
        return USAGE
    return asyncio.run(
        ask(
            url,
            token,
            {k: v for k, v in question.items() if v},
            args.wait,
            args.interval,
            args.timeout,
            out=out,
            as_json=args.json,
        )
    )


async def ask(
    url: str,
    token: str,
    question: dict[str, str],
    wait: float,
    interval: float,
    timeout: float,
    *,
    out: IO[str],
    as_json: bool = False,
) -> int:
    """Ask until the answer is not ``awaiting`` or ``wait`` seconds have passed; the exit code."""
    deadline = time.monotonic() + wait
    last: tuple[str, tuple[str, ...]] | None = None
    last_problem: str | None = None
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout) as http:
        while True:
            answer, problem, code = await _one(http, question)
            if answer is not None:
                seen = (str(answer.get("decision")), tuple(str(r) for r in answer.get("reasons") or ()))
                if seen != last:
                    _print(out, answer)
                    last = seen
                last_problem = None
                if seen[0] != "awaiting":
                    if as_json:
                        import json

                        print(json.dumps(answer, indent=2), file=out)
                    return ALLOWED if seen[0] == "allowed" else NOT_ALLOWED
            else:
                if code in (USAGE, UNREACHABLE) and problem and not problem.startswith("transient:"):
                    print(f"bridgeline gate: {problem}", file=sys.stderr)
                    return code
                if problem != last_problem:
                    print(
                        f"bridgeline gate: {problem.removeprefix('transient: ')}; asking again",
                        file=sys.stderr,
                    )
                    last_problem = problem
            left = deadline - time.monotonic()
            if left <= 0:
                if answer is None and last is None:
                    print(f"bridgeline gate: no answer within {wait:g} s", file=sys.stderr)
                    return UNREACHABLE
                if wait > 0:
                    print(f"timed out: still awaiting after {wait:g} s", file=out)
                return TIMED_OUT
            await asyncio.sleep(min(interval, left))


async def _one(http: httpx.AsyncClient, question: dict[str, str]) -> tuple[dict[str, Any] | None, str, int]:
    """One question: ``(answer, "", 0)``, or ``(None, problem, exit code)``; transient problems
    (unreachable, 503) are marked so the caller asks again."""
    try:
        response = await http.post("/api/gate", json=question)
    except httpx.HTTPError as exc:
        return None, f"transient: cannot reach the gate ({type(exc).__name__})", UNREACHABLE
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = (
        str(body.get("error") or body.get("detail") or response.reason_phrase)
        if isinstance(body, dict)
        else ""
    )
    if response.status_code == 200 and isinstance(body, dict) and body.get("decision"):
        return body, "", 0
    if response.status_code == 400:
        return None, f"the gate refused the question: {error}", USAGE
    if response.status_code in (401, 403):
        return None, f"the gate refused the token ({response.status_code}): {error}", UNREACHABLE
    if response.status_code in (429, 502, 503, 504):
        return None, f"transient: the gate is busy or away ({response.status_code})", UNREACHABLE
    return None, f"the gate answered {response.status_code}: {error[:200]}", UNREACHABLE


def _print(out: IO[str], answer: dict[str, Any]) -> None:
    change = answer.get("change") or {}
    number = change.get("number")
    reasons = "; ".join(str(r) for r in answer.get("reasons") or ())
    where = f" [{number}: {change.get('url')}]" if number else ""
    print(f"{time.strftime('%H:%M:%S')} {answer.get('decision')}: {reasons}{where}", file=out, flush=True)

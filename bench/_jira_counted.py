"""``bridgeline sim jira`` with its API calls counted by method, for telling reads from writes.

Takes the same options as ``bridgeline sim jira`` and adds ``GET /_bench/calls``: ``{"GET": 120,
"POST": 4, ...}`` (API paths only; ``/_sim/`` and ``/_bench/`` calls are not counted)::

    python -m bench._jira_counted --port 8081 --projects 1 --versions 1000 --issues 20000 --latency-ms 20
"""

from __future__ import annotations

import argparse
import json
import threading
from collections import Counter
from typing import Any

import uvicorn

from bridgeline.sim.jira.cli import add_arguments, build


class CountedCalls:
    """ASGI middleware counting API calls by method."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/calls":
            with self._lock:
                body = json.dumps(dict(self.calls)).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and not scope["path"].startswith("/_sim/"):
            with self._lock:
                self.calls[scope["method"]] += 1
        await self.app(scope, receive, send)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench._jira_counted", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    sim = build(args)
    uvicorn.run(CountedCalls(sim.app), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

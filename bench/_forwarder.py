"""The floor bridgeline is measured against: a bare forwarder, webhook in, one POST out.

It checks the delivery's signature, reads the release from the body, and creates one change
request in ServiceNow with the same fields bridgeline's benchmark mapping gives the first part of
it, answering the webhook once ServiceNow has answered. No durability (a delivery in flight when it
dies is lost), no idempotency (a delivery sent twice makes two records), no reads, no way back:
what a user would wire in a workflow tool. It runs on the same server stack as ``bridgeline run``
(uvicorn with uvloop and httptools, httpx with kept-alive connections), so what separates the two is
what bridgeline does, not the stack. ::

    python -m bench._forwarder --port 8099 --servicenow http://127.0.0.1:8001 --secret s3cret
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
from typing import Any

import httpx
import uvicorn

PROJECT = "PAY"


class Forwarder:
    def __init__(self, servicenow: str, user: tuple[str, str], secret: str, connections: int) -> None:
        self.secret = secret.encode()
        self.client = httpx.AsyncClient(
            base_url=servicenow,
            auth=user,
            timeout=30,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = await self.forward(scope, body) if scope["path"] == "/webhooks/jira" else 404
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def forward(self, scope: dict[str, Any], body: bytes) -> int:
        headers = dict(scope["headers"])
        signature = headers.get(b"x-hub-signature", b"").decode()
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return 401
        version = json.loads(body).get("version") or {}
        record = {
            "short_description": f"Release {PROJECT} {version.get('name')}",
            "description": f"Jira release {version.get('name')} ({PROJECT})",
            "correlation_id": f"jira:{PROJECT}:version:{version.get('id')}",
            "correlation_display": "forwarder",
        }
        try:
            answer = await self.client.post("/api/now/table/change_request", json=record)
        except httpx.HTTPError:
            return 502
        return 202 if answer.status_code == 201 else 502


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--servicenow", required=True)
    parser.add_argument("--user", default="bridgeline.integration")
    parser.add_argument("--password", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    app = Forwarder(args.servicenow, (args.user, args.password), args.secret, args.connections)
    loop = "uvloop"
    try:
        import uvloop  # noqa: F401
    except ImportError:  # pragma: no cover - Windows
        loop = "asyncio"
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", loop=loop, http="httptools")


if __name__ == "__main__":
    main()

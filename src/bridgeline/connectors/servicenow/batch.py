"""ServiceNow's Batch API (``POST /api/now/v1/batch``): several REST calls in one round trip.

Each request goes with an id, its method, its URL (query included) and its JSON body base64-encoded;
the answer lists each one run in ``serviced_requests`` (its own status code and base64 body) and the
ids of those the instance did not run, having reached a size or processing limit, in
``unserviced_requests``. An item's failure is its own: the batch itself answers 200. ::

    batch = BatchClient(http)
    answers = await batch.send([BatchRequest("1", "POST", "/api/now/table/change_task", {...})])
    if answers is None:  # the instance does not answer the Batch API
        ...
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from bridgeline.connectors.http import HttpClient, parse_retry_after
from bridgeline.errors import (
    AuthenticationFailed,
    BridgelineError,
    NotFound,
    RateLimited,
    RemoteRejected,
    RemoteUnavailable,
)

PATH = "/api/now/v1/batch"


@dataclass(frozen=True, slots=True)
class BatchRequest:
    id: str
    method: str
    url: str  # relative, with its query string
    body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """One serviced item: its status, its JSON body (decoded) and its headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class BatchClient:
    """Sends batches; no mapping or store knowledge."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def send(self, requests: list[BatchRequest]) -> dict[str, BatchAnswer] | None:
        """Each serviced item's answer by id (the ids missing were not run), or None when the
        instance does not answer the Batch API. Not retried when its outcome is unknown."""
        payload = {
            "batch_request_id": requests[0].id if requests else "0",
            "rest_requests": [
                {
                    "id": r.id,
                    "method": r.method,
                    "url": r.url,
                    "headers": [
                        {"name": "Content-Type", "value": "application/json"},
                        {"name": "Accept", "value": "application/json"},
                    ],
                    **({"body": _encode(r.body)} if r.body is not None else {}),
                }
                for r in requests
            ],
        }
        try:
            response = await self.http.request("POST", PATH, json=payload, endpoint=PATH, idempotent=False)
        except (NotFound, RemoteRejected) as exc:
            if isinstance(exc, AuthenticationFailed):
                raise
            if isinstance(exc, NotFound) or exc.status == 400:
                return None  # "Requested URI does not represent any resource": no Batch API here
            raise
        answers: dict[str, BatchAnswer] = {}
        for item in response.json().get("serviced_requests") or []:
            raw = base64.b64decode(item.get("body") or "")
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            headers = {str(h.get("name")): str(h.get("value")) for h in item.get("headers") or []}
            answers[str(item.get("id"))] = BatchAnswer(int(item.get("status_code") or 0), body, headers)
        return answers


def item_error(answer: BatchAnswer | None, where: str, message: str) -> BridgelineError:
    """What a failed or unserviced item means, as the same call on its own would have raised it.
    The instance ran it (or chose not to) and ended its transaction: nothing is half done."""
    if answer is None:
        return RemoteUnavailable(
            f"servicenow left {where} out of a batch (a size or time limit); sent on its own", status=None
        )
    code = answer.status
    text = _message(answer.body) or message
    if code == 429:
        retry_after = parse_retry_after(answer.headers.get("Retry-After"))
        return RateLimited(
            f"servicenow asked to slow down ({code}, {where}): {text}", retry_after=retry_after
        )
    if code >= 500 or code in (408, 425):
        return RemoteUnavailable(f"servicenow failed with {code} ({where}): {text}", status=code)
    if code in (401, 403):
        return AuthenticationFailed("servicenow", code, text, url=where, details=answer.body)
    if code == 404:
        return NotFound(f"servicenow: not found ({where}): {text}")
    return RemoteRejected("servicenow", code, text, url=where, details=answer.body)


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        message, detail = str(err.get("message") or ""), str(err.get("detail") or "")
        return f"{message} ({detail})" if message and detail else message or detail
    return ""


def _encode(body: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(body).encode()).decode()

"""The Batch API: ``POST /api/now/v1/batch``, several REST calls in one.

The body names its requests (``rest_requests``: ``id``, ``method``, ``url`` with its query,
``headers``, a base64 ``body``); each runs as the same call made on its own would, under the
same user, ACLs and rate limit rule, and comes back in ``serviced_requests`` with its status
and its body base64-encoded. The answer is 200 whatever the items' own statuses. Items left
when a size or processing limit is reached are not run: their ids are listed in
``unserviced_requests``. The version is not optional (``/api/now/batch`` is an unknown resource
on real instances), and ``v1`` is the only one.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.datastructures import QueryParams

from bridgeline.sim.servicenow import _change_api, _table_api
from bridgeline.sim.servicenow._errors import SimError
from bridgeline.sim.servicenow._http import Answer, Call, unknown_resource

if TYPE_CHECKING:
    from bridgeline.sim.servicenow._simulator import ServiceNowSimulator

# glide.rest.batch.max.inputSize / max.outputSize: per item, in bytes
MAX_INPUT = 5 * 1024 * 1024
MAX_OUTPUT = 10 * 1024 * 1024

Handler = Callable[["ServiceNowSimulator", Call], Answer]


def _route(path: str) -> tuple[Handler, list[str]] | None:
    """The API an item's URL names, and its path segments after the API's prefix."""
    for prefix, handler in (("/api/now/", _table_api.handle), ("/api/sn_chg_rest/", _change_api.handle)):
        if path.startswith(prefix):
            return handler, [p for p in path[len(prefix) :].split("/") if p]
    return None


def handle(sim: ServiceNowSimulator, call: Call) -> Answer:
    """The batch's answer, with a line per item for the call log. Runs under ``sim.lock``."""
    if not sim.settings.batch_api:
        raise unknown_resource()
    if call.method != "POST":
        raise SimError(405, "Method not Supported", f"{call.method} is not supported on this resource")
    data = call.json_object()
    requests = data.get("rest_requests")
    if not isinstance(requests, list) or not requests:
        raise SimError(400, "Exception while reading request", "rest_requests is required")
    started = time.perf_counter()
    serviced: list[dict[str, Any]] = []
    unserviced: list[str] = []
    log: list[dict[str, Any]] = []
    for item in requests:
        if not isinstance(item, dict) or not item.get("id") or not item.get("method") or not item.get("url"):
            raise SimError(
                400, "Exception while reading request", "every rest_request needs id, method and url"
            )
        item_id = str(item["id"])
        elapsed = time.perf_counter() - started
        if unserviced or (serviced and elapsed > sim.settings.batch_time_limit):
            unserviced.append(item_id)  # the transaction was cut: the rest is not run
            continue
        body = _decode(item.get("body"))
        if body is None or len(body) > MAX_INPUT:
            unserviced.append(item_id)
            continue
        item_started = time.perf_counter()
        answer = _run(sim, call, str(item["method"]).upper(), str(item["url"]), body)
        content = b"" if answer.body is None else json.dumps(answer.body, ensure_ascii=False).encode()
        if len(content) > MAX_OUTPUT:
            unserviced.append(item_id)
            continue
        served: dict[str, Any] = {
            "id": item_id,
            "status_code": answer.status,
            "status_text": _status_text(answer.status),
            "body": base64.b64encode(content).decode(),
            "execution_time": round((time.perf_counter() - item_started) * 1000),
        }
        if not item.get("exclude_response_headers"):
            headers = {"Content-Type": "application/json;charset=UTF-8", **answer.headers} if content else {}
            served["headers"] = [{"name": k, "value": v} for k, v in headers.items()]
        else:
            served["headers"] = []
        if answer.status >= 400 and isinstance(answer.body, dict):
            error = answer.body.get("error") or {}
            served["error_message"] = str(error.get("message") or "")
        serviced.append(served)
        log.append({"id": item_id, "method": item["method"], "url": item["url"], "status": answer.status})
    result = {
        "batch_request_id": str(data.get("batch_request_id") or ""),
        "serviced_requests": serviced,
        "unserviced_requests": unserviced,
    }
    return Answer(200, result, items=log)


def _decode(body: Any) -> bytes | None:
    if body is None or body == "":
        return b""
    if not isinstance(body, str):
        return None
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _run(sim: ServiceNowSimulator, outer: Call, method: str, url: str, body: bytes) -> Answer:
    """One item, as the same call on its own: the rate limit rule counts it, then its API runs it."""
    decision = sim.limiter.check(outer.user.user_name)
    if not decision.allowed:
        error = SimError(
            429,
            "Rate limit exceeded",
            f"More than {sim.settings.rate_limit} requests per {sim.settings.rate_limit_window:g} s "
            f"for user {outer.user.user_name}; retry after {decision.retry_after} s",
        )
        return Answer(429, error.body(), dict(decision.headers))
    parts = urlsplit(url)
    routed = _route(parts.path)
    if routed is None:
        return Answer.from_error(unknown_resource())
    handler, segments = routed
    call = Call(method, segments, QueryParams(parts.query), body, outer.user, outer.base_url, parts.path)
    try:
        answer = handler(sim, call)
    except SimError as exc:
        answer = Answer.from_error(exc)
    answer.headers.update(decision.headers)
    return answer


def _status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""

"""Issue search: Cloud's ``/search/jql`` (token paging, no total) and Data Center's ``/search``.

Cloud: ``GET|POST /rest/api/{2,3}/search/jql`` needs a bounded JQL, returns only issue ids unless
``fields`` asks for more, and pages with ``nextPageToken`` / ``isLast``; the old ``/search`` is gone
(410). Data Center: ``GET|POST /rest/api/2/search`` with ``startAt`` / ``maxResults`` / ``total``
and ``validateQuery``; there is no ``/search/jql``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._errors import SEARCH_REMOVED, UNBOUNDED_JQL, JiraError
from bridgeline.sim.jira._http import Ctx, api_route, json_response
from bridgeline.sim.jira._jql_eval import run
from bridgeline.sim.jira._jql_fields import SearchContext
from bridgeline.sim.jira._jql_parse import parse
from bridgeline.sim.jira._model import Issue

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator

MAX_ORDER_BY = 7
LIGHT_SELECTION = 8  # up to this many fields a Cloud page may hold search_page_cap issues


def select_fields(tokens: list[str], default: list[str]) -> list[str] | None:
    """Field ids to render for a ``fields`` parameter; None means "the id alone"."""
    tokens = tokens or default
    positive = [t for t in tokens if not t.startswith("-")]
    negative = {_field_id(t[1:]) for t in tokens if t.startswith("-")}
    if not positive:  # only exclusions: they apply to the endpoint's default (navigable for /search/jql)
        positive = ["*navigable"] if default == ["id"] else list(default)
    chosen: list[str] = []
    asked_key = False
    for token in positive:
        if token == "*all":
            chosen.extend(cat.ISSUE_FIELD_IDS)
        elif token == "*navigable":
            chosen.extend(cat.NAVIGABLE_FIELD_IDS)
        elif token == "id":
            continue
        elif token == "key":
            asked_key = True
        else:
            field_id = _field_id(token)
            if field_id in cat.ISSUE_FIELD_IDS:
                chosen.append(field_id)
    result = [f for f in dict.fromkeys(chosen) if f not in negative]
    if not result and not asked_key:
        return None
    return result


def _field_id(token: str) -> str:
    return cat.CLAUSE_TO_FIELD.get(token.lower(), token)


def _expand_set(value: Any) -> set[str]:
    if not value:
        return set()
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return {part.strip() for part in str(value).split(",") if part.strip()}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_as_list(item))
        return out
    raise JiraError(400, "Can not deserialize value: expected a list of strings")


def _page_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, fingerprint: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        offset = int(data["o"])
        same_query = data["q"] == fingerprint
    except (ValueError, KeyError, TypeError):
        raise JiraError(400, "The provided next page token is invalid or expired.") from None
    if not same_query or offset < 0:
        raise JiraError(400, "The provided next page token is invalid or expired.")
    return offset


def _top_level_extras(ctx: Ctx, expand: set[str], field_ids: list[str] | None) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if field_ids and "names" in expand:
        extras["names"] = {f: cat.FIELD_BY_ID[f].name for f in field_ids if f in cat.FIELD_BY_ID}
    if field_ids and "schema" in expand:
        extras["schema"] = {
            f: cat.FIELD_BY_ID[f].schema
            for f in field_ids
            if f in cat.FIELD_BY_ID and cat.FIELD_BY_ID[f].schema
        }
    return extras


def _search(ctx: Ctx, jql: str, validate: str) -> tuple[list[Issue], list[str]]:
    query = parse(jql)
    if len(query.order_by) > MAX_ORDER_BY:
        raise JiraError(400, f"The ORDER BY clause can contain a maximum of {MAX_ORDER_BY} fields.")
    search = SearchContext(ctx.state, ctx.user, validate=validate)
    if ctx.cloud and query.where is None:
        raise JiraError(400, UNBOUNDED_JQL)
    return run(search, query), search.warnings


async def search_jql(ctx: Ctx) -> Response:
    """Cloud: ``/search/jql`` (GET parameters or POST body)."""
    if ctx.request.method == "POST":
        body = ctx.json_body()
        jql = body.get("jql") or ""
        token = body.get("nextPageToken")
        raw_max = body.get("maxResults")
        field_tokens = _as_list(body.get("fields"))
        expand = _expand_set(body.get("expand"))
        properties = _as_list(body.get("properties"))
    else:
        jql = ctx.param("jql") or ""
        token = ctx.param("nextPageToken")
        raw_max = ctx.param("maxResults")
        field_tokens = ctx.params("fields")
        expand = _expand_set(ctx.param("expand"))
        properties = ctx.params("properties")
    try:
        max_results = 50 if raw_max in (None, "") else int(raw_max)
    except (TypeError, ValueError):
        raise JiraError(
            400, f"The value '{raw_max}' is not a valid number for parameter 'maxResults'."
        ) from None
    if max_results < 1:
        raise JiraError(400, errors={"maxResults": "The value of maxResults must be between 1 and 5000."})
    field_ids = select_fields(field_tokens, ["id"])
    settings = ctx.state.settings
    light = field_ids is None or len(field_ids) <= LIGHT_SELECTION
    cap = settings.search_page_cap if light else settings.search_page_cap_with_fields
    page_size = min(max_results, cap, 5000)
    fingerprint = hashlib.sha1(jql.encode()).hexdigest()[:16]
    with ctx.state.lock:
        offset = _read_token(token, fingerprint) if token else 0
        issues, _ = _search(ctx, jql, "strict")
        page = issues[offset : offset + page_size]
        view = ctx.view
        rendered = [view.issue(i, field_ids, expand, properties[:5]) for i in page]
    data: dict[str, Any] = {"issues": rendered}
    data.update(_top_level_extras(ctx, expand, field_ids))
    if offset + page_size < len(issues):
        data["nextPageToken"] = _page_token(offset + page_size, fingerprint)
        data["isLast"] = False
    else:
        data["isLast"] = True
    return json_response(data)


async def search_removed(ctx: Ctx) -> Response:
    raise JiraError(410, SEARCH_REMOVED)


async def search_dc(ctx: Ctx) -> Response:
    """Data Center: ``/rest/api/2/search`` with offset paging and a total."""
    if ctx.request.method == "POST":
        body = ctx.json_body()
        jql = body.get("jql") or ""
        start_at = _int(body.get("startAt"), 0, "startAt")
        max_results = _int(body.get("maxResults"), 50, "maxResults")
        field_tokens = _as_list(body.get("fields"))
        expand = _expand_set(body.get("expand"))
        validate_raw = body.get("validateQuery", True)
        properties = _as_list(body.get("properties"))
    else:
        jql = ctx.param("jql") or ""
        start_at = ctx.int_param("startAt", 0)
        max_results = ctx.int_param("maxResults", 50)
        field_tokens = ctx.params("fields")
        expand = _expand_set(ctx.param("expand"))
        validate_raw = ctx.param("validateQuery", "strict")
        properties = ctx.params("properties")
    validate = _validate_mode(validate_raw)
    max_results = max(0, min(max_results, ctx.state.settings.dc_page_cap))
    start_at = max(0, start_at)
    field_ids = select_fields(field_tokens, ["*navigable"])
    with ctx.state.lock:
        issues, warnings = _search(ctx, jql, validate)
        page = issues[start_at : start_at + max_results]
        view = ctx.view
        rendered = [
            view.issue(i, field_ids if field_ids is not None else [], expand, properties) for i in page
        ]
    data: dict[str, Any] = {
        "expand": "names,schema",
        "startAt": start_at,
        "maxResults": max_results,
        "total": len(issues),
        "issues": rendered,
    }
    data.update(_top_level_extras(ctx, expand, field_ids))
    if warnings:
        data["warningMessages"] = warnings
    return json_response(data)


def _int(value: Any, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise JiraError(400, f"The value '{value}' is not a valid number for parameter '{name}'.") from None


def _validate_mode(raw: Any) -> str:
    if isinstance(raw, bool):
        return "strict" if raw else "none"
    text = str(raw).strip().lower()
    if text in ("false", "none", "0"):
        return "none"
    if text == "warn":
        return "warn"
    return "strict"


def routes(sim: JiraSimulator) -> list[Route]:
    if sim.mode == "cloud":
        return [
            api_route("/rest/api/{v}/search/jql", search_jql, ["GET", "POST"], sim),
            api_route("/rest/api/{v}/search", search_removed, ["GET", "POST"], sim, auth=False),
        ]
    return [api_route("/rest/api/{v}/search", search_dc, ["GET", "POST"], sim)]

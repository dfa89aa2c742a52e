"""The AR System REST API: ``/api/jwt/login|logout`` and ``/api/arsys/v1/entry/{form}[/{entryId}]``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._forms import CHANGE, CHANGE_CREATE, Form
from bridgeline.sim.remedy._http import (
    encode_query,
    entry_path,
    form_path,
    parse_fields,
    parse_int,
    parse_query,
)
from bridgeline.sim.remedy._qualification import compile_qualification

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bridgeline.sim.remedy._simulator import RemedySimulator

    Handler = Callable[[Request], Awaitable[Response]]


def ar_error(error: err.ARError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def api_routes(sim: RemedySimulator) -> list[Route]:
    """The routes of the REST API, bound to one simulator."""

    def guarded(label: str, handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            form = request.path_params.get("form")
            suffix = f" {form}" + (" {entryId}" if "entry_id" in request.path_params else "") if form else ""
            sim.count(f"{request.method} {label}{suffix}")
            try:
                return await handler(request)
            except err.ARError as error:
                return ar_error(error)

        return run

    def form_of(request: Request) -> Form:
        name = request.path_params["form"]
        form = sim.state.forms.get(name)
        if form is None:
            raise err.ARError(404, err.FORM_NOT_FOUND, "Form does not exist on server", name)
        return form

    def user_of(request: Request) -> str:
        return sim.auth.user(request.headers.get("authorization"))

    async def body_values(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise err.workflow("The request body is not valid JSON") from None
        values = body.get("values") if isinstance(body, dict) else None
        if not isinstance(values, dict):
            raise err.workflow('The request body must be a JSON object {"values": {...}}')
        return values

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def self_link(href: str) -> dict[str, list[dict[str, str]]]:
        return {"self": [{"href": href}]}

    async def login(request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        token = sim.auth.login(username, password)
        sim.saved()
        return PlainTextResponse(token)

    async def logout(request: Request) -> Response:
        sim.auth.logout(request.headers.get("authorization"))
        sim.saved()
        return Response(status_code=204)

    async def list_entries(request: Request) -> Response:
        user = user_of(request)
        form = form_of(request)
        params = parse_query(request.scope.get("query_string", b""))
        only = parse_fields(params.get("fields"), form)
        predicate = compile_qualification(
            params.get("q", ""),
            form,
            user=user,
            now=sim.clock.now_s(),
            case_sensitive=sim.config.case_sensitive_queries,
        )
        order = _sort_keys(params.get("sort"), form)
        offset = parse_int(params, "offset") or 0
        limit = parse_int(params, "limit")
        # no limit (or 0) means the server's maximum, which also caps a larger limit
        page = min(limit or sim.config.max_list_entries, sim.config.max_list_entries)
        with sim.state.lock:
            matching = [
                e.values for _, e in sorted(sim.state.store(form.name).items()) if predicate(e.values)
            ]
            for name, descending in reversed(order):
                matching.sort(key=_sort_key(form, name), reverse=descending)
            chosen = matching[offset : offset + page]
            entries = [
                {
                    "values": form.render(values, only),
                    "_links": self_link(base(request) + entry_path(form.name, values[form.id_field])),
                }
                for values in chosen
            ]
        here = base(request) + form_path(form.name)
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        links: dict[str, list[dict[str, str]]] = self_link(here + (f"?{raw_query}" if raw_query else ""))
        if offset + page < len(matching):
            rest = {k: v for k, v in params.items() if k not in ("offset", "limit")}
            links["next"] = [
                {
                    "href": here
                    + "?"
                    + encode_query({**rest, "offset": str(offset + page), "limit": str(page)})
                }
            ]
        return JSONResponse({"entries": entries, "_links": links})

    async def create_entry(request: Request) -> Response:
        user = user_of(request)
        form = form_of(request)
        params = parse_query(request.scope.get("query_string", b""))
        only = parse_fields(params.get("fields"), form)
        values = await body_values(request)
        entry_id = sim.workflow.create(form.name, values, user)
        sim.saved()
        location = base(request) + entry_path(form.name, entry_id)
        created = sim.state.get(form.name, entry_id)
        assert created is not None
        if form.name == CHANGE_CREATE and sim.config.create_location == "change":
            location = base(request) + entry_path(CHANGE, created.values["Change_Entry_ID"])
        headers = {"Location": location}
        if only is None:
            return Response(status_code=201, headers=headers)
        body = {
            "values": form.render(created.values, only),
            "_links": self_link(base(request) + form_path(form.name)),
        }
        return JSONResponse(body, status_code=201, headers=headers)

    async def get_entry(request: Request) -> Response:
        user_of(request)
        form = form_of(request)
        entry_id = request.path_params["entry_id"]
        only = parse_fields(parse_query(request.scope.get("query_string", b"")).get("fields"), form)
        found = sim.state.get(form.name, entry_id)
        if found is None:
            raise err.not_found(entry_id)
        with sim.state.lock:
            values = form.render(found.values, only)
        return JSONResponse(
            {"values": values, "_links": self_link(base(request) + entry_path(form.name, entry_id))}
        )

    async def update_entry(request: Request) -> Response:
        user = user_of(request)
        form = form_of(request)
        values = await body_values(request)
        sim.workflow.update(form.name, request.path_params["entry_id"], values, user)
        sim.saved()
        return Response(status_code=204)

    async def delete_entry(request: Request) -> Response:
        user_of(request)
        form = form_of(request)
        sim.workflow.delete(form.name, request.path_params["entry_id"])
        sim.saved()
        return Response(status_code=204)

    async def collection(request: Request) -> Response:
        return await (create_entry if request.method == "POST" else list_entries)(request)

    async def item(request: Request) -> Response:
        handler = {"GET": get_entry, "PUT": update_entry, "DELETE": delete_entry}[request.method]
        return await handler(request)

    entry = "/api/arsys/v1/entry/{form}"
    return [
        Route("/api/jwt/login", guarded("/api/jwt/login", login), methods=["POST"]),
        Route("/api/jwt/logout", guarded("/api/jwt/logout", logout), methods=["POST"]),
        Route(entry, guarded("/api/arsys/v1/entry", collection), methods=["GET", "POST"]),
        Route(entry + "/{entry_id}", guarded("/api/arsys/v1/entry", item), methods=["GET", "PUT", "DELETE"]),
    ]


def _sort_keys(spec: str | None, form: Form) -> list[tuple[str, bool]]:
    """``sort=Field.asc,Other.desc`` -> [(field, descending)]."""
    keys: list[tuple[str, bool]] = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, direction = part.rpartition(".")
        if not name or direction.lower() not in ("asc", "desc"):
            name, direction = part, "asc"
        form.spec(name)
        keys.append((name, direction.lower() == "desc"))
    return keys


def _sort_key(form: Form, name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    spec = form.fields[name]
    if spec.kind == "enum":
        return lambda values: (
            values.get(name) is not None,
            spec.labels.index(values[name]) if values.get(name) in spec.labels else -1,
        )
    return lambda values: (
        values.get(name) is not None,
        values.get(name) if values.get(name) is not None else 0,
    )

"""What every REST route shares: credentials, API version, JSON bodies, errors, persistence.

A route handler receives a :class:`Ctx` (who is asking, on which API version and base URL, the
parsed body) and returns a response or raises :class:`JiraError`. :func:`api_route` wraps it so
that the Jira rules hold everywhere: Cloud answers v2 and v3, Data Center only v2 (``latest`` is
v2); wrong or missing credentials get 401; read-only users get 403 on writes; a successful write
is saved to the state file when the simulator has one.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridgeline.sim.jira._errors import NOT_AUTHENTICATED, JiraError, error_response
from bridgeline.sim.jira._model import User
from bridgeline.sim.jira._render import View
from bridgeline.sim.jira._state import JiraState

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator

log = logging.getLogger("bridgeline.sim.jira")

Handler = Callable[["Ctx"], Awaitable[Response]]


@dataclass
class Ctx:
    request: Request
    sim: JiraSimulator
    user: User | None
    api: int
    body: Any = None
    _view: View | None = field(default=None, repr=False)

    @property
    def state(self) -> JiraState:
        return self.sim.state

    @property
    def cloud(self) -> bool:
        return self.sim.mode == "cloud"

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    @property
    def view(self) -> View:
        if self._view is None:
            tz = self.user.time_zone if self.user else self.sim.state.settings.server_time_zone
            self._view = View(self.sim.state, self.base_url, self.api, self.cloud, tz)
        return self._view

    @property
    def actor(self) -> User:
        if self.user is None:
            raise JiraError(401, NOT_AUTHENTICATED)
        return self.user

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def params(self, name: str) -> list[str]:
        """A list parameter, repeated (``fields=a&fields=b``) or comma-separated, or both."""
        out: list[str] = []
        for value in self.request.query_params.getlist(name):
            out.extend(part.strip() for part in value.split(",") if part.strip())
        return out

    def int_param(self, name: str, default: int) -> int:
        raw = self.param(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise JiraError(400, f"The value '{raw}' is not a valid number for parameter '{name}'.") from None

    def bool_param(self, name: str, default: bool) -> bool:
        raw = self.param(name)
        if raw is None:
            return default
        return raw.strip().lower() in ("true", "1", "yes", "strict", "warn")

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def json_body(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise JiraError(400, "Can not deserialize instance of object out of START_ARRAY token")
        return self.body

    def require_write(
        self, message: str = "You do not have permission to edit issues in this project."
    ) -> None:
        if self.actor.read_only:
            raise JiraError(403, message)


@dataclass(frozen=True)
class Credential:
    """One way of signing in that the simulator accepts, as :func:`authenticate` checks it."""

    scheme: str  # "Basic" or "Bearer"
    login: str | None  # the Basic user (email on Cloud, username on Data Center); None for Bearer
    secret: str
    user: User

    def __str__(self) -> str:
        return f"Basic {self.login} / {self.secret}" if self.login else f"Bearer {self.secret}"


def credentials(sim: JiraSimulator) -> list[Credential]:
    """What each active account can sign in with in the simulator's mode: email + API token on
    Cloud; a personal access token (Bearer) or username + password on Data Center."""
    found = []
    with sim.state.lock:
        for user in sim.state.users.values():
            if not user.active:
                continue
            if sim.mode == "cloud":
                if user.api_token:
                    found.append(Credential("Basic", user.email, user.api_token, user))
                continue
            if user.pat:
                found.append(Credential("Bearer", None, user.pat, user))
            if user.password:
                found.append(Credential("Basic", user.name, user.password, user))
    return found


def authenticate(sim: JiraSimulator, header: str | None) -> User | None:
    """The user the Authorization header names; None when there is none; 401 when it is wrong."""
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    users = list(sim.state.users.values())
    if scheme == "bearer" and sim.mode == "datacenter":
        token = credentials.strip()
        for user in users:
            if user.pat and user.pat == token and user.active:
                return user
        raise JiraError(401, NOT_AUTHENTICATED)
    if scheme == "basic":
        try:
            login, _, secret = base64.b64decode(credentials.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise JiraError(401, NOT_AUTHENTICATED) from None
        for user in users:
            if not user.active:
                continue
            if sim.mode == "cloud":
                if user.email.lower() == login.lower() and user.api_token and user.api_token == secret:
                    return user
            elif user.name == login and user.password and user.password == secret:
                return user
        raise JiraError(401, NOT_AUTHENTICATED)
    raise JiraError(401, NOT_AUTHENTICATED)


def api_route(
    path: str,
    handler: Handler,
    methods: list[str],
    sim: JiraSimulator,
    *,
    auth: bool = True,
    anonymous_ok: bool = False,
) -> Route:
    """A Starlette route for ``/rest/api/{v}/...`` (or any path) with Jira's rules around it."""

    async def endpoint(request: Request) -> Response:
        try:
            return await _serve(request)
        except JiraError as exc:
            return exc.response()
        except Exception:
            log.exception("jira simulator: %s %s failed", request.method, request.url.path)
            return error_response(500, ["Internal server error"])

    async def _serve(request: Request) -> Response:
        version = request.path_params.get("v")
        api = 2
        if version is not None:
            if version == "latest":
                api = 2
            elif version in ("2", "3"):
                api = int(version)
            else:
                raise JiraError(404, "null for uri: " + str(request.url))
            if sim.mode == "datacenter" and api == 3:
                raise JiraError(404, "null for uri: " + str(request.url))
        sim.dispatcher.ensure_running()
        with sim.state.lock:
            user = authenticate(sim, request.headers.get("authorization"))
        if auth and user is None and not (anonymous_ok and sim.state.settings.anonymous_server_info):
            raise JiraError(
                401, NOT_AUTHENTICATED, headers={"WWW-Authenticate": 'Basic realm="protected-area"'}
            )
        body: Any = None
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            raw = await request.body()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise JiraError(400, f"Unexpected character in the request body: {exc}") from None
        ctx = Ctx(request, sim, user, api, body)
        response = await handler(ctx)
        if request.method != "GET" and response.status_code < 400:
            sim.save_if_dirty()
        return response

    return Route(path, endpoint, methods=methods)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)

"""The simulator object: state, webhook outbox, rate limiter and fault injector around one ASGI app."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from bridgeline.sim._faults import FaultConfig, FaultInjector
from bridgeline.sim._persist import StateWriter, load_json, save_json_atomic
from bridgeline.sim.jira import (
    _routes_admin,
    _routes_html,
    _routes_issue_parts,
    _routes_issues,
    _routes_meta,
    _routes_search,
    _routes_versions,
    _routes_webhooks,
)
from bridgeline.sim.jira._errors import error_response, jira_error_body
from bridgeline.sim.jira._ratelimit import JiraRateLimiter, RateLimitConfig
from bridgeline.sim.jira._seed import JiraScale, seed, upgrade_former_secrets
from bridgeline.sim.jira._state import JiraState
from bridgeline.sim.jira._webhooks import WebhookDispatcher, WebhookOptions

Mode = Literal["cloud", "datacenter"]


class JiraSimulator:
    """An in-memory Jira Cloud or Data Center, served as an ASGI app (``sim.app``).

    ::

        sim = JiraSimulator(mode="cloud", seed=42)
        with serve_in_thread(sim.app) as served:
            jira = JIRA(served.url, basic_auth=INTEGRATION_CLOUD)  # from bridgeline.sim.jira

    With ``state_path`` the state is loaded from that file when it exists (else seeded and written),
    and saved after every successful change - or at most once per ``save_delay`` seconds, and on
    :meth:`save`.
    """

    def __init__(
        self,
        mode: Mode = "cloud",
        seed: int = 42,
        scale: JiraScale | None = None,
        state_path: str | os.PathLike[str] | None = None,
        faults: FaultConfig | None = None,
        webhook_options: WebhookOptions | None = None,
        rate_limit: RateLimitConfig | None = None,
        save_delay: float = 0.0,
    ) -> None:
        if mode not in ("cloud", "datacenter"):
            raise ValueError(f"mode must be 'cloud' or 'datacenter', not {mode!r}")
        self.mode: Mode = mode
        self.seed = seed
        self.scale = scale
        self.state_path = Path(state_path) if state_path is not None else None
        self.state = JiraState(mode=mode, seed=seed)
        self.writer = StateWriter(self._save_if_dirty, save_delay)
        self.faults = faults or FaultConfig()
        self.webhook_options = webhook_options or WebhookOptions()
        self.rate_limit = rate_limit or RateLimitConfig()
        loaded = load_json(self.state_path) if self.state_path is not None else None
        if loaded is not None:
            self.state.load_dict(loaded)
            self.state.mode = mode
            upgrade_former_secrets(self.state)
        else:
            _seed_state(self.state, seed, scale)
            if self.state_path is not None:
                self.save()
        self.dispatcher = WebhookDispatcher(self.state, self.webhook_options, mode)
        self.asgi = self._build_app()
        self.rate_limiter = JiraRateLimiter(self.asgi, self.rate_limit, mode)
        self.fault_injector = FaultInjector(self.rate_limiter, self.faults, error_body=jira_error_body)
        self.app = self.fault_injector

    @classmethod
    def load(cls, state_path: str | os.PathLike[str], **kwargs: Any) -> JiraSimulator:
        """A simulator with the state in ``state_path`` (seeded there first if the file is missing)."""
        return cls(state_path=state_path, **kwargs)

    def _build_app(self) -> Starlette:
        routes = [
            *_routes_admin.routes(self),
            *_routes_html.routes(self),
            *_routes_meta.routes(self),
            *_routes_search.routes(self),
            *_routes_issues.routes(self),
            *_routes_issue_parts.routes(self),
            *_routes_versions.routes(self),
            *_routes_webhooks.routes(self),
        ]

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self.dispatcher.ensure_running()
            try:
                yield
            finally:
                await self.dispatcher.stop()

        async def not_found(request: Request, exc: Exception) -> Response:
            return error_response(404, [f"null for uri: {request.url}"])

        async def not_allowed(request: Request, exc: Exception) -> Response:
            return error_response(405, [f"HTTP method {request.method} is not supported by this URL"])

        return Starlette(
            routes=routes, lifespan=lifespan, exception_handlers={404: not_found, 405: not_allowed}
        )

    # -- persistence and reset ------------------------------------------------------------------------

    def save(self) -> None:
        """Write the state file now (atomically)."""
        if self.state_path is None:
            raise ValueError("this simulator has no state_path")
        with self.state.lock:  # the dict shares values with the live state: write it before letting go
            save_json_atomic(self.state_path, self.state.to_dict())
            self.state.dirty = False

    def save_if_dirty(self) -> None:
        """After a change: write now, or soon when ``save_delay`` is set."""
        if self.state_path is not None and self.state.dirty:
            self.writer.changed()

    def _save_if_dirty(self) -> None:
        if self.state_path is not None and self.state.dirty:
            self.save()

    def reset(self, seed: int | None = None, scale: JiraScale | None = None) -> None:
        """Fresh seed data (same seed unless given); registered webhooks and the outbox are cleared."""
        fresh = JiraState(mode=self.mode, seed=self.seed if seed is None else seed, clock=self.state.clock)
        fresh.settings = self.state.settings
        _seed_state(fresh, fresh.seed, scale if scale is not None else self.scale)
        self.seed = fresh.seed
        self.state.replace_with(fresh)
        self.dispatcher.clear()
        self.save_if_dirty()

    def endpoint(self, url: str) -> dict[str, Any]:
        """Where this Jira listens, its mode and who can sign in, for a demo's ``simulators.json``."""
        accounts: dict[str, dict[str, str]] = {}
        with self.state.lock:
            for user in self.state.users.values():
                if not user.active:
                    continue
                if self.mode == "cloud" and user.api_token:
                    accounts[user.name] = {"email": user.email, "api_token": user.api_token}
                elif self.mode == "datacenter" and (user.pat or user.password):
                    found = {"username": user.name, "token": user.pat, "password": user.password}
                    accounts[user.name] = {k: v for k, v in found.items() if v}
        return {"url": url, "mode": self.mode, "accounts": accounts}

    # -- webhooks -------------------------------------------------------------------------------

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until the webhook outbox is empty (deliveries done or given up); False on timeout."""
        return self.dispatcher.wait_drained(timeout)

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every delivery so far, with its attempts (status codes, errors, retry numbers)."""
        return self.dispatcher.deliveries()


def _seed_state(state: JiraState, seed_value: int, scale: JiraScale | None) -> None:
    with state.lock:
        seed(state, seed_value, scale)
        state.dirty = True

"""The Remedy simulator: state, workflow, AR-JWT and the ASGI app that serves them."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bridgeline.sim._faults import FaultConfig, FaultInjector, Receive, Scope, Send
from bridgeline.sim._persist import StateWriter, load_json, save_json_atomic
from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._admin import admin_routes, page_routes
from bridgeline.sim.remedy._api import api_routes
from bridgeline.sim.remedy._auth import Authenticator
from bridgeline.sim.remedy._clock import SimClock
from bridgeline.sim.remedy._config import RemedyConfig
from bridgeline.sim.remedy._forms import CHANGE, build_forms
from bridgeline.sim.remedy._seed import seed as seed_data
from bridgeline.sim.remedy._state import RemedyState
from bridgeline.sim.remedy._workflow import Workflow


class RemedySimulator:
    """BMC Remedy / Helix ITSM (AR System REST API) in memory, as an ASGI app.

    ::

        sim = RemedySimulator(seed=42, token_lifetime=3600, approval_statuses=("Scheduled For Approval",))
        with serve_in_thread(sim.app) as served:
            ...  # login at served.url + "/api/jwt/login", create on CHG:ChangeInterface_Create
            sim.approve("CRQ000000000106", approver="mary", comment="CAB 2024-05-02")

    Keyword ``knobs`` are the fields of :class:`RemedyConfig` (users, approvals, fidelity choices).
    With ``state_path`` the state is loaded when the file exists and saved after every change.
    """

    def __init__(
        self,
        seed: int = 42,
        state_path: str | Path | None = None,
        faults: FaultConfig | None = None,
        token_lifetime: float = 3600.0,
        *,
        config: RemedyConfig | None = None,
        save_delay: float = 0.0,
        **knobs: Any,
    ) -> None:
        known = {f.name for f in fields(RemedyConfig)}
        unknown = sorted(set(knobs) - known)
        if unknown:
            raise TypeError(f"unknown RemedySimulator option(s) {unknown}; known: {sorted(known)}")
        self.config = config or RemedyConfig(token_lifetime=token_lifetime, **knobs)
        self.seed = seed
        self.state_path = Path(state_path) if state_path is not None else None
        # the state file after each change, or at most once per save_delay seconds (and on save())
        self.writer = StateWriter(self._write, save_delay)
        self.clock = SimClock()
        self.faults = faults or FaultConfig()
        self._counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._install(self._fresh_state())
        if self.state_path is not None:
            saved = load_json(self.state_path)
            if saved is not None:
                self.state.load_json(saved["state"])
                self.clock.set_offset(float(saved.get("clock_offset", 0.0)))
            self.saved()
        router = Starlette(
            routes=[*api_routes(self), *admin_routes(self), *page_routes(self)],
            exception_handlers={HTTPException: _http_error},  # type: ignore[dict-item]
        )
        self._router = router
        self.injector = FaultInjector(router, self.faults, error_body=err.error_body)
        # the ASGI app: API calls pass through fault injection; /_sim/ and the pages never do
        self.app = _Dispatch(self.injector, router)

    # -- state -----------------------------------------------------------------------------------

    def _fresh_state(self) -> RemedyState:
        state = RemedyState(build_forms(summary_max=self.config.summary_max_length))
        self._rng = random.Random(self.seed)
        seed_data(state, self.config, self.clock.now(), self._rng)
        return state

    def _install(self, state: RemedyState) -> None:
        self.state = state
        self.workflow = Workflow(state, self.config, self.clock, self._rng)
        secret = random.Random(self.seed).randbytes(32)
        self.auth = Authenticator(state, self.config, self.clock, secret)

    def reset(self) -> None:
        """Back to the seed data: changes, tokens and call counters as at start."""
        self._install(self._fresh_state())
        self.reset_counters()
        self.saved()

    def saved(self) -> None:
        """After a change: persist the state when the simulator has a ``state_path`` (now, or soon)."""
        if self.state_path is not None:
            self.writer.changed()

    def save(self) -> None:
        """Write the state file now (atomically)."""
        self.writer.cancel()
        self._write()

    def _write(self) -> None:
        if self.state_path is None:
            return
        with self._save_lock, self.state.lock:
            save_json_atomic(
                self.state_path, {"state": self.state.to_json(), "clock_offset": self.clock.offset_seconds}
            )

    def dump(self) -> dict[str, Any]:
        with self.state.lock:
            return {
                "forms": {
                    name: self.state.entries(name)
                    for name, form in self.state.forms.items()
                    if form.store == name
                },
                "sequences": dict(self.state.sequences),
                "tokens": len(self.state.tokens),
                "now": self.clock.now_s(),
            }

    # -- call counters ---------------------------------------------------------------------------

    def count(self, label: str) -> None:
        with self._count_lock:
            self._counts[label] += 1

    def call_counts(self) -> dict[str, Any]:
        with self._count_lock:
            counts = dict(sorted(self._counts.items()))
        return {
            "total": sum(counts.values()),
            "by_endpoint": counts,
            "faults": asdict(self.injector.counters),
        }

    def reset_counters(self) -> None:
        with self._count_lock:
            self._counts.clear()
        if hasattr(self, "injector"):
            self.injector.counters = type(self.injector.counters)()

    # -- the CAB and the change coordinator ------------------------------------------------------

    def approve(
        self, crq_number: str, approver: str | None = None, comment: str | None = None
    ) -> dict[str, Any]:
        """The CAB approves the phase the change waits in; returns the change as the API shows it.

        Raises :class:`KeyError` for an unknown change, :class:`ApprovalError` when it is not waiting.
        """
        entry = self.workflow.decide(crq_number, approve=True, approver=approver, comment=comment)
        self.saved()
        return self.state.change(entry.values["Request ID"])

    def reject(self, crq_number: str, reason: str, approver: str | None = None) -> dict[str, Any]:
        """The CAB rejects: the change goes to Rejected (``reject_to`` per phase)."""
        entry = self.workflow.decide(crq_number, approve=False, approver=approver, comment=reason)
        self.saved()
        return self.state.change(entry.values["Request ID"])

    def set_status(
        self, crq_number: str, status: str, status_reason: str | None = None, user: str = "mary"
    ) -> dict[str, Any]:
        """One manual status change by ``user``, checked like a PUT (raises :class:`ARError`)."""
        entry = self.state.find_change(crq_number)
        if entry is None:
            raise KeyError(f"no change request {crq_number!r}")
        values: dict[str, Any] = {"Change Request Status": status}
        if status_reason is not None:
            values["Status Reason"] = status_reason
        with self.state.lock:
            self.workflow.update_change(entry, values, user)
        self.saved()
        return self.state.change(crq_number)

    def advance(
        self,
        crq_number: str,
        to: str,
        status_reason: str | None = None,
        user: str = "mary",
        approve: bool = True,
    ) -> dict[str, Any]:
        """Walk a change along the normal path to ``to``, approving every phase on the way; with
        ``approve=False`` it stops where the change waits for the CAB."""
        self.workflow.walk(crq_number, to, user, status_reason, approve=approve)
        self.saved()
        return self.state.change(crq_number)

    def waiting_for(self, crq_number: str) -> str | None:
        """The approval phase the change waits in for the CAB (``Implementation Approval``), or None."""
        entry = self.state.find_change(crq_number)
        if entry is None:
            raise KeyError(f"no change request {crq_number!r}")
        with self.state.lock:
            phase = entry.hidden.get("waiting")
        return str(phase) if phase else None

    def endpoint(self, url: str) -> dict[str, Any]:
        """Where this server listens and who can sign in, for a demo's ``simulators.json``."""
        return {
            "url": url,
            "accounts": {login: {"password": user.password} for login, user in self.config.users.items()},
        }

    @staticmethod
    def change_path(crq_number: str) -> str:
        """Where a person can read a change: ``base_url + change_path(...)``."""
        return f"/changes/{crq_number}"

    def changes(self) -> list[dict[str, Any]]:
        return self.state.entries(CHANGE)


class _Dispatch:
    def __init__(self, api: Any, rest: Any) -> None:
        self.api = api
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            await self.api(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if request.url.path.startswith("/api/"):
        error = err.ARError(
            exc.status_code,
            err.FORM_NOT_FOUND if exc.status_code == 404 else err.WORKFLOW_ERROR,
            "No such REST API endpoint" if exc.status_code == 404 else str(exc.detail),
            f"{request.method} {request.url.path}",
        )
        return JSONResponse(error.body(), status_code=exc.status_code)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)

"""The ServiceNow simulator: an ASGI app plus the handles tests and the demo hold on to.

::

    sim = ServiceNowSimulator(seed=42, token_lifetime=5)
    with sim.serve() as served:                      # uvicorn on a free loopback port
        ...                                          # drive served.url with any client
        sim.approve("CHG0030007", approver="alex.mercer")
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridgeline.sim._faults import FaultConfig, FaultInjector
from bridgeline.sim._persist import StateWriter, load_json, save_json_atomic
from bridgeline.sim._serve import ServedApp, serve_in_thread
from bridgeline.sim.servicenow import _batch, _change_api, _table_api
from bridgeline.sim.servicenow._admin import admin_routes
from bridgeline.sim.servicenow._auth import OAUTH_CLIENTS, Authenticator, RateLimiter
from bridgeline.sim.servicenow._clock import Clock, sn_datetime
from bridgeline.sim.servicenow._errors import (
    SimError,
    error_envelope,
    not_authenticated,
    servicenow_error_body,
)
from bridgeline.sim.servicenow._http import Answer, Call, unknown_resource
from bridgeline.sim.servicenow._inspect import SimState
from bridgeline.sim.servicenow._outbound import Outbound, OutboundTarget
from bridgeline.sim.servicenow._pages import page_routes
from bridgeline.sim.servicenow._rules import SYSTEM, Instance
from bridgeline.sim.servicenow._schema import build_tables
from bridgeline.sim.servicenow._seed import seed as seed_store
from bridgeline.sim.servicenow._seed import upgrade_former_secrets
from bridgeline.sim.servicenow._settings import SimSettings
from bridgeline.sim.servicenow._store import Row, Store

log = logging.getLogger(__name__)

STATE_FORMAT = "bridgeline-servicenow-sim/1"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_SYS_ID_SEGMENT = re.compile(r"/[0-9a-f]{32}(?=/|$)")
Handler = Callable[["ServiceNowSimulator", Call], Answer]


class ServiceNowSimulator:
    """An in-memory ServiceNow instance: Table API, Change Management API, OAuth, outbound webhooks.

    ``seed`` makes sys_ids repeatable; ``state_path`` keeps the instance in a JSON file across
    restarts; ``faults`` adds latency, 5xx, timeouts and dropped connections; every other keyword
    is a :class:`SimSettings` knob (``on_rejection``, ``rate_limit``, ``task_states``, ...).
    """

    def __init__(
        self,
        seed: int = 42,
        state_path: str | Path | None = None,
        faults: FaultConfig | None = None,
        token_lifetime: float = 1799.0,
        table_transition_refusal: str = "error",
        save_delay: float = 0.0,
        **settings: Any,
    ) -> None:
        self.settings = SimSettings(
            seed=seed,
            token_lifetime=token_lifetime,
            table_transition_refusal=table_transition_refusal,
            **settings,
        )
        self.state_path = Path(state_path) if state_path is not None else None
        # the state file after each change, or at most once per save_delay seconds (and on save())
        self.writer = StateWriter(self.save, save_delay)
        self.clock = Clock()
        self.lock = threading.RLock()
        self.outbound = Outbound(self.settings)
        self.limiter = RateLimiter(self.settings)
        self.state = SimState(self)
        self._build()
        self.faults = faults or FaultConfig()
        self.injector = FaultInjector(self._starlette(), self.faults, error_body=servicenow_error_body)
        self.app = self.injector
        if not self._load():
            seed_store(self.store, self.settings)
            self.save()

    def _build(self) -> None:
        defs = build_tables(task_states=self.settings.task_states, risk_scale=self.settings.risk_scale)
        self.store = Store(defs, self.settings.seed)
        self.instance = Instance(self.store, self.clock, self.settings, self.outbound.notify)
        self.auth = Authenticator(self.instance, self.clock, self.settings)

    # --- the CAB's answers --------------------------------------------------------------------

    def approve(self, number: str, approver: str | None = None, comment: str | None = None) -> Row:
        """Approve the change's pending CAB approval (as ``approver``, or the first pending approver)."""
        return self._decide(number, True, approver, comment)

    def reject(self, number: str, reason: str, approver: str | None = None) -> Row:
        """Reject the change's pending CAB approval with a reason."""
        return self._decide(number, False, approver, reason)

    def _decide(self, number: str, approve: bool, approver: str | None, comments: str | None) -> Row:
        with self.lock:
            found = self.store.find("change_request", "number", number)
            if not found:
                raise SimError(404, f"No change request {number}", "Check the number (CHG...)")
            user = None
            if approver:
                user = self.instance.user(approver)
                if user is None:
                    raise SimError(400, f"Unknown approver {approver}", "Give a user_name, e.g. alex.mercer")
            row = self.instance.cab.decide(
                found[0]["sys_id"], approve=approve, acting=user or SYSTEM, approver=user, comments=comments
            )
            self.save()
            return dict(row)

    def endpoint(self, url: str) -> dict[str, Any]:
        """Where this instance listens and who can sign in, for a demo's ``simulators.json``."""
        with self.lock:
            accounts = {
                row["user_name"]: {"password": row["user_password"]}
                for row in self.store.rows("sys_user")
                if row.get("user_password") and row.get("active") != "false"
            }
        return {
            "url": url,
            "accounts": accounts,
            "oauth_clients": [{"client_id": c, "client_secret": s} for c, s in OAUTH_CLIENTS.items()],
        }

    # --- direct writes (benchmark and test set-up) ----------------------------------------------

    def insert_many(self, table: str, records: Iterable[dict[str, Any]], *, user: str = "admin") -> list[str]:
        """Create records as ``user`` would through the Table API (same rules), without HTTP.

        Benchmarks use it to fill the instance with tens of thousands of records quickly;
        returns the new sys_ids. The state file, if any, is written once at the end.
        """
        with self.lock:
            actor = self.instance.user(user)
            if actor is None:
                raise SimError(400, f"Unknown user {user}", "Give a user_name, e.g. admin")
            refusal = self.settings.table_transition_refusal
            created = [
                self.instance.insert(table, dict(r), actor, refusal=refusal).row["sys_id"] for r in records
            ]
            self.save()
            return created

    # --- lifecycle ----------------------------------------------------------------------------

    def serve(self, **kwargs: Any) -> AbstractContextManager[ServedApp]:
        """Serve on a free loopback port: ``with sim.serve(certfile=..., keyfile=...) as served:``."""
        return serve_in_thread(self.app, **kwargs)

    def reset(self) -> None:
        """Back to the seed data; tokens, the call log and the outbound registration are forgotten."""
        with self.lock:
            self.outbound.reset()
            self.limiter.reset()
            self._build()
            self.clock.resume()
            self.state.clear_calls()
            seed_store(self.store, self.settings)
            self.save()

    def register_outbound(
        self,
        url: str,
        *,
        secret: str | None = None,
        token: str | None = None,
        skip_user: str | None = "bridgeline.integration",
        verify: bool | str = True,
    ) -> None:
        """Python form of ``PUT /_sim/outbound``."""
        self.outbound.register(OutboundTarget(url, secret, token, skip_user, verify))
        self.save()

    def wait_for_outbox(self, timeout: float = 10.0) -> bool:
        """Wait until every outbound notification is delivered or has failed for good."""
        return self.outbound.wait_idle(timeout)

    def close(self) -> None:
        self.outbound.close()

    def __enter__(self) -> ServiceNowSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- persistence --------------------------------------------------------------------------

    def save(self) -> None:
        if self.state_path is None:
            return
        with self.lock:
            target = self.outbound.target
            data = {
                "format": STATE_FORMAT,
                "store": self.store.dump(),
                "tokens": self.auth.dump(),
                "outbound": asdict(target) if target else None,
            }
            save_json_atomic(self.state_path, data)

    def _load(self) -> bool:
        if self.state_path is None:
            return False
        data = load_json(self.state_path)
        if not data:
            return False
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"{self.state_path} is not a ServiceNow simulator state file")
        self.store.load(data["store"])
        upgrade_former_secrets(self.store)
        self.auth.load(data.get("tokens") or [])
        if data.get("outbound"):
            self.outbound.register(OutboundTarget(**data["outbound"]))
        return True

    # --- HTTP ---------------------------------------------------------------------------------

    def _starlette(self) -> Starlette:
        routes = [
            Route("/oauth_token.do", self._oauth, methods=["POST"]),
            Route("/api/now/v1/batch", self._endpoint(self._batch), methods=API_METHODS),
            Route("/api/now/{rest:path}", self._endpoint(_table_api.handle), methods=API_METHODS),
            Route("/api/sn_chg_rest/{rest:path}", self._endpoint(_change_api.handle), methods=API_METHODS),
            Route("/api/{rest:path}", self._endpoint(_unknown_api), methods=API_METHODS),
            *admin_routes(self),
            *page_routes(self),
        ]
        return Starlette(routes=routes)

    def _log(self, request: Request, user: str) -> dict[str, Any]:
        entry = {
            "at": sn_datetime(self.clock.now()),
            "method": request.method,
            "path": request.url.path,
            "route": _SYS_ID_SEGMENT.sub("/{sys_id}", request.url.path),
            "user": user,
            "status": None,
        }
        self.state.log_call(entry)
        return entry

    async def _oauth(self, request: Request) -> Response:
        entry = self._log(request, "")
        body = await request.body()
        with self.lock:
            status, answer = self.auth.token_endpoint(body, request.headers.get("authorization"))
            if status == 200:
                self.writer.changed()
        entry["status"] = status
        return JSONResponse(answer, status, headers={"Cache-Control": "no-store"})

    @staticmethod
    def _batch(sim: ServiceNowSimulator, call: Call) -> Answer:
        return _batch.handle(sim, call)

    def _endpoint(self, handler: Handler) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            started = time.perf_counter()
            with self.lock:
                user = self.auth.authenticate(request.headers.get("authorization"))
            entry = self._log(request, user.user_name if user else "")
            if user is None:
                answer = Answer.from_error(not_authenticated())
            else:
                answer = self._run(handler, request, body, user)
            if answer.items is not None:
                entry["batch"] = answer.items  # each item's method, url and status
            entry["status"] = answer.status
            entry["ms"] = round((time.perf_counter() - started) * 1000, 2)
            return _respond(answer)

        return endpoint

    def _run(self, handler: Handler, request: Request, body: bytes, user: Any) -> Answer:
        decision = self.limiter.check(user.user_name)
        if not decision.allowed:
            error = SimError(
                429,
                "Rate limit exceeded",
                f"More than {self.settings.rate_limit} requests per {self.settings.rate_limit_window:g} s "
                f"for user {user.user_name}; retry after {decision.retry_after} s",
            )
            return Answer(429, error.body(), dict(decision.headers))
        parts = [p for p in request.path_params.get("rest", "").split("/") if p]
        call = Call(
            request.method,
            parts,
            request.query_params,
            body,
            user,
            str(request.base_url).rstrip("/"),
            request.url.path,
        )
        try:
            with self.lock:
                answer = handler(self, call)
                if request.method in MUTATING and answer.status < 400:
                    self.writer.changed()
        except SimError as exc:
            answer = Answer.from_error(exc)
        except Exception as exc:
            log.exception("servicenow simulator failed on %s %s", request.method, request.url.path)
            answer = Answer(500, error_envelope("Internal Server Error", f"{type(exc).__name__}: {exc}"))
        answer.headers.update(decision.headers)
        return answer


def _unknown_api(sim: ServiceNowSimulator, call: Call) -> Answer:
    raise unknown_resource()


def _respond(answer: Answer) -> Response:
    if answer.status == 204 or answer.body is None:
        return Response(status_code=answer.status, headers=answer.headers)
    content = json.dumps(answer.body, ensure_ascii=False).encode()
    return Response(
        content, answer.status, headers=answer.headers, media_type="application/json;charset=UTF-8"
    )

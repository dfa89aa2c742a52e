"""Errors, grouped by what the engine does with them.

::

    BridgelineError
    ├── ConfigError                 stop: the daemon does not start; the message says what to fix
    ├── RetryableError              retry later with backoff (outages, locks, a database away)
    │   └── RemoteUnavailable       a call did not get an answer it could use: unreachable, refused
    │       │                       by a proxy, TLS failure, timeout, broken connection, 5xx
    │       └── RateLimited         retry after the server's Retry-After (429, 503 with it)
    ├── PermanentError              do not retry: the entity goes to the dead letters
    │   ├── RemoteRejected          the remote system refused the request (4xx with its message)
    │   │   └── AuthenticationFailed    401 / 403: the credentials
    │   ├── TransitionRefused       a state model refused a transition
    │   └── RenderError             a mapping could not render for this entity
    ├── NotFound                    the entity does not exist (deleted at the source)
    └── OutOfScope                  skip: not bridgeline's to sync (a project outside jira.projects)

Each error's ``str()`` is written for a person: what happened, where, and what to do.
"""

from __future__ import annotations

from typing import Any


class BridgelineError(Exception):
    """Base of every error bridgeline raises on purpose."""


class ConfigError(BridgelineError):
    """Configuration or mapping set is invalid; nothing runs until it is fixed."""


class RetryableError(BridgelineError):
    """A passing failure: the same work may succeed later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RemoteUnavailable(RetryableError):
    """A call to a remote system failed in a way that may pass. ``maybe_applied``: the server may
    have acted on it (the answer was lost, not necessarily the request), so a create or a
    transition is looked for before it is repeated. ``status``: the HTTP status, when there was one."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        maybe_applied: bool = False,
        status: int | None = None,
        reason: str = "server_error",
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.maybe_applied = maybe_applied
        self.status = status
        self.reason = reason  # a small fixed vocabulary, for metrics: unreachable, proxy, tls, timeout, ...


class RateLimited(RemoteUnavailable):
    """The remote system asked us to slow down (429 / 503 with Retry-After); it did not act."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int = 429) -> None:
        super().__init__(
            message, retry_after=retry_after, maybe_applied=False, status=status, reason="rate_limited"
        )


class PermanentError(BridgelineError):
    """Retrying the same work cannot help; it goes to the dead letters."""


class RemoteRejected(PermanentError):
    """A remote system answered with a 4xx that retrying cannot change."""

    def __init__(
        self,
        system: str,
        status: int,
        message: str,
        *,
        method: str = "",
        url: str = "",
        details: Any = None,
    ) -> None:
        self.system = system
        self.status = status
        self.method = method
        self.url = url
        self.details = details
        where = f" ({method} {url})" if method else ""
        super().__init__(f"{system} refused the request with {status}{where}: {message}")


class AuthenticationFailed(RemoteRejected):
    """The remote system did not accept our credentials (401/403)."""


class TransitionRefused(PermanentError):
    """A state model refused a transition; the message names what is possible."""


class RenderError(PermanentError):
    """A mapping failed to render for one entity: names the mapping, the field and the reason."""

    def __init__(self, mapping: str, field: str, reason: str, *, entity: str | None = None) -> None:
        self.mapping = mapping
        self.field = field
        self.reason = reason
        self.entity = entity
        on = f" for {entity}" if entity else ""
        super().__init__(f"mapping {mapping!r}, field {field!r}{on}: {reason}")


class NotFound(BridgelineError):
    """The entity does not exist in its system (deleted, or never existed)."""


class OutOfScope(BridgelineError):
    """The entity is not bridgeline's to sync (its project is not among ``jira.projects``): skipped,
    neither retried nor dead-lettered."""

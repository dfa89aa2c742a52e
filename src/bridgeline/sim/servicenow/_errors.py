"""ServiceNow's error envelope and the exception that carries it out of a handler."""

from __future__ import annotations

import json


class SimError(Exception):
    """An answer in ServiceNow's error shape: ``{"error": {"message", "detail"}, "status": "failure"}``."""

    def __init__(
        self, status: int, message: str, detail: str | None = None, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return error_envelope(self.message, self.detail)


def error_envelope(message: str, detail: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


def servicenow_error_body(status: int, message: str) -> tuple[bytes, str]:
    """The FaultInjector's error-body callback: injected faults look like the instance's own."""
    body = json.dumps(error_envelope(message, f"HTTP {status}")).encode()
    return body, "application/json;charset=UTF-8"


def not_authenticated() -> SimError:
    return SimError(
        401,
        "User Not Authenticated",
        "Required to provide Auth information",
        headers={"WWW-Authenticate": 'BASIC realm="Service-now"'},
    )


def no_record() -> SimError:
    return SimError(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")

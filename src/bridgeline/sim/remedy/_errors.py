"""AR System errors as the REST API reports them: a JSON array of messages with an HTTP status.

::

    [{"messageType": "ERROR", "messageNumber": 302, "messageText": "Entry does not exist in database",
      "messageAppendedText": "CRQ000000000999"}]

Message numbers are AR System's own where a public source confirmed them (623, 302, 314, 1587);
the others are documented in ``docs/simulators/remedy.md`` with how sure we are.
"""

from __future__ import annotations

import json
from typing import Any

AUTHENTICATION_FAILED = 623  # 401: bad login, missing / expired / revoked AR-JWT token
ENTRY_NOT_FOUND = 302  # 404
FORM_NOT_FOUND = 303  # 404
FIELD_NOT_FOUND = 314  # 400: unknown field in values, fields=values(...) or sort
QUALIFICATION_ERROR = 1587  # 400: unknown field referenced in q, or a q that does not parse
VALUE_OUT_OF_LIMITS = 306  # 400: unknown enum label, text too long, date not understood
REQUIRED_FIELD_BLANK = 326  # 400: a required value is missing on create
WORKFLOW_ERROR = 10000  # 400: raised by application workflow (status rules, approvals, read-only fields)


class ARError(Exception):
    """An error the simulator answers with Remedy's error array."""

    def __init__(self, status: int, number: int, text: str, appended: str | None = None) -> None:
        super().__init__(f"ERROR ({number}): {text}" + (f"; {appended}" if appended else ""))
        self.status = status
        self.number = number
        self.text = text
        self.appended = appended

    def body(self) -> list[dict[str, Any]]:
        return [
            {
                "messageType": "ERROR",
                "messageText": self.text,
                "messageAppendedText": self.appended,
                "messageNumber": self.number,
            }
        ]


def not_found(entry_id: str) -> ARError:
    return ARError(404, ENTRY_NOT_FOUND, "Entry does not exist in database", entry_id)


def unknown_field(form: str, field: str) -> ARError:
    return ARError(400, FIELD_NOT_FOUND, "Field does not exist on current form", f"{form} : <{field}>")


def out_of_limits(field: str, detail: str) -> ARError:
    return ARError(
        400,
        VALUE_OUT_OF_LIMITS,
        "Value does not fall within the limits specified for the field",
        f"{field}: {detail}",
    )


def workflow(text: str, appended: str | None = None) -> ARError:
    return ARError(400, WORKFLOW_ERROR, text, appended)


def auth_failed(appended: str) -> ARError:
    return ARError(401, AUTHENTICATION_FAILED, "Authentication failed", appended)


def error_body(status: int, message: str) -> tuple[bytes, str]:
    """Injected faults (5xx, 429) answered in Remedy's shape, for :class:`FaultInjector`."""
    # 90 is AR System's "cannot establish a network connection"; a 429 has no AR number of its own.
    number = 0 if status == 429 else 90
    body = [
        {"messageType": "ERROR", "messageText": message, "messageAppendedText": None, "messageNumber": number}
    ]
    return json.dumps(body).encode(), "application/json"

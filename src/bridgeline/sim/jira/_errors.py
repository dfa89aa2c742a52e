"""Jira's error shape: ``{"errorMessages": [...], "errors": {"field": "message"}}``."""

from __future__ import annotations

import json

from starlette.responses import Response

NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED_JQL = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."


class JiraError(Exception):
    """An answer in Jira's error shape; raised anywhere below a route, rendered by it."""

    def __init__(
        self,
        status: int,
        *messages: str,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(messages[0] if messages else json.dumps(errors))
        self.status = status
        self.messages = list(messages)
        self.errors = errors or {}
        self.headers = headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.messages, self.errors, self.headers)


def error_response(
    status: int,
    messages: list[str],
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = json.dumps({"errorMessages": messages, "errors": errors or {}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def jira_error_body(status: int, message: str) -> tuple[bytes, str]:
    """The fault injector's error bodies, in Jira's shape."""
    return json.dumps({"errorMessages": [message], "errors": {}}).encode(), "application/json;charset=UTF-8"


def not_found_issue() -> JiraError:
    return JiraError(404, "Issue does not exist or you do not have permission to see it.")


def not_found_project(key: str) -> JiraError:
    return JiraError(404, f"No project could be found with key '{key}'.")


def not_found_version(version_id: str) -> JiraError:
    return JiraError(404, f"Could not find version for id '{version_id}'")

"""Reading the values an edit request carries, recording what is wrong with them per field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridgeline.sim.jira._adf import is_adf, wiki_to_adf
from bridgeline.sim.jira._model import Issue, User
from bridgeline.sim.jira._state import JiraState

Apply = Callable[[], list[dict[str, Any]]]


def not_settable(field_id: str) -> str:
    return f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."


def item(
    field_name: str,
    field_id: str | None,
    from_: Any,
    from_string: Any,
    to: Any,
    to_string: Any,
    fieldtype: str = "jira",
) -> dict[str, Any]:
    entry: dict[str, Any] = {"field": field_name, "fieldtype": fieldtype}
    if field_id is not None:
        entry["fieldId"] = field_id
    entry.update({"from": from_, "fromString": from_string, "to": to, "toString": to_string})
    return entry


class FieldValues:
    """Value parsing shared by the field setters; problems land in ``errors`` keyed by field."""

    def __init__(self, state: JiraState, actor: User, api: int, cloud: bool) -> None:
        self.state = state
        self.actor = actor
        self.api = api
        self.cloud = cloud
        self.errors: dict[str, str] = {}
        self._steps: list[Apply] = []

    # -- value parsing -------------------------------------------------------------------------------

    def rich_text(self, field_id: str, value: Any) -> dict[str, Any] | None:
        """ADF on v3, a wiki string on v2; ``None`` clears."""
        if value is None:
            return None
        if self.api == 3:
            if not is_adf(value):
                self.errors[field_id] = (
                    "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                )
                return None
            return dict(value)
        if not isinstance(value, str):
            self.errors[field_id] = "Operation value must be a string"
            return None
        return wiki_to_adf(value)

    def user_ref(self, field_id: str, value: Any) -> tuple[bool, str | None]:
        if value is None:
            return True, None
        if isinstance(value, dict):
            ref = value.get("accountId") if self.cloud else (value.get("name") or value.get("key"))
            if ref is None and not self.cloud:
                ref = value.get("accountId")
            if ref is None and self.cloud and ("name" in value or "key" in value):
                self.errors[field_id] = f"Specify a valid value for {field_id}"
                return False, None
            if ref in (None, "-1") and field_id == "assignee":
                return True, None
            user = self.state.user(str(ref)) if ref is not None else None
            if user is not None:
                return True, user.account_id
            self.errors[field_id] = f"User '{ref}' does not exist."
            return False, None
        self.errors[field_id] = f"Specify a valid value for {field_id}"
        return False, None

    def version_ids(self, issue: Issue, field_id: str, values: Any) -> list[int] | None:
        if not isinstance(values, list):
            values = [values]
        found: list[int] = []
        for ref in values:
            if not isinstance(ref, dict):
                self.errors[field_id] = "Operation value must be an object with id or name"
                return None
            version = None
            for candidate in self.state.project_versions(issue.project_id):
                if str(candidate.id) == str(ref.get("id")) or candidate.name == ref.get("name"):
                    version = candidate
            if version is None:
                if "id" in ref:
                    self.errors[field_id] = f"Version id '{ref['id']}' is not valid"
                else:
                    self.errors[field_id] = f"Version name '{ref.get('name')}' is not valid"
                return None
            found.append(version.id)
        return found

    def component_ids(self, issue: Issue, values: Any) -> list[int] | None:
        if not isinstance(values, list):
            values = [values]
        project = self.state.projects[issue.project_id]
        found: list[int] = []
        for ref in values:
            component = self.state.component(project, ref) if isinstance(ref, dict) else None
            if component is None:
                shown = ref.get("id", ref.get("name")) if isinstance(ref, dict) else ref
                self.errors["components"] = f"Component with id '{shown}' does not exist."
                return None
            found.append(component.id)
        return found

    def labels(self, values: Any) -> list[str] | None:
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            self.errors["labels"] = "Operation value must be a list of strings"
            return None
        for label in values:
            if " " in label:
                self.errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                return None
            if len(label) > 255:
                self.errors["labels"] = "The label must not exceed 255 characters."
                return None
        return list(dict.fromkeys(values))

    def _user_key(self, account: str | None) -> str | None:
        user = self.state.users.get(account) if account else None
        if user is None:
            return None
        return user.account_id if self.cloud else user.key

    def _user_name(self, account: str | None) -> str | None:
        user = self.state.users.get(account) if account else None
        return user.display_name if user else None

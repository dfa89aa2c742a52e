"""Setting one field of an issue: validate now, apply later, and say what changed for the changelog."""

from __future__ import annotations

from datetime import date
from typing import Any

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._adf import adf_to_wiki
from bridgeline.sim.jira._edit_values import FieldValues, item, not_settable
from bridgeline.sim.jira._model import Issue


class FieldSetters(FieldValues):
    """``set_field`` plans one field change; ``_<field>_to`` helpers apply list changes."""

    # -- setting one field --------------------------------------------------------------------------

    def set_field(self, issue: Issue, field_id: str, value: Any) -> None:
        if field_id not in cat.EDITABLE_FIELDS:
            self.errors[field_id] = not_settable(field_id)
            return
        handler = getattr(self, f"_set_{field_id}", None)
        if handler is None:
            handler = self._set_custom
        handler(issue, field_id, value)

    def _set_summary(self, issue: Issue, field_id: str, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            self.errors["summary"] = "You must specify a summary of the issue."
            return
        if "\n" in value or "\r" in value:
            self.errors["summary"] = "The summary is invalid because it contains newline characters."
            return
        if len(value) > 255:
            self.errors["summary"] = "Summary must be less than 255 characters."
            return

        def apply() -> list[dict[str, Any]]:
            old, issue.summary = issue.summary, value
            return [item("summary", "summary", None, old, None, value)] if old != value else []

        self._steps.append(apply)

    def _set_description(self, issue: Issue, field_id: str, value: Any) -> None:
        document = self.rich_text("description", value)
        if "description" in self.errors:
            return

        def apply() -> list[dict[str, Any]]:
            old = issue.description
            issue.description = document
            if old == document:
                return []
            return [item("description", "description", None, adf_to_wiki(old), None, adf_to_wiki(document))]

        self._steps.append(apply)

    def _set_priority(self, issue: Issue, field_id: str, value: Any) -> None:
        ref = value if isinstance(value, dict) else {}
        priority = cat.PRIORITY_BY_ID.get(str(ref.get("id"))) or cat.PRIORITY_BY_NAME.get(
            str(ref.get("name", "")).lower()
        )
        if priority is None:
            self.errors["priority"] = "The priority selected is invalid."
            return

        def apply() -> list[dict[str, Any]]:
            old = cat.PRIORITY_BY_NAME[issue.priority.lower()]
            issue.priority = priority.name
            if old.name == priority.name:
                return []
            return [item("priority", "priority", old.id, old.name, priority.id, priority.name)]

        self._steps.append(apply)

    def _set_labels(self, issue: Issue, field_id: str, value: Any) -> None:
        labels = self.labels(value)
        if labels is not None:
            self._steps.append(lambda: self._labels_to(issue, labels))

    def _labels_to(self, issue: Issue, labels: list[str]) -> list[dict[str, Any]]:
        old = list(issue.labels)
        issue.labels = labels
        if sorted(old) == sorted(labels):
            return []
        return [item("labels", "labels", None, " ".join(sorted(old)), None, " ".join(sorted(labels)))]

    def _set_components(self, issue: Issue, field_id: str, value: Any) -> None:
        ids = self.component_ids(issue, value)
        if ids is not None:
            self._steps.append(lambda: self._components_to(issue, ids))

    def _components_to(self, issue: Issue, ids: list[int]) -> list[dict[str, Any]]:
        old = list(issue.components)
        issue.components = list(dict.fromkeys(ids))
        items: list[dict[str, Any]] = []
        for cid in old:
            if cid not in issue.components:
                c = self.state.component_by_id(cid)
                items.append(item("Component", "components", str(cid), c.name if c else None, None, None))
        for cid in issue.components:
            if cid not in old:
                c = self.state.component_by_id(cid)
                items.append(item("Component", "components", None, None, str(cid), c.name if c else None))
        return items

    def _set_fixVersions(self, issue: Issue, field_id: str, value: Any) -> None:
        ids = self.version_ids(issue, "fixVersions", value)
        if ids is not None:
            self._steps.append(lambda: self._versions_to(issue, "fixVersions", ids))

    def _set_versions(self, issue: Issue, field_id: str, value: Any) -> None:
        ids = self.version_ids(issue, "versions", value)
        if ids is not None:
            self._steps.append(lambda: self._versions_to(issue, "versions", ids))

    def _versions_to(self, issue: Issue, field_id: str, ids: list[int]) -> list[dict[str, Any]]:
        label = "Fix Version" if field_id == "fixVersions" else "Version"
        old = list(issue.fix_versions if field_id == "fixVersions" else issue.affects_versions)
        new = list(dict.fromkeys(ids))
        if field_id == "fixVersions":
            self.state.set_fix_versions(issue, new)
        else:
            issue.affects_versions = new
        items: list[dict[str, Any]] = []
        for vid in old:
            if vid not in new:
                name = self.state.versions[vid].name if vid in self.state.versions else None
                items.append(item(label, field_id, str(vid), name, None, None))
        for vid in new:
            if vid not in old:
                items.append(item(label, field_id, None, None, str(vid), self.state.versions[vid].name))
        return items

    def _set_assignee(self, issue: Issue, field_id: str, value: Any) -> None:
        self._set_person(issue, "assignee", value)

    def _set_reporter(self, issue: Issue, field_id: str, value: Any) -> None:
        self._set_person(issue, "reporter", value)

    def _set_person(self, issue: Issue, field_id: str, value: Any) -> None:
        ok, account = self.user_ref(field_id, value)
        if not ok:
            return

        def apply() -> list[dict[str, Any]]:
            old = getattr(issue, field_id)
            setattr(issue, field_id, account)
            if old == account:
                return []
            return [
                item(
                    field_id,
                    field_id,
                    self._user_key(old),
                    self._user_name(old),
                    self._user_key(account),
                    self._user_name(account),
                )
            ]

        self._steps.append(apply)

    def _set_duedate(self, issue: Issue, field_id: str, value: Any) -> None:
        if value is not None:
            try:
                date.fromisoformat(str(value))
            except ValueError:
                self.errors["duedate"] = f"Error parsing date string: {value}"
                return

        def apply() -> list[dict[str, Any]]:
            old, issue.duedate = issue.duedate, value
            return [] if old == value else [item("duedate", "duedate", old, old, value, value)]

        self._steps.append(apply)

    def _set_parent(self, issue: Issue, field_id: str, value: Any) -> None:
        ref = value if isinstance(value, dict) else {}
        parent = self.state.issue(str(ref.get("key") or ref.get("id") or "")) if ref else None
        if value is not None and (parent is None or parent.id == issue.id):
            self.errors["parent"] = "Could not find issue by id or key."
            return

        def apply() -> list[dict[str, Any]]:
            old = issue.parent_id
            self.state.set_parent(issue, parent.id if parent else None)
            if old == issue.parent_id:
                return []
            return [
                item(
                    "IssueParentAssociation",
                    None,
                    str(old) if old else None,
                    None,
                    str(issue.parent_id) if issue.parent_id else None,
                    parent.key if parent else None,
                )
            ]

        self._steps.append(apply)

    def _set_custom(self, issue: Issue, field_id: str, value: Any) -> None:
        definition = cat.FIELD_BY_ID[field_id]
        if field_id == cat.CHANGE_RISK:
            if value is None:
                stored: Any = None
            elif isinstance(value, dict) and (
                value.get("value") in cat.CHANGE_RISK_OPTIONS.values()
                or str(value.get("id")) in cat.CHANGE_RISK_OPTIONS
            ):
                stored = value.get("value") or cat.CHANGE_RISK_OPTIONS[str(value.get("id"))]
            else:
                self.errors[field_id] = f"Option value '{value}' is not valid"
                return
        elif field_id in cat.TEXT_FIELDS:
            if value is not None and not isinstance(value, str):
                self.errors[field_id] = "Operation value must be a string"
                return
            if isinstance(value, str) and len(value) > 255:
                self.errors[field_id] = (
                    "The entered text is too long. It exceeds the allowed limit of 255 characters."
                )
                return
            stored = value or None
        else:
            if value is not None and not isinstance(value, int | float):
                self.errors[field_id] = "Operation value must be a number"
                return
            stored = value

        def apply() -> list[dict[str, Any]]:
            old = issue.custom.get(field_id)
            issue.custom[field_id] = stored
            if old == stored:
                return []
            return [
                item(
                    definition.name,
                    field_id,
                    None,
                    None if old is None else str(old),
                    None,
                    None if stored is None else str(stored),
                    fieldtype="custom",
                )
            ]

        self._steps.append(apply)

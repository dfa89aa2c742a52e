"""Changing an issue the way Jira does: validate everything first, then apply, bump ``updated`` and
record one changelog history (with the actor) for the whole request.

``fields`` sets values; ``update`` applies operations (``add``, ``remove``, ``set``, ``edit``), e.g.
``{"update": {"labels": [{"add": "cab-approved"}], "comment": [{"add": {"body": "..."}}]}}``.
Errors are collected per field and answered together as ``{"errors": {"labels": "..."}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._adf import adf_to_wiki, is_adf, wiki_to_adf
from bridgeline.sim.jira._errors import JiraError
from bridgeline.sim.jira._model import Comment, History, Issue, User
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


@dataclass
class EditResult:
    history: History | None = None
    comments_added: list[Comment] = field(default_factory=list)
    comments_updated: list[Comment] = field(default_factory=list)
    comments_deleted: list[Comment] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.history or self.comments_added or self.comments_updated or self.comments_deleted)


class IssueEditor:
    """Plans and applies one request's changes to one issue."""

    def __init__(self, state: JiraState, actor: User, api: int, cloud: bool) -> None:
        self.state = state
        self.actor = actor
        self.api = api
        self.cloud = cloud
        self.errors: dict[str, str] = {}
        self._steps: list[Apply] = []
        self.result = EditResult()

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

    def _user_key(self, account: str | None) -> str | None:
        user = self.state.users.get(account) if account else None
        if user is None:
            return None
        return user.account_id if self.cloud else user.key

    def _user_name(self, account: str | None) -> str | None:
        user = self.state.users.get(account) if account else None
        return user.display_name if user else None

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

    # -- update operations --------------------------------------------------------------------------

    def update_field(self, issue: Issue, field_id: str, operations: Any) -> None:
        if not isinstance(operations, list):
            self.errors[field_id] = "Operations must be a list"
            return
        if field_id == "comment":
            for operation in operations:
                self._comment_operation(issue, operation)
            return
        if field_id in ("labels", "components", "fixVersions", "versions"):
            for operation in operations:
                self._list_operation(issue, field_id, operation)
            return
        for operation in operations:
            if not isinstance(operation, dict) or len(operation) != 1:
                self.errors[field_id] = "Each operation must be an object with a single verb"
                return
            verb, value = next(iter(operation.items()))
            if verb not in ("set", "edit"):
                self.errors[field_id] = f"Field '{field_id}' does not support the operation '{verb}'"
                return
            self.set_field(issue, field_id, value)

    def _list_operation(self, issue: Issue, field_id: str, operation: Any) -> None:
        if not isinstance(operation, dict) or len(operation) != 1:
            self.errors[field_id] = "Each operation must be an object with a single verb"
            return
        verb, value = next(iter(operation.items()))
        if verb == "set":
            self.set_field(issue, field_id, value)
            return
        if verb not in ("add", "remove"):
            self.errors[field_id] = f"Field '{field_id}' does not support the operation '{verb}'"
            return
        if field_id == "labels":
            if not isinstance(value, str):
                self.errors["labels"] = "Operation value must be a string"
                return
            if self.labels([value]) is None:
                return

            def apply_label() -> list[dict[str, Any]]:
                labels = list(issue.labels)
                if verb == "add" and value not in labels:
                    labels.append(value)
                elif verb == "remove" and value in labels:
                    labels.remove(value)
                return self._labels_to(issue, labels)

            self._steps.append(apply_label)
            return
        if field_id == "components":
            ids = self.component_ids(issue, [value])
            if ids is None:
                return

            def apply_component() -> list[dict[str, Any]]:
                current = list(issue.components)
                if verb == "add":
                    current.extend(i for i in ids if i not in current)
                else:
                    current = [i for i in current if i not in ids]
                return self._components_to(issue, current)

            self._steps.append(apply_component)
            return
        versions = self.version_ids(issue, field_id, [value])
        if versions is None:
            return

        def apply_version() -> list[dict[str, Any]]:
            current = list(issue.fix_versions if field_id == "fixVersions" else issue.affects_versions)
            if verb == "add":
                current.extend(v for v in versions if v not in current)
            else:
                current = [v for v in current if v not in versions]
            return self._versions_to(issue, field_id, current)

        self._steps.append(apply_version)

    def _comment_operation(self, issue: Issue, operation: Any) -> None:
        if not isinstance(operation, dict) or len(operation) != 1:
            self.errors["comment"] = "Each operation must be an object with a single verb"
            return
        verb, value = next(iter(operation.items()))
        value = value if isinstance(value, dict) else {}
        if verb == "add":
            new_body = self.rich_text("comment", value.get("body"))
            if new_body is None:
                self.errors.setdefault("comment", "Comment body can not be empty!")
                return

            def add() -> list[dict[str, Any]]:
                assert new_body is not None
                self.result.comments_added.append(self.add_comment(issue, new_body))
                return []

            self._steps.append(add)
            return
        target = next((c for c in issue.comments if str(c.id) == str(value.get("id"))), None)
        if target is None:
            self.errors["comment"] = f"Can not find a comment for the id: {value.get('id')}."
            return
        if verb == "edit":
            body = self.rich_text("comment", value.get("body"))
            if body is None:
                return

            def edit() -> list[dict[str, Any]]:
                self.edit_comment(target, body)
                self.result.comments_updated.append(target)
                return []

            self._steps.append(edit)
        elif verb == "remove":

            def remove() -> list[dict[str, Any]]:
                issue.comments.remove(target)
                self.result.comments_deleted.append(target)
                return []

            self._steps.append(remove)
        else:
            self.errors["comment"] = f"Field 'comment' does not support the operation '{verb}'"

    # -- comments outside of edits -----------------------------------------------------------------

    def add_comment(self, issue: Issue, body: dict[str, Any]) -> Comment:
        now = self.state.clock.now_ms()
        comment = Comment(
            self.state.counters.next("comment"), self.actor.account_id, body, now, now, self.actor.account_id
        )
        issue.comments.append(comment)
        return comment

    def edit_comment(self, comment: Comment, body: dict[str, Any]) -> None:
        comment.body = body
        comment.updated = self.state.clock.now_ms()
        comment.update_author = self.actor.account_id

    # -- planning and applying ------------------------------------------------------------------

    def plan(self, issue: Issue, fields: Any, update: Any) -> None:
        fields = fields or {}
        update = update or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise JiraError(400, "Can not deserialize instance of object out of START_ARRAY token")
        for field_id in fields:
            if field_id in update:
                self.errors[field_id] = f"Field '{field_id}' cannot be set in both 'fields' and 'update'."
        for field_id, value in fields.items():
            self.set_field(issue, field_id, value)
        for field_id, operations in update.items():
            if field_id != "comment" and field_id not in cat.EDITABLE_FIELDS:
                self.errors[field_id] = not_settable(field_id)
                continue
            self.update_field(issue, field_id, operations)

    def check(self) -> None:
        if self.errors:
            raise JiraError(400, errors=dict(self.errors))

    def add_step(self, step: Apply) -> None:
        self._steps.append(step)

    def apply(self, issue: Issue, *, record: bool = True) -> EditResult:
        """Run the planned steps; one history for all field changes; ``updated`` bumped if anything changed.

        ``record=False`` is for a new issue: its initial values are not changes.
        """
        self.check()
        if record:
            self.state.remember_for_search(issue.id, issue)
        items: list[dict[str, Any]] = []
        for step in self._steps:
            items.extend(step())
        if not record:
            return self.result
        now = self.state.clock.now_ms()
        if items:
            history = History(self.state.counters.next("history"), self.actor.account_id, now, items)
            issue.histories.append(history)
            self.result.history = history
        if self.result.changed:
            self.state.set_updated(issue, max(now, issue.updated))
        return self.result


def transition_issue(editor: IssueEditor, issue: Issue, target: str, resolution: str | None) -> None:
    """Plan a status change (with Jira's resolution post-functions) into ``editor``."""
    before = cat.STATUS_BY_NAME[issue.status.lower()]
    after = cat.STATUS_BY_NAME[target.lower()]

    def apply() -> list[dict[str, Any]]:
        now = editor.state.clock.now_ms()
        items = [item("status", "status", before.id, before.name, after.id, after.name)]
        issue.status = after.name
        issue.status_changed = now
        if after.category == "done" and not issue.resolution:
            name = resolution or "Done"
            issue.resolution = name
            issue.resolution_date = now
            items.append(item("resolution", "resolution", None, None, cat.RESOLUTIONS[name], name))
        elif after.category != "done" and issue.resolution:
            old = issue.resolution
            issue.resolution = None
            issue.resolution_date = None
            items.append(item("resolution", "resolution", cat.RESOLUTIONS.get(old), old, None, None))
        return items

    editor.add_step(apply)

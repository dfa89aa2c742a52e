"""The instance's business rules: what happens when a record is inserted, updated or deleted.

Both APIs write through :class:`Instance`, as both go through GlideRecord on a real instance:
values are coerced to strings, references resolved (a sys_id, or a display value the instance
can match), journal fields turned into ``sys_journal_field`` entries, the change state model
enforced, approvals requested from the CAB when a change enters Assess or Authorize, system fields
stamped, and an outbound notification queued for changes made by anyone but the integration user.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridgeline.sim.servicenow import _statemodel as sm
from bridgeline.sim.servicenow._approvals import Cab
from bridgeline.sim.servicenow._clock import Clock, parse_sn_datetime, sn_datetime
from bridgeline.sim.servicenow._errors import SimError, no_record
from bridgeline.sim.servicenow._render import to_text
from bridgeline.sim.servicenow._schema import (
    ALTERNATE_KEYS,
    PRIORITY_LOOKUP,
    TASK_CLOSED_STATES,
    Field,
    TableDef,
)
from bridgeline.sim.servicenow._settings import SimSettings
from bridgeline.sim.servicenow._store import Row, Store

SYS_ID = re.compile(r"^[0-9a-f]{32}$")
TASK_TABLES = frozenset({"change_request", "change_task"})
# (table, row, operation, acting user name) -> queued for the outbound notification
Notify = Callable[[str, Row, str, str], None]


@dataclass(frozen=True, slots=True)
class User:
    sys_id: str
    user_name: str
    name: str
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


SYSTEM = User("", "system", "System", frozenset({"admin"}))


@dataclass(slots=True)
class Written:
    """The outcome of one write: the stored row, what was ignored, whether anything changed."""

    row: Row
    ignored: list[str] = field(default_factory=list)
    changed: bool = True


class Instance:
    """Records plus the rules that guard them."""

    def __init__(self, store: Store, clock: Clock, settings: SimSettings, notify: Notify) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.notify = notify
        self.cab = Cab(self)

    def now(self) -> str:
        return sn_datetime(self.clock.now())

    def definition(self, table: str) -> TableDef:
        definition = self.store.defs.get(table)
        if definition is None:
            raise SimError(400, f"Invalid table {table}", None)
        return definition

    def user(self, name_or_id: str) -> User | None:
        """A user by user_name, sys_id or full name."""
        row = self.store.get("sys_user", name_or_id)
        if row is None:
            for key in ("user_name", "name"):
                found = self.store.find("sys_user", key, name_or_id)
                if found:
                    row = found[0]
                    break
        if row is None:
            return None
        roles = frozenset(r.strip() for r in row.get("roles", "").split(",") if r.strip())
        return User(row["sys_id"], row.get("user_name", ""), row.get("name", ""), roles)

    # --- coercion ---------------------------------------------------------------------------

    def _coerce(
        self,
        definition: TableDef,
        values: dict[str, Any],
        *,
        inserting: bool,
        input_display: bool,
        read_only: frozenset[str],
    ) -> tuple[Row, list[tuple[str, str]], list[str]]:
        changes: Row = {}
        journal: list[tuple[str, str]] = []
        ignored: list[str] = []
        for name, raw in values.items():
            fdef = definition.fields.get(name)
            writable_on_insert = inserting and name == "sys_id"
            if fdef is None or name in read_only or (fdef.read_only and not writable_on_insert):
                ignored.append(name)
                continue
            text = to_text(raw)
            if fdef.type == "journal":
                if text.strip():
                    journal.append((name, text))
                continue
            if name == "sys_id":
                if (
                    SYS_ID.match(text.lower())
                    and self.store.storage(definition.name).rows.get(text.lower()) is None
                ):
                    changes["sys_id"] = text.lower()
                continue
            changes[name] = self._normalise(fdef, text, input_display or _is_display_only(raw))
        return changes, journal, ignored

    def _normalise(self, fdef: Field, text: str, as_display: bool) -> str:
        if fdef.type == "reference":
            return self.resolve_reference(fdef.reference or "", text)
        if fdef.choices and as_display:
            return fdef.choice_value(text) or text
        if fdef.type == "integer":
            try:
                return str(int(float(text))) if text.strip() else ""
            except ValueError:
                return fdef.choice_value(text) or ""
        if fdef.type == "boolean":
            return "true" if text.strip().lower() in ("true", "1", "yes") else ("false" if text else "")
        if fdef.type == "glide_date_time":
            moment = parse_sn_datetime(text)
            return sn_datetime(moment) if moment else ""
        return text

    def resolve_reference(self, table: str, text: str) -> str:
        """A sys_id as given, or the record whose display value (or user name) matches."""
        if not text:
            return ""
        definition = self.store.defs.get(table)
        if definition is None:
            return text
        if self.store.storage(table).rows.get(text.lower()) is not None:
            return text.lower()
        for key in (definition.display_field, *ALTERNATE_KEYS.get(table, ())):
            if key:
                found = self.store.find(table, key, text)
                if found:
                    return found[0]["sys_id"]
        return text  # an instance stores an unmatched reference as given

    # --- insert / update / delete -------------------------------------------------------------

    def insert(
        self,
        table: str,
        values: dict[str, Any],
        user: User,
        *,
        refusal: str = "error",
        input_display: bool = False,
        read_only: frozenset[str] = frozenset(),
    ) -> Written:
        definition = self.definition(table)
        changes, journal, ignored = self._coerce(
            definition, values, inserting=True, input_display=input_display, read_only=read_only
        )
        now = self.now()
        row: Row = {name: fdef.default for name, fdef in definition.fields.items() if fdef.default}
        row.update(
            sys_created_on=now,
            sys_created_by=user.user_name,
            sys_updated_on=now,
            sys_updated_by=user.user_name,
            sys_mod_count="0",
        )
        if table in TASK_TABLES:
            row.update(sys_class_name=table, opened_at=now, opened_by=user.sys_id)
        if table == "change_request":
            row["requested_by"] = user.sys_id
        if definition.parent is not None or "sys_class_name" in definition.fields:
            row["sys_class_name"] = table
        before = dict(row)
        row.update(changes)
        if table == "change_request":
            self._look_up_priority(row)
        if definition.number_prefix and not row.get("number"):
            row["number"] = self.store.next_number(table)
        if table == "change_task" and not row.get("parent"):
            row["parent"] = row.get("change_request", "")
        if table == "change_request":
            self._guard_change(before, row, refusal)
            row.update(self._entering(table, before, row, user))
        elif table == "change_task":
            row.update(self._entering(table, before, row, user))
        self.store.insert(table, row)
        self._after_write(table, before, row, journal, user, "insert")
        return Written(row, ignored, True)

    def update(
        self,
        table: str,
        sys_id: str,
        values: dict[str, Any],
        user: User,
        *,
        refusal: str = "error",
        input_display: bool = False,
        read_only: frozenset[str] = frozenset(),
    ) -> Written:
        definition = self.definition(table)
        current = self.store.get(table, sys_id)
        if current is None:
            raise no_record()
        changes, journal, ignored = self._coerce(
            definition, values, inserting=False, input_display=input_display, read_only=read_only
        )
        before = dict(current)
        after = {**before, **changes}
        if table == "change_request":
            self._look_up_priority(after)
            self._guard_change(before, after, refusal)
        diff = {k: v for k, v in after.items() if before.get(k, "") != v}
        if not diff and not journal:
            return Written(current, ignored, False)
        if diff:
            diff.update(self._entering(table, before, after, user))
        self.stamp(before, diff, user)
        self.store.update(table, sys_id, diff)
        self._after_write(table, before, current, journal, user, "update")
        return Written(current, ignored, True)

    def system_update(self, table: str, sys_id: str, diff: Row, user: User) -> Row:
        """A write made by the instance itself (approval outcomes): no state-model guard."""
        current = self.store.get(table, sys_id)
        if current is None:
            raise no_record()
        before = dict(current)
        diff = {k: v for k, v in diff.items() if before.get(k, "") != v}
        if not diff:
            return current
        diff.update(self._entering(table, before, {**before, **diff}, user))
        self.stamp(before, diff, user)
        self.store.update(table, sys_id, diff)
        self._after_write(table, before, current, [], user, "update")
        return current

    def delete(self, table: str, sys_id: str, user: User) -> Row:
        self.definition(table)
        current = self.store.get(table, sys_id)
        if current is None:
            raise no_record()
        if table == "change_request":
            for task in self.store.find("change_task", "change_request", sys_id):
                self.delete("change_task", task["sys_id"], user)
            for approval in self.store.find("sysapproval_approver", "sysapproval", sys_id):
                self.store.delete("sysapproval_approver", approval["sys_id"])
        self.store.delete(table, sys_id)
        if table in TASK_TABLES:
            self.notify(table, current, "delete", user.user_name)
        return current

    def stamp(self, before: Row, diff: Row, user: User) -> None:
        diff.update(
            sys_updated_on=self.now(),
            sys_updated_by=user.user_name,
            sys_mod_count=str(int(before.get("sys_mod_count") or 0) + 1),
        )

    def _look_up_priority(self, row: Row) -> None:
        """The Priority Data Lookup, run on insert and update with "always replace": a priority
        written directly gives way to the one impact and urgency make; a pair without a lookup
        row leaves the priority as it is."""
        if not self.settings.priority_lookup:
            return
        derived = PRIORITY_LOOKUP.get((row.get("impact", ""), row.get("urgency", "")))
        if derived is not None:
            row["priority"] = derived

    def _guard_change(self, before: Row, after: Row, refusal: str) -> None:
        """Enforce the state model and the closing data policy on a change request write."""
        old, new = before.get("state", sm.NEW), after.get("state", sm.NEW)
        if new != old:
            probe = {**after, "state": old}
            if new not in sm.allowed_next_states(probe):
                if refusal == "ignore":
                    after["state"] = old
                else:
                    raise SimError(
                        403,
                        sm.refusal_message(probe, new),
                        "Operation Failed: the change request state model refused the transition",
                    )
        if after.get("state") == sm.CLOSED and old != sm.CLOSED:
            missing = [
                label
                for name, label in (("close_code", "Close code"), ("close_notes", "Close notes"))
                if not after.get(name, "").strip()
            ]
            if missing:
                raise SimError(
                    403,
                    f"Data Policy Exception: The following fields are mandatory: {', '.join(missing)}",
                    "Operation Failed",
                )

    def _entering(self, table: str, before: Row, after: Row, user: User) -> Row:
        """Field changes that follow from a state change (approval, active, closed_at, ...)."""
        old, new = before.get("state", ""), after.get("state", "")
        extra: Row = {}
        if old == new:
            return extra
        now = self.now()
        if table == "change_task":
            closed = new in TASK_CLOSED_STATES
            extra["active"] = "false" if closed else "true"
            if closed and not after.get("closed_at"):
                extra.update(closed_at=now, closed_by=user.sys_id)
            return extra
        if table != "change_request":
            return extra
        approval = after.get("approval", "not requested")
        if new in sm.APPROVAL_STATES and approval != "approved":
            extra["approval"] = "requested"
        elif new == sm.SCHEDULED and after.get("type") == "standard":
            extra["approval"] = "approved"
        elif new == sm.NEW and old in (sm.ASSESS, sm.AUTHORIZE, sm.SCHEDULED) and approval != "rejected":
            extra["approval"] = "not requested"
        if new == sm.IMPLEMENT and not after.get("work_start"):
            extra["work_start"] = now
        if new == sm.REVIEW and not after.get("work_end"):
            extra["work_end"] = now
        if new in sm.FINAL_STATES:
            extra.update(active="false", closed_at=now, closed_by=user.sys_id)
        return extra

    def _after_write(
        self, table: str, before: Row, row: Row, journal: list[tuple[str, str]], user: User, operation: str
    ) -> None:
        for element, text in journal:
            self.add_journal(table, row["sys_id"], element, text, user)
        if table == "change_request" and before.get("state") != row.get("state"):
            self.cab.sync(row, user)
        if table in TASK_TABLES:  # the Business Rule watches change requests and change tasks only
            self.notify(table, row, operation, user.user_name)

    def add_journal(self, table: str, sys_id: str, element: str, text: str, user: User) -> Row:
        now = self.now()
        return self.store.insert(
            "sys_journal_field",
            {
                "element_id": sys_id,
                "element": element,
                "name": table,
                "value": text,
                "sys_created_on": now,
                "sys_created_by": user.user_name,
                "sys_updated_on": now,
                "sys_updated_by": user.user_name,
                "sys_mod_count": "0",
            },
        )


def _is_display_only(raw: Any) -> bool:
    return isinstance(raw, dict) and "value" not in raw and "display_value" in raw

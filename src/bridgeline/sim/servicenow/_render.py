"""Records on the wire: the Table API's shapes and the Change Management API's shapes.

Table API (``sysparm_display_value``):

- ``false``: ``"state": "-5"``, references ``{"link": ..., "value": "<sys_id>"}``
- ``true``: ``"state": "New"``, references ``{"link": ..., "display_value": "CAB Approval"}``
- ``all``: ``{"display_value": "New", "value": "-5"}`` (plus ``link`` on references)

``sysparm_exclude_reference_link=true`` turns references into the bare value (or display value).
The Change Management API always sends ``{"value", "display_value"}`` pairs, with numbers and
booleans typed (``-5.0``, ``false``) and ``display_value_internal`` on date-times.
"""

from __future__ import annotations

from typing import Any, Literal

from bridgeline.sim.servicenow._schema import Field, TableDef
from bridgeline.sim.servicenow._store import Row, Store

DisplayMode = Literal["false", "true", "all"]
HIDDEN_TYPES = frozenset({"journal", "password"})


def parse_bool(text: str | None, default: bool = False) -> bool:
    """ServiceNow's boolean parameters: ``true``/``True``/``false``/``False`` (and 1/0)."""
    if text is None or text == "":
        return default
    return text.strip().lower() in ("true", "1", "yes")


def display_mode(text: str | None) -> DisplayMode:
    lowered = (text or "false").strip().lower()
    if lowered == "all":
        return "all"
    return "true" if lowered in ("true", "1") else "false"


class Renderer:
    """Turns stored rows into response objects for one request (which knows the base URL)."""

    def __init__(self, store: Store, base_url: str, *, typed_values: bool = True) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.typed_values = typed_values

    def reference_display(self, table: str, sys_id: str) -> str:
        if not sys_id:
            return ""
        definition = self.store.defs.get(table)
        if definition is None:
            return sys_id
        target = self.store.storage(table).rows.get(sys_id)
        if target is None:
            return ""
        return target.get(definition.display_field, "") if definition.display_field else sys_id

    def display(self, fdef: Field, value: str) -> str:
        if fdef.type in HIDDEN_TYPES:
            return ""
        if fdef.type == "reference":
            return self.reference_display(fdef.reference or "", value)
        if fdef.choices:
            return fdef.choice_label(value)
        return value

    def resolve(self, definition: TableDef, name: str, row: Row) -> tuple[Field, str] | None:
        """The field and raw value behind ``name``, following dot-walks through references."""
        current_def, current_row = definition, row
        head, _, tail = name.partition(".")
        while True:
            fdef = current_def.fields.get(head)
            if fdef is None:
                return None
            value = "" if fdef.type in HIDDEN_TYPES else current_row.get(head, "")
            if not tail:
                return fdef, value
            if fdef.type != "reference":
                return None
            target_def = self.store.defs.get(fdef.reference or "")
            if target_def is None:
                return None
            current_row = self.store.storage(target_def.name).rows.get(value, {}) if value else {}
            current_def = target_def
            head, _, tail = tail.partition(".")

    def table_record(
        self,
        definition: TableDef,
        row: Row,
        *,
        fields: list[str] | None = None,
        mode: DisplayMode = "false",
        exclude_reference_link: bool = False,
    ) -> dict[str, Any]:
        names = fields if fields else list(definition.fields)
        out: dict[str, Any] = {}
        for name in names:
            resolved = self.resolve(definition, name, row)
            if resolved is None:
                continue
            fdef, value = resolved
            out[name] = self._table_value(fdef, value, mode, exclude_reference_link)
        return out

    def _table_value(self, fdef: Field, value: str, mode: DisplayMode, exclude_link: bool) -> Any:
        if fdef.type == "reference":
            link = f"{self.base_url}/api/now/table/{fdef.reference}/{value}"
            display = self.display(fdef, value)
            if mode == "all":
                both: dict[str, Any] = {"display_value": display, "value": value}
                if value and not exclude_link:
                    both["link"] = link
                return both
            shown = display if mode == "true" else value
            if exclude_link or not value:
                return shown
            return {"link": link, ("display_value" if mode == "true" else "value"): shown}
        if mode == "false":
            return value
        display = self.display(fdef, value)
        return display if mode == "true" else {"display_value": display, "value": value}

    def change_record(self, definition: TableDef, row: Row) -> dict[str, Any]:
        """A record in the Change Management API's ``{"value", "display_value"}`` shape."""
        out: dict[str, Any] = {}
        for name, fdef in definition.fields.items():
            value = "" if fdef.type in HIDDEN_TYPES else row.get(name, "")
            pair: dict[str, Any] = {
                "display_value": self.display(fdef, value),
                "value": self._typed(fdef, value),
            }
            if fdef.type == "glide_date_time":
                pair["display_value_internal"] = value
            out[name] = pair
        return out

    def _typed(self, fdef: Field, value: str) -> Any:
        if not self.typed_values or value == "":
            return value
        if fdef.type == "integer":
            try:
                return float(value)
            except ValueError:
                return value
        if fdef.type == "boolean":
            return value == "true"
        return value


def to_text(value: Any) -> str:
    """A JSON value as the string ServiceNow would store (``True`` -> ``"true"``, ``3.0`` -> ``"3"``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        if "value" in value:
            return to_text(value["value"])
        return to_text(value.get("display_value"))
    if isinstance(value, list):
        return ",".join(to_text(v) for v in value)
    return str(value)

"""The tables the simulator knows: fields, types, choice lists, references, numbering, indexes.

Field types follow ServiceNow's: every value is stored and sent as a string; the type decides
how queries compare it (numbers numerically, date-times as UTC instants), how it renders
(references as ``{"link", "value"}``, choices with labels) and whether it is write-only
(journal and password fields read back empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["string", "integer", "boolean", "reference", "glide_date_time", "journal", "password"]

# Task state labels: the classic task table's, or the relabelled change_task list of newer releases.
TASK_STATE_CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "task": (
        ("-5", "Pending"),
        ("1", "Open"),
        ("2", "Work in Progress"),
        ("3", "Closed Complete"),
        ("4", "Closed Incomplete"),
        ("7", "Closed Skipped"),
    ),
    "change_task": (
        ("-5", "Pending"),
        ("1", "Open"),
        ("2", "In Progress"),
        ("3", "Closed"),
        ("4", "Canceled"),
    ),
}
TASK_CLOSED_STATES = frozenset({"3", "4", "7"})

CHANGE_STATE_CHOICES = (
    ("-5", "New"),
    ("-4", "Assess"),
    ("-3", "Authorize"),
    ("-2", "Scheduled"),
    ("-1", "Implement"),
    ("0", "Review"),
    ("3", "Closed"),
    ("4", "Canceled"),
)
# The documented values are sure up to 3 = Moderate; the labels above it differ between sources.
RISK_CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "four": (("1", "Very High"), ("2", "High"), ("3", "Moderate"), ("4", "Low")),
    "three": (("1", "High"), ("2", "Moderate"), ("3", "Low")),
}
APPROVAL_CHOICES = (
    ("not requested", "Not Yet Requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
)
APPROVER_STATE_CHOICES = (
    ("not requested", "Not Yet Requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
    ("not_required", "No Longer Required"),
)
IMPACT_CHOICES = (("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low"))
PRIORITY_CHOICES = (
    ("1", "1 - Critical"),
    ("2", "2 - High"),
    ("3", "3 - Moderate"),
    ("4", "4 - Low"),
    ("5", "5 - Planning"),
)
# The Priority Data Lookup (dl_u_priority) of a base instance: (impact, urgency) -> priority.
PRIORITY_LOOKUP = {
    ("1", "1"): "1",
    ("1", "2"): "2",
    ("1", "3"): "3",
    ("2", "1"): "2",
    ("2", "2"): "3",
    ("2", "3"): "4",
    ("3", "1"): "3",
    ("3", "2"): "4",
    ("3", "3"): "5",
}
TYPE_CHOICES = (("normal", "Normal"), ("standard", "Standard"), ("emergency", "Emergency"))
CLOSE_CODE_CHOICES = (
    ("successful", "Successful"),
    ("successful_issues", "Successful with issues"),
    ("unsuccessful", "Unsuccessful"),
)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType = "string"
    label: str = ""
    reference: str | None = None
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""
    read_only: bool = False  # set by the system only (sys_* fields, number after insert)

    def choice_label(self, value: str) -> str:
        for choice, label in self.choices:
            if choice == value:
                return label
        return value

    def choice_value(self, label: str) -> str | None:
        for choice, text in self.choices:
            if text.lower() == label.lower():
                return choice
        return None

    def norm(self, value: str) -> str:
        """The comparison key: case-insensitive text, integers without a ``.0``."""
        if self.type == "integer":
            try:
                return str(int(float(value)))
            except ValueError:
                return value.strip().lower()
        if self.type == "boolean":
            return "true" if value.strip().lower() in ("true", "1") else ("false" if value else "")
        return value.lower()


@dataclass(slots=True)
class TableDef:
    name: str
    label: str
    fields: dict[str, Field]
    display_field: str | None = None
    number_prefix: str | None = None
    number_start: int = 1
    indexed: tuple[str, ...] = ()
    parent: str | None = None  # rows live in the parent's storage, told apart by sys_class_name
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return self.parent or self.name


def _f(name: str, type_: FieldType = "string", label: str = "", **kw: object) -> Field:
    return Field(name, type_, label or name.replace("_", " ").capitalize(), **kw)  # type: ignore[arg-type]


SYS_FIELDS = (
    _f("sys_id", label="Sys ID", read_only=True),
    _f("sys_created_on", "glide_date_time", "Created", read_only=True),
    _f("sys_created_by", label="Created by", read_only=True),
    _f("sys_updated_on", "glide_date_time", "Updated", read_only=True),
    _f("sys_updated_by", label="Updated by", read_only=True),
    _f("sys_mod_count", "integer", "Updates", read_only=True, default="0"),
)


def _table(name: str, label: str, fields: list[Field], **kw: object) -> TableDef:
    all_fields = {f.name: f for f in (*fields, *SYS_FIELDS)}
    return TableDef(name, label, all_fields, **kw)  # type: ignore[arg-type]


def _task_fields(state_choices: tuple[tuple[str, str], ...], state_default: str) -> list[Field]:
    return [
        _f("number", label="Number"),
        _f("short_description", label="Short description"),
        _f("description"),
        _f("state", "integer", "State", choices=state_choices, default=state_default),
        _f("assignment_group", "reference", "Assignment group", reference="sys_user_group"),
        _f("assigned_to", "reference", "Assigned to", reference="sys_user"),
        _f("cmdb_ci", "reference", "Configuration item", reference="cmdb_ci"),
        _f("correlation_id", label="Correlation ID"),
        _f("correlation_display", label="Correlation display"),
        _f("work_notes", "journal", "Work notes"),
        _f("comments", "journal", "Additional comments"),
        _f("close_notes", label="Close notes"),
        _f("on_hold", "boolean", "On hold", default="false"),
        _f("on_hold_reason", label="On hold reason"),
        _f("active", "boolean", "Active", default="true"),
        _f("opened_at", "glide_date_time", "Opened"),
        _f("opened_by", "reference", "Opened by", reference="sys_user"),
        _f("closed_at", "glide_date_time", "Closed"),
        _f("closed_by", "reference", "Closed by", reference="sys_user"),
        _f("sys_class_name", label="Class", read_only=True),
        _f("sys_domain", label="Domain", default="global", read_only=True),
    ]


def build_tables(*, task_states: str = "task", risk_scale: str = "four") -> dict[str, TableDef]:
    """Every table of the simulated instance, with the configurable choice lists applied."""
    if task_states not in TASK_STATE_CHOICES:
        raise ValueError(f"task_states must be one of {sorted(TASK_STATE_CHOICES)}, not {task_states!r}")
    if risk_scale not in RISK_CHOICES:
        raise ValueError(f"risk_scale must be one of {sorted(RISK_CHOICES)}, not {risk_scale!r}")
    change_fields = [
        *_task_fields(CHANGE_STATE_CHOICES, "-5"),
        _f("type", label="Type", choices=TYPE_CHOICES, default="normal"),
        _f("approval", label="Approval", choices=APPROVAL_CHOICES, default="not requested"),
        _f("risk", "integer", "Risk", choices=RISK_CHOICES[risk_scale], default="3"),
        _f("impact", "integer", "Impact", choices=IMPACT_CHOICES, default="3"),
        _f("urgency", "integer", "Urgency", choices=IMPACT_CHOICES, default="3"),
        _f("priority", "integer", "Priority", choices=PRIORITY_CHOICES, default="5"),
        _f("category", label="Category", default="Other"),
        _f("requested_by", "reference", "Requested by", reference="sys_user"),
        _f("business_service", "reference", "Service", reference="cmdb_ci_service"),
        _f("start_date", "glide_date_time", "Planned start date"),
        _f("end_date", "glide_date_time", "Planned end date"),
        _f("work_start", "glide_date_time", "Actual start"),
        _f("work_end", "glide_date_time", "Actual end"),
        _f("close_code", label="Close code", choices=CLOSE_CODE_CHOICES),
        _f("justification"),
        _f("implementation_plan", label="Implementation plan"),
        _f("backout_plan", label="Backout plan"),
        _f("test_plan", label="Test plan"),
        _f("risk_impact_analysis", label="Risk and impact analysis"),
        _f("cab_required", "boolean", "CAB required", default="false"),
        _f("cab_date", "glide_date_time", "CAB date"),
        _f(
            "std_change_producer_version",
            "reference",
            "Standard change template version",
            reference="std_change_producer_version",
        ),
        _f("upon_approval", label="Upon approval", default="proceed"),
        _f("upon_reject", label="Upon reject", default="cancel"),
        # a change under another (a release train's child change): task.parent, as on an instance
        _f("parent", "reference", "Parent", reference="change_request"),
    ]
    task_state_choices = TASK_STATE_CHOICES[task_states]
    change_task_fields = [
        *_task_fields(task_state_choices, "1"),
        _f("change_request", "reference", "Change request", reference="change_request"),
        _f("parent", "reference", "Parent", reference="change_request"),
        _f(
            "change_task_type",
            label="Type",
            default="implementation",
            choices=(
                ("planning", "Planning"),
                ("implementation", "Implementation"),
                ("testing", "Testing"),
                ("review", "Review"),
            ),
        ),
        _f("close_code", label="Close code"),
        _f("planned_start_date", "glide_date_time", "Planned start date"),
        _f("planned_end_date", "glide_date_time", "Planned end date"),
        _f("order", "integer", "Order"),
    ]
    ci_fields = [
        _f("name", label="Name"),
        _f("short_description", label="Description"),
        _f("sys_class_name", label="Class", read_only=True),
        _f(
            "operational_status",
            "integer",
            "Operational status",
            default="1",
            choices=(("1", "Operational"), ("2", "Non-Operational"), ("6", "Retired")),
        ),
        _f("support_group", "reference", "Support group", reference="sys_user_group"),
        _f("owned_by", "reference", "Owned by", reference="sys_user"),
        _f("busines_criticality", label="Business criticality", default="3 - less critical"),
        _f("version", label="Version"),
    ]
    tables = [
        _table(
            "change_request",
            "Change Request",
            change_fields,
            display_field="number",
            number_prefix="CHG",
            number_start=30001,
            indexed=("number", "correlation_id", "state", "type", "approval", "assignment_group"),
        ),
        _table(
            "change_task",
            "Change Task",
            change_task_fields,
            display_field="number",
            number_prefix="CTASK",
            number_start=10001,
            indexed=("number", "correlation_id", "change_request", "state"),
        ),
        _table(
            "sys_user",
            "User",
            [
                _f("user_name", label="User ID"),
                _f("first_name", label="First name"),
                _f("last_name", label="Last name"),
                _f("name", label="Name"),
                _f("email", label="Email"),
                _f("title", label="Title"),
                _f("active", "boolean", "Active", default="true"),
                _f("locked_out", "boolean", "Locked out", default="false"),
                _f("roles", label="Roles"),
                _f("user_password", "password", "Password"),
            ],
            display_field="name",
            indexed=("user_name", "name", "email"),
        ),
        _table(
            "sys_user_group",
            "Group",
            [
                _f("name", label="Name"),
                _f("description"),
                _f("email", label="Group email"),
                _f("manager", "reference", "Manager", reference="sys_user"),
                _f("type", label="Type"),
                _f("active", "boolean", "Active", default="true"),
            ],
            display_field="name",
            indexed=("name",),
        ),
        _table(
            "sys_user_grmember",
            "Group Member",
            [
                _f("user", "reference", "User", reference="sys_user"),
                _f("group", "reference", "Group", reference="sys_user_group"),
            ],
            indexed=("user", "group"),
        ),
        _table(
            "cmdb_ci",
            "Configuration Item",
            ci_fields,
            display_field="name",
            indexed=("name", "sys_class_name"),
        ),
        _table(
            "cmdb_ci_service",
            "Business Service",
            ci_fields,
            display_field="name",
            parent="cmdb_ci",
            indexed=("name", "sys_class_name"),
        ),
        _table(
            "cmdb_ci_appl",
            "Application",
            ci_fields,
            display_field="name",
            parent="cmdb_ci",
            indexed=("name", "sys_class_name"),
        ),
        _table(
            "sysapproval_approver",
            "Approval",
            [
                _f("sysapproval", "reference", "Approval for", reference="change_request"),
                _f("document_id", label="Approving"),
                _f("source_table", label="Source table"),
                _f("approver", "reference", "Approver", reference="sys_user"),
                _f("group", "reference", "Group", reference="sys_user_group"),
                _f("state", label="State", choices=APPROVER_STATE_CHOICES, default="requested"),
                _f("comments", "journal", "Comments"),
            ],
            indexed=("sysapproval", "approver", "state"),
        ),
        _table(
            "sys_journal_field",
            "Journal Entry",
            [
                _f("element_id", label="Element ID"),
                _f("element", label="Element"),
                _f("name", label="Table name"),
                _f("value", label="Value"),
            ],
            indexed=("element_id",),
        ),
        _table(
            "std_change_record_producer",
            "Standard Change Template",
            [
                _f("name", label="Name"),
                _f("short_description", label="Short description"),
                _f("template", label="Template"),
                _f("category", label="Category"),
                _f("active", "boolean", "Active", default="true"),
            ],
            display_field="name",
            indexed=("name",),
        ),
        _table(
            "std_change_producer_version",
            "Standard Change Template Version",
            [
                _f("name", label="Name"),
                _f("std_change_producer", "reference", "Template", reference="std_change_record_producer"),
                _f("version", "integer", "Version", default="1"),
            ],
            display_field="name",
            indexed=("std_change_producer",),
        ),
        *_schedule_tables(),
    ]
    return {t.name: t for t in tables}


def _schedule_tables() -> list[TableDef]:
    """Schedules (``cmn_schedule``; type ``blackout`` for change blackouts) and their spans
    (``cmn_schedule_span``), whose times are written ``20261221T180000`` in the schedule's zone."""
    return [
        _table(
            "cmn_schedule",
            "Schedule",
            [
                _f("name", label="Name"),
                _f("type", label="Type", choices=SCHEDULE_TYPE_CHOICES),
                _f("time_zone", label="Time zone"),
                _f("description"),
                _f("parent", "reference", "Parent", reference="cmn_schedule"),
            ],
            display_field="name",
            indexed=("name", "type"),
        ),
        _table(
            "cmn_schedule_span",
            "Schedule Entry",
            [
                _f("schedule", "reference", "Schedule", reference="cmn_schedule"),
                _f("name", label="Name"),
                _f("type", label="Type", default="exclude"),
                _f("show_as", label="Show as", default="busy"),
                _f("all_day", "boolean", "All day", default="false"),
                _f("start_date_time", label="When"),
                _f("end_date_time", label="To"),
                _f("repeat_type", label="Repeats", choices=REPEAT_CHOICES),
                _f("repeat_count", "integer", "Repeat every", default="1"),
                _f("repeat_until", label="Repeat until"),
                _f("days_of_week", label="Days of week"),
            ],
            display_field="name",
            indexed=("schedule",),
        ),
    ]


SCHEDULE_TYPE_CHOICES = (
    ("blackout", "Blackout"),
    ("maintenance", "Maintenance"),
    ("excluded", "Excluded"),
    ("on_call_rotation", "On-Call Rotation"),
)
REPEAT_CHOICES = (
    ("daily", "Daily"),
    ("weekdays", "Every Weekday (Mon-Fri)"),
    ("weekly", "Weekly"),
    ("monthly", "Monthly"),
    ("yearly", "Yearly"),
)


# The field that names a record of these tables when a reference is written with a display value.
ALTERNATE_KEYS: dict[str, tuple[str, ...]] = {"sys_user": ("user_name", "email")}

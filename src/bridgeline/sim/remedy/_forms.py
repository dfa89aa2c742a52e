"""The forms the simulator serves, their fields, and how values are checked on the way in and out.

Values are exchanged as the REST API does: selection fields as their labels, date-times as
``2019-01-28T11:19:29.000+0000``. Inside, selections stay labels and date-times are epoch seconds.
``CHG:ChangeInterface`` is a view on the same entries as ``CHG:Infrastructure Change`` (same ids);
``TMS:TaskInterface`` likewise on ``TMS:Task``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._clock import format_ar, parse_ar

Kind = Literal["char", "enum", "datetime", "int"]

CHANGE_STATUSES = (
    "Draft",
    "Request For Authorization",
    "Request For Change",
    "Planning In Progress",
    "Scheduled For Review",
    "Scheduled For Approval",
    "Scheduled",
    "Implementation In Progress",
    "Pending",
    "Rejected",
    "Completed",
    "Closed",
    "Cancelled",
)
IMPACTS = ("1-Extensive/Widespread", "2-Significant/Large", "3-Moderate/Limited", "4-Minor/Localized")
URGENCIES = ("1-Critical", "2-High", "3-Medium", "4-Low")
PRIORITIES = ("Critical", "High", "Medium", "Low")
RISK_LEVELS = ("Risk Level 1", "Risk Level 2", "Risk Level 3", "Risk Level 4", "Risk Level 5")
TIMINGS = ("Emergency", "Expedited", "Latent", "Normal", "No Impact", "Standard")
CHANGE_TYPES = (
    "Project",
    "Change",
    "Release",
    "Asset Configuration",
    "Asset Management",
    "Asset Lease",
    "Purchase Requisition",
    "Asset Maintenance",
)
COMPLETION_REASONS = (
    "Final Review Required",
    "Final Review Complete",
    "Additional Coding Required",
    "Successful",
    "Successful with Issues",
    "Unsuccessful",
    "Backed Out",
)
PENDING_REASONS = (
    "Accepted",
    "Assigned",
    "Built",
    "Insufficient Task Data",
    "Support Group Communication",
    "Task Review",
    "Future Enhancement",
    "Manager Intervention",
    "Miscellaneous",
)
CANCEL_REASONS = (
    "No Longer Required",
    "Funding Not Available",
    "To Be Re-Scheduled",
    "Resources Not Available",
)
STATUS_REASONS = tuple(
    dict.fromkeys(COMPLETION_REASONS + PENDING_REASONS + CANCEL_REASONS + ("Automatically Closed",))
)
TASK_STATUSES = ("Staged", "Assigned", "Pending", "Work In Progress", "Waiting", "Closed", "Bypassed")
TASK_CLOSE_REASONS = ("Success", "Failed", "Canceled")
TASK_TYPES = ("Manual", "Automatic")
APPROVAL_STATUSES = (
    "Pending",
    "Approved",
    "Rejected",
    "Hold",
    "More Information",
    "Cancelled",
    "Error",
    "Closed",
)
WORK_LOG_TYPES = (
    "General Information",
    "Working Log",
    "Status Update",
    "Customer Communication",
    "Vendor Communication",
    "Cancellation Information",
    "Closure Information",
    "Email System",
    "Paging System",
)
VIEW_ACCESS = ("Internal", "Public")
RECORD_STATUSES = ("Proposed", "Enabled", "Offline", "Obsolete", "Archive", "Delete")
YES_NO = ("Yes", "No")
COMPANY_TYPES = ("Customer", "Operating Company", "Vendor", "Supplier", "Manufacturer", "Generic Contact")


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = "char"
    labels: tuple[str, ...] = ()
    max_length: int | None = None
    readonly: bool = False  # set by the server; a client may not write it
    id: int | None = None


@dataclass(frozen=True)
class Form:
    name: str
    store: str  # where the entries live; views share their base form's store
    id_field: str  # the field that holds the entry id
    fields: Mapping[str, Field]
    creatable: bool = True
    by_id: Mapping[int, str] = field(default_factory=dict)

    def spec(self, name: str) -> Field:
        found = self.fields.get(name)
        if found is None:
            raise err.unknown_field(self.name, name)
        return found

    def resolve(self, name: str) -> Field | None:
        """A field by name, or by its numeric id written as text (``'1'`` is the Request ID)."""
        if name in self.fields:
            return self.fields[name]
        if name.isdecimal() and int(name) in self.by_id:
            return self.fields[self.by_id[int(name)]]
        return None

    def coerce(self, values: Mapping[str, Any], *, allow_readonly: bool = False) -> dict[str, Any]:
        """Client values -> stored values, raising the AR error a real server would give."""
        out: dict[str, Any] = {}
        for name, raw in values.items():
            spec = self.spec(name)
            if spec.readonly and not allow_readonly:
                raise err.workflow(
                    "The field is read-only and is set by the server", f"{self.name} : <{name}>"
                )
            out[name] = coerce_value(spec, raw)
        return out

    def render(self, values: Mapping[str, Any], only: Iterable[str] | None = None) -> dict[str, Any]:
        """Stored values -> what the REST API sends: every field (nulls included) or ``only`` these."""
        names = list(self.fields) if only is None else list(only)
        return {name: render_value(self.fields[name], values.get(name)) for name in names}


def coerce_value(spec: Field, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    if spec.kind == "char":
        text = raw if isinstance(raw, str) else str(raw)
        if spec.max_length is not None and len(text) > spec.max_length:
            raise err.out_of_limits(spec.name, f"{len(text)} characters, at most {spec.max_length}")
        return text
    if spec.kind == "enum":
        if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(spec.labels):
            return spec.labels[raw]
        if isinstance(raw, str) and raw in spec.labels:
            return raw
        raise err.out_of_limits(spec.name, f"{raw!r} is not one of: {', '.join(spec.labels)}")
    if spec.kind == "datetime":
        try:
            return parse_ar(raw)
        except ValueError:
            raise err.out_of_limits(
                spec.name, f"{raw!r} is not a date-time (expected e.g. 2019-01-28T11:19:29.000+0000)"
            ) from None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise err.out_of_limits(spec.name, f"{raw!r} is not an integer") from None


def render_value(spec: Field, value: Any) -> Any:
    if spec.kind == "datetime":
        return format_ar(value)
    return value


def _form(
    name: str, id_field: str, specs: Iterable[Field], *, store: str | None = None, creatable: bool = True
) -> Form:
    fields = {spec.name: spec for spec in specs}
    by_id = {spec.id: spec.name for spec in fields.values() if spec.id is not None}
    return Form(name, store or name, id_field, fields, creatable, by_id)


def _system(
    id_name: str, *, created: str = "Submit Date", modified: str = "Last Modified Date"
) -> list[Field]:
    return [
        Field(id_name, readonly=True, id=1),
        Field("Submitter", readonly=True, id=2),
        Field(created, "datetime", readonly=True, id=3),
        Field("Last Modified By", readonly=True, id=5),
        Field(modified, "datetime", readonly=True, id=6),
        Field("InstanceId", readonly=True, id=179),
    ]


def _enum(name: str, labels: tuple[str, ...], id: int | None = None) -> Field:
    return Field(name, "enum", labels, id=id)


def _chars(*names: str) -> list[Field]:
    return [Field(n) for n in names]


def _change_fields(summary_max: int) -> list[Field]:
    return [
        *_system("Request ID"),
        Field("Infrastructure Change ID", readonly=True, id=1000000182),
        _enum("Change Request Status", CHANGE_STATUSES, id=7),
        _enum("Status Reason", STATUS_REASONS, id=1000000881),
        Field("Description", max_length=summary_max, id=1000000000),
        Field("Detailed Description", id=1000000151),
        _enum("Impact", IMPACTS, id=1000000163),
        _enum("Urgency", URGENCIES, id=1000000162),
        _enum("Priority", PRIORITIES, id=1000000164),
        _enum("Risk Level", RISK_LEVELS, id=1000000180),
        _enum("Change Type", CHANGE_TYPES, id=1000000181),
        _enum("Timing", TIMINGS, id=1000000568),
        Field("Scheduled Start Date", "datetime", id=1000000350),
        Field("Scheduled End Date", "datetime", id=1000000362),
        Field("Requested Start Date", "datetime"),
        Field("Requested End Date", "datetime"),
        Field("Actual Start Date", "datetime", readonly=True),
        Field("Actual End Date", "datetime", readonly=True),
        Field("Completed Date", "datetime", readonly=True),
        *_chars(
            "Company",
            "Location Company",
            "First Name",
            "Last Name",
            "Customer First Name",
            "Customer Last Name",
            "Support Company",
            "Support Organization",
            "Support Group Name",
            "ASGRP",
            "Vendor Ticket Number",
            "Reason For Change",
            "Categorization Tier 1",
            "Categorization Tier 2",
            "Categorization Tier 3",
            "Region",
            "Site Group",
            "Site",
        ),
    ]


def build_forms(*, summary_max: int = 100) -> dict[str, Form]:
    """Every form by name (views included)."""
    change = _change_fields(summary_max)
    create = [
        Field("Request ID", readonly=True, id=1),
        Field("Submitter", readonly=True, id=2),
        Field("Create Date", "datetime", readonly=True, id=3),
        Field("Last Modified By", readonly=True, id=5),
        Field("Last Modified Date", "datetime", readonly=True, id=6),
        Field("z1D_Action"),
        _enum("Status", CHANGE_STATUSES, id=7),
        Field("Infrastructure Change Id", readonly=True),
        Field("Change_Entry_ID", readonly=True),
        Field("TemplateID"),
        Field("Company3"),
        *[
            f
            for f in change
            if f.name
            not in {
                "Request ID",
                "Submitter",
                "Submit Date",
                "Last Modified By",
                "Last Modified Date",
                "Infrastructure Change ID",
                "Change Request Status",
                "InstanceId",
            }
        ],
    ]
    task = [
        *_system("Task ID", created="Create Date", modified="Modified Date"),
        Field("Summary", max_length=summary_max),
        *_chars("TaskName", "Notes"),
        _enum("Status", TASK_STATUSES, id=7),
        _enum("StatusReasonSelection", TASK_CLOSE_REASONS),
        _enum("TaskType", TASK_TYPES),
        _enum("Priority", PRIORITIES),
        *_chars(
            "RootRequestID",
            "RootRequestName",
            "RootRequestInstanceID",
            "RootRequestFormName",
            "RootRequestMode",
            "Assignee Group",
            "Assignee Organization",
            "Assignee Company",
            "Assigned To",
            "Assignee",
            "Location Company",
            "Company",
        ),
        Field("Sequence", "int"),
        Field("Scheduled Start Date", "datetime"),
        Field("Scheduled End Date", "datetime"),
        Field("Actual Start Date", "datetime", readonly=True),
        Field("Actual End Date", "datetime", readonly=True),
        *_chars(*[f"Character 0{i}" for i in range(1, 7)], *[f"LabelCharacter0{i}" for i in range(1, 7)]),
    ]
    signature = [
        *_system("Signature ID", created="Create Date"),
        *_chars("Application", "Request", "Process", "Approvers", "Approver Signature", "Comments"),
        _enum("Approval Status", APPROVAL_STATUSES, id=13191),
    ]
    people = [
        *_system("Person ID"),
        *_chars(
            "First Name",
            "Last Name",
            "Full Name",
            "Remedy Login ID",
            "Company",
            "Organization",
            "Department",
            "Internet E-mail",
            "Phone Number",
        ),
        _enum("Support Staff", YES_NO),
        _enum("Profile Status", RECORD_STATUSES, id=7),
    ]
    groups = [
        *_system("Support Group ID"),
        *_chars("Company", "Support Organization", "Support Group Name", "Support Group Role", "Description"),
        _enum("Status", RECORD_STATUSES, id=7),
    ]
    companies = [
        *_system("Company Entry ID"),
        Field("Company"),
        _enum("Company Type", COMPANY_TYPES),
        _enum("Status", RECORD_STATUSES, id=7),
    ]
    work_log = [
        *_system("Work Log ID"),
        Field("Infrastructure Change ID", id=1000000182),
        Field("Infra. Change Entry ID"),
        _enum("Work Log Type", WORK_LOG_TYPES),
        Field("Description", max_length=summary_max, id=1000000000),
        Field("Detailed Description", id=1000000151),
        _enum("View Access", VIEW_ACCESS),
        _enum("Secure Work Log", YES_NO),
        Field("Work Log Submitter"),
        Field("Work Log Submit Date", "datetime"),
        _enum("Status", RECORD_STATUSES, id=7),
    ]
    forms = [
        _form("CHG:Infrastructure Change", "Request ID", change, creatable=False),
        _form(
            "CHG:ChangeInterface", "Request ID", change, store="CHG:Infrastructure Change", creatable=False
        ),
        _form("CHG:ChangeInterface_Create", "Request ID", create),
        _form("CHG:WorkLog", "Work Log ID", work_log),
        _form("TMS:Task", "Task ID", task),
        _form("TMS:TaskInterface", "Task ID", task, store="TMS:Task"),
        _form("AP:Detail-Signature", "Signature ID", signature, creatable=False),
        _form("CTM:People", "Person ID", people),
        _form("CTM:Support Group", "Support Group ID", groups),
        _form("COM:Company", "Company Entry ID", companies),
    ]
    return {form.name: form for form in forms}


CHANGE = "CHG:Infrastructure Change"
CHANGE_CREATE = "CHG:ChangeInterface_Create"
TASK = "TMS:Task"
WORK_LOG = "CHG:WorkLog"
SIGNATURE = "AP:Detail-Signature"
PEOPLE = "CTM:People"
SUPPORT_GROUP = "CTM:Support Group"
COMPANY = "COM:Company"

"""Work info on CHG:WorkLog: notes tied to their change by ``Infrastructure Change ID``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._forms import WORK_LOG
from bridgeline.sim.remedy._state import Entry

if TYPE_CHECKING:
    from bridgeline.sim.remedy._workflow import Workflow

LINKS = ("Infrastructure Change ID", "Infra. Change Entry ID")


def create_work_info(flow: Workflow, raw: Mapping[str, Any], user: str) -> str:
    """A work info entry on its change; the server fills the change's Request ID and the stamps."""
    values = flow.state.form(WORK_LOG).coerce(raw)
    ref = values.get("Infrastructure Change ID") or values.get("Infra. Change Entry ID")
    if ref is None:
        raise err.ARError(
            400, err.REQUIRED_FIELD_BLANK, "Required field cannot be blank.", "Infrastructure Change ID"
        )
    if values.get("Description") is None:
        raise err.ARError(400, err.REQUIRED_FIELD_BLANK, "Required field cannot be blank.", "Description")
    change = flow.state.find_change(ref)
    if change is None:
        raise err.workflow("The change request of the work info entry does not exist", ref)
    now = flow.clock.now_s()
    work_log_id = flow.numbered(WORK_LOG, "WLG")
    values.update(
        {
            "Work Log ID": work_log_id,
            "InstanceId": flow.instance_id("WL"),
            "Submitter": user,
            "Submit Date": now,
            "Last Modified By": user,
            "Last Modified Date": now,
            "Infrastructure Change ID": change.values["Infrastructure Change ID"],
            "Infra. Change Entry ID": change.values["Request ID"],
        }
    )
    values.setdefault("Work Log Type", "General Information")
    values.setdefault("View Access", "Public")
    values.setdefault("Secure Work Log", "No")
    values.setdefault("Work Log Submitter", user)
    values.setdefault("Work Log Submit Date", now)
    values.setdefault("Status", "Enabled")
    flow.state.add(WORK_LOG, values)
    return work_log_id


def update_work_info(flow: Workflow, entry: Entry, raw: Mapping[str, Any], user: str) -> None:
    values = flow.state.form(WORK_LOG).coerce(raw)
    for link in LINKS:
        if link in values and values[link] != entry.values.get(link):
            raise err.workflow("A work info entry cannot be moved to another change request", link)
    if "Description" in values and values["Description"] is None:
        raise err.ARError(400, err.REQUIRED_FIELD_BLANK, "Required field cannot be blank.", "Description")
    entry.values.update(values)
    flow._touch(entry.values, user)

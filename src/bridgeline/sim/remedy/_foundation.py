"""Foundation data checks: the companies, people and support groups a change names must exist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._config import RemedyConfig
from bridgeline.sim.remedy._forms import COMPANY, PEOPLE, SUPPORT_GROUP
from bridgeline.sim.remedy._state import RemedyState


def _check_company(state: RemedyState, config: RemedyConfig, field: str, name: str | None) -> None:
    if name is None or not config.validate_foundation:
        return
    known = {e.values.get("Company") for e in state.stores[COMPANY].values()}
    if name not in known:
        raise err.workflow(f"The company in {field} is not a valid company", name)


def _check_person(state: RemedyState, config: RemedyConfig, first: str | None, last: str | None) -> None:
    if not config.validate_foundation or (first is None and last is None):
        return
    for e in state.stores[PEOPLE].values():
        if e.values.get("First Name") == first and e.values.get("Last Name") == last:
            return
    raise err.workflow(
        "The requester (First Name, Last Name) is not a person in CTM:People", f"{first} {last}"
    )


def _check_support_group(state: RemedyState, config: RemedyConfig, values: Mapping[str, Any]) -> None:
    name = values.get("Support Group Name")
    if name is None or not config.validate_foundation:
        return
    for e in state.stores[SUPPORT_GROUP].values():
        g = e.values
        if g.get("Support Group Name") == name and all(
            values.get(k) in (None, g.get(gk))
            for k, gk in (
                ("Support Company", "Company"),
                ("Support Organization", "Support Organization"),
            )
        ):
            return
    raise err.workflow(
        "The support group is not valid for the support company and organization",
        f"{values.get('Support Company')} > {values.get('Support Organization')} > {name}",
    )


def check_references(
    state: RemedyState, config: RemedyConfig, values: Mapping[str, Any], merged: Mapping[str, Any]
) -> None:
    """Companies, the requester and the support group named in a write must exist."""
    for field in ("Company", "Location Company", "Support Company"):
        if field in values:
            _check_company(state, config, field, values[field])
    if "First Name" in values or "Last Name" in values:
        _check_person(state, config, merged.get("First Name"), merged.get("Last Name"))
    if {"Support Group Name", "Support Company", "Support Organization"} & set(values):
        _check_support_group(state, config, merged)

"""Seed data: the Calbro Services world of BMC's sample data, and a few changes nobody here made.

Changes are made through the workflow itself (as Allen and Mary, over the past weeks), so they
carry signatures, tasks and stamps exactly like those a client will create.
"""

from __future__ import annotations

import random

from bridgeline.sim.remedy._clock import SimClock
from bridgeline.sim.remedy._config import RemedyConfig
from bridgeline.sim.remedy._forms import CHANGE_CREATE, COMPANY, PEOPLE, SIGNATURE, SUPPORT_GROUP, TASK
from bridgeline.sim.remedy._state import RemedyState
from bridgeline.sim.remedy._tasks import create_task
from bridgeline.sim.remedy._workflow import ApprovalError, Workflow

DAY = 86_400

COMPANIES = (
    ("Calbro Services", "Operating Company"),
    ("Invention, Inc.", "Customer"),
    ("Petramco", "Customer"),
)
SUPPORT_GROUPS = (
    ("Calbro Services", "IT Support", "Change Management", "Tier 1"),
    ("Calbro Services", "IT Support", "Backoffice Support", "Tier 2"),
    ("Calbro Services", "IT Support", "Frontoffice Support", "Tier 1"),
    ("Calbro Services", "Application Support", "Application Development / Deployment", "Tier 2"),
    ("Calbro Services", "Infrastructure", "Network Operations", "Tier 2"),
    ("Calbro Services", "Release Management", "Release Coordinators", "Tier 1"),
    ("Invention, Inc.", "IT Support", "Service Desk", "Tier 1"),
)
PEOPLE_ROWS = (  # first, last, login, department
    ("Mary", "Mann", "mary", "Change Management"),
    ("Allen", "Allbrook", "allen", "Application Support"),
    ("Ian", "Plyment", "ian", "Infrastructure"),
    ("Bob", "Baxter", "bob", "IT Support"),
    ("Bridgeline", "Integration", "bridgeline", "Release Management"),
    ("Demo", "Administrator", "Demo", "IT Support"),
)


def _change(summary: str, **extra: str) -> dict[str, str]:
    values = {
        "z1D_Action": "CREATE",
        "Description": summary,
        "Status": "Draft",
        "Impact": "3-Moderate/Limited",
        "Urgency": "3-Medium",
        "Change Type": "Change",
        "Timing": "Normal",
        "Risk Level": "Risk Level 2",
        "Company": "Calbro Services",
        "Location Company": "Calbro Services",
        "First Name": "Allen",
        "Last Name": "Allbrook",
        "Support Company": "Calbro Services",
        "Support Organization": "IT Support",
        "Support Group Name": "Change Management",
    }
    values.update(extra)
    return values


def seed(state: RemedyState, config: RemedyConfig, now: float, rng: random.Random) -> None:
    """Fill an empty state. Numbering continues after the seed: new changes start at CRQ...106."""
    clock = SimClock()
    clock.set_now(now - 30 * DAY)
    clock.freeze()
    flow = Workflow(state, config, clock, rng)
    state.sequences.update({"CRQ": 100, TASK: 200, SIGNATURE: 300, CHANGE_CREATE: 100})

    for name, kind in COMPANIES:
        flow.create_plain(COMPANY, {"Company": name, "Company Type": kind}, "Demo")
    for company, organization, group, role in SUPPORT_GROUPS:
        flow.create_plain(
            SUPPORT_GROUP,
            {
                "Company": company,
                "Support Organization": organization,
                "Support Group Name": group,
                "Support Group Role": role,
            },
            "Demo",
        )
    for first, last, login, department in PEOPLE_ROWS:
        flow.create_plain(
            PEOPLE,
            {
                "First Name": first,
                "Last Name": last,
                "Full Name": f"{first} {last}",
                "Remedy Login ID": login,
                "Company": "Calbro Services",
                "Organization": "IT",
                "Department": department,
                "Internet E-mail": f"{login.lower()}@calbroservices.com",
                "Support Staff": "Yes",
            },
            "Demo",
        )

    def make(values: dict[str, str], user: str, days_ago: float) -> str:
        clock.set_now(now - days_ago * DAY)
        return flow.create_change(values, user)[1]

    def walk(change: str, target: str, reason: str | None = None) -> None:
        clock.advance(DAY)
        try:
            flow.walk(change, target, "mary", reason)
        except ApprovalError:  # the configured approvals lead elsewhere; keep what was reached
            pass

    def task(change: str, summary: str, user: str, **extra: str) -> None:
        clock.advance(600)
        create_task(
            flow,
            {"RootRequestID": change, "Summary": summary, "Assignee Group": "Backoffice Support", **extra},
            user,
        )

    make(
        _change("Quarterly firewall rule review", **{"Detailed Description": "Review and prune rules."}),
        "allen",
        12,
    )

    switch = make(
        _change(
            "Upgrade core switch firmware in DC2",
            Impact="2-Significant/Large",
            **{
                "Risk Level": "Risk Level 3",
                "Support Organization": "Infrastructure",
                "Support Group Name": "Network Operations",
                "First Name": "Mary",
                "Last Name": "Mann",
            },
        ),
        "mary",
        9,
    )
    task(switch, "Stage firmware image on TFTP server", "mary")
    task(switch, "Fail over traffic to DC1", "mary")
    walk(switch, "Scheduled For Approval")

    certs = make(
        _change(
            "Rotate TLS certificates for payments gateway",
            Urgency="2-High",
            **{"Vendor Ticket Number": "SEC-4412"},
        ),
        "allen",
        7,
    )
    task(certs, "Issue new certificates from the internal CA", "allen")
    walk(certs, "Scheduled")

    ftp = make(
        _change("Decommission legacy FTP server", Impact="4-Minor/Localized", Urgency="4-Low"), "allen", 20
    )
    walk(ftp, "Closed", "Successful")

    patch = make(
        _change(
            "Emergency patch for OpenSSL on edge proxies",
            Timing="Emergency",
            Impact="1-Extensive/Widespread",
            Urgency="1-Critical",
            **{"Risk Level": "Risk Level 4"},
        ),
        "mary",
        2,
    )
    task(patch, "Patch edge proxies in rolling order", "mary", Status="Assigned")
    walk(patch, "Implementation In Progress")

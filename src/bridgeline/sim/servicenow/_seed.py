"""Deterministic seed data: people, groups, configuration items, templates and a few changes.

The seeded change requests are made by people (not by bridgeline) and walked through the state
model the way they would be on an instance, so their approvals and journal entries are real.
Timestamps come from a clock frozen in early 2025; sys_ids from the simulator's seed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bridgeline.sim.servicenow._clock import Clock
from bridgeline.sim.servicenow._rules import Instance, User
from bridgeline.sim.servicenow._settings import SimSettings
from bridgeline.sim.servicenow._store import Store

ADMIN_SYS_ID = "6816f79cc0a8016401c5a33be04be441"  # the admin account's sys_id on every instance
# The integration account. Its password is not a word: bridgeline masks its secrets wherever they
# appear in its logs, and a secret that is also a word would mask every use of that word.
INTEGRATION = ("bridgeline.integration", "snow-pw-4Kd9Vq7z")
FORMER_INTEGRATION_PASSWORD = "bridgeline"  # what state files written by earlier versions hold
SEED_EPOCH = datetime(2025, 1, 6, 9, 0, 0, tzinfo=UTC)

# user_name, first, last, title, roles, password ("" = cannot log in)
USERS = (
    ("admin", "System", "Administrator", "System Administrator", "admin", "admin"),
    (INTEGRATION[0], "Bridgeline", "Integration", "Integration account", "itil,rest_service", INTEGRATION[1]),
    ("alex.mercer", "Alex", "Mercer", "CAB Chair", "itil,approver_user", "cab"),
    ("priya.raman", "Priya", "Raman", "CAB Member", "itil,approver_user", "cab"),
    ("beth.anguiano", "Beth", "Anguiano", "Change Manager", "itil,change_manager", "change"),
    ("marco.silva", "Marco", "Silva", "Payments Engineer", "itil", ""),
    ("ivy.chen", "Ivy", "Chen", "Payments Engineer", "itil", ""),
    ("hannah.cole", "Hannah", "Cole", "Web Engineer", "itil", ""),
    ("noah.baker", "Noah", "Baker", "Web Engineer", "itil", ""),
    ("omar.haddad", "Omar", "Haddad", "Database Administrator", "itil", ""),
    ("lena.fischer", "Lena", "Fischer", "Network Engineer", "itil", ""),
    ("sam.okafor", "Sam", "Okafor", "Service Desk Analyst", "itil", ""),
)
# name, description, manager, members
GROUPS = (
    ("CAB Approval", "Change Advisory Board", "alex.mercer", ("alex.mercer", "priya.raman")),
    ("Change Management", "Change managers", "beth.anguiano", ("beth.anguiano", "alex.mercer")),
    ("Payments Platform", "Payments services", "marco.silva", ("marco.silva", "ivy.chen")),
    ("Web Platform", "Storefront and identity", "hannah.cole", ("hannah.cole", "noah.baker")),
    ("Database Administration", "Databases", "omar.haddad", ("omar.haddad",)),
    ("Network Operations", "Network", "lena.fischer", ("lena.fischer",)),
    ("Service Desk", "First line support", "sam.okafor", ("sam.okafor",)),
)
# table, name, support group, description
CONFIGURATION_ITEMS = (
    ("cmdb_ci_service", "Payments Gateway", "Payments Platform", "Card and wallet payments"),
    ("cmdb_ci_service", "Online Storefront", "Web Platform", "Customer-facing shop"),
    ("cmdb_ci_service", "Customer Identity", "Web Platform", "Sign-in and accounts"),
    ("cmdb_ci_service", "Corporate Network", "Network Operations", "Offices and data centres"),
    ("cmdb_ci_appl", "payments-api", "Payments Platform", "Payments REST API"),
    ("cmdb_ci_appl", "payments-ledger", "Payments Platform", "Ledger service"),
    ("cmdb_ci_appl", "storefront-web", "Web Platform", "Storefront web application"),
    ("cmdb_ci_appl", "checkout-service", "Web Platform", "Checkout"),
    ("cmdb_ci_appl", "identity-service", "Web Platform", "Identity provider"),
    ("cmdb_ci_appl", "orders-db", "Database Administration", "Orders PostgreSQL cluster"),
)
# name, category, template (encoded field values)
TEMPLATES = (
    (
        "Rotate TLS certificate on a load balancer",
        "Network",
        "short_description=Rotate TLS certificate on a load balancer"
        "^description=Replace an expiring certificate"
        "^implementation_plan=Upload the new certificate, switch the listener, verify the chain"
        "^backout_plan=Switch the listener back to the previous certificate"
        "^test_plan=Check the served certificate with openssl s_client^risk=4^impact=3",
    ),
    (
        "Apply OS security patches to application servers",
        "Software",
        "short_description=Apply OS security patches^description=Monthly operating system patching"
        "^implementation_plan=Drain, patch and reboot one node at a time"
        "^backout_plan=Restore the node snapshot"
        "^test_plan=Health checks green on every node^risk=4^impact=3",
    ),
    (
        "Restart an application service",
        "Software",
        "short_description=Restart an application service^description=Rolling restart of one service"
        "^implementation_plan=Rolling restart through the orchestrator^backout_plan=None needed"
        "^test_plan=Error rate and latency back to baseline^risk=4^impact=3",
    ),
)


def seed(store: Store, settings: SimSettings) -> None:
    """Fill an empty store with the seed data."""
    clock = Clock()
    clock.freeze(SEED_EPOCH)
    # The seed walks the default state model whatever the knobs say.
    defaults = SimSettings(
        seed=settings.seed,
        task_states=settings.task_states,
        risk_scale=settings.risk_scale,
        cab_group=settings.cab_group,
    )
    instance = Instance(store, clock, defaults, notify=lambda *_: None)
    admin = User(ADMIN_SYS_ID, "admin", "System Administrator", frozenset({"admin"}))
    users: dict[str, str] = {}
    for user_name, first, last, title, roles, password in USERS:
        values = {
            "user_name": user_name,
            "first_name": first,
            "last_name": last,
            "name": f"{first} {last}",
            "email": f"{user_name}@example.com",
            "title": title,
            "roles": roles,
            "user_password": password,
        }
        if user_name == "admin":
            values["sys_id"] = ADMIN_SYS_ID
        users[user_name] = instance.insert("sys_user", values, admin).row["sys_id"]
    groups: dict[str, str] = {}
    for name, description, manager, members in GROUPS:
        group = instance.insert(
            "sys_user_group",
            {
                "name": name,
                "description": description,
                "manager": users[manager],
                "email": f"{name.lower().replace(' ', '.')}@example.com",
            },
            admin,
        ).row["sys_id"]
        groups[name] = group
        for member in members:
            instance.insert("sys_user_grmember", {"user": users[member], "group": group}, admin)
    cis: dict[str, str] = {}
    for table, name, group, description in CONFIGURATION_ITEMS:
        cis[name] = instance.insert(
            table, {"name": name, "support_group": groups[group], "short_description": description}, admin
        ).row["sys_id"]
    templates: list[str] = []
    for name, category, template in TEMPLATES:
        producer = instance.insert(
            "std_change_record_producer",
            {
                "name": name,
                "short_description": name,
                "category": category,
                "template": template,
            },
            admin,
        ).row["sys_id"]
        instance.insert(
            "std_change_producer_version",
            {"name": f"{name} - 1", "std_change_producer": producer, "version": "1"},
            admin,
        )
        templates.append(producer)
    _seed_changes(instance, clock, users, groups, cis)


def _seed_changes(
    instance: Instance, clock: Clock, users: dict[str, str], groups: dict[str, str], cis: dict[str, str]
) -> None:
    def person(name: str) -> User:
        found = instance.user(name)
        assert found is not None
        return found

    beth, alex = person("beth.anguiano"), person("alex.mercer")

    def change(
        values: dict[str, str], path: list[str], approve_at: str | None = None, close: bool = False
    ) -> str:
        clock.advance(3600)
        row = instance.insert("change_request", values, beth).row
        for state in path:
            clock.advance(1800)
            update: dict[str, str] = {"state": state}
            if state == "3" and close:
                update.update(close_code="successful", close_notes="Completed as planned")
            if state == approve_at:
                instance.update("change_request", row["sys_id"], update, beth)
                clock.advance(900)
                instance.cab.decide(
                    row["sys_id"],
                    approve=True,
                    acting=alex,
                    approver=alex,
                    comments="Approved at the weekly CAB",
                )
                continue
            if row.get("state") != state:
                instance.update("change_request", row["sys_id"], update, beth)
        return row["sys_id"]

    change(
        {
            "short_description": "Upgrade orders-db to PostgreSQL 16",
            "type": "normal",
            "assignment_group": groups["Database Administration"],
            "cmdb_ci": cis["orders-db"],
            "assigned_to": users["omar.haddad"],
            "risk": "2",
            "impact": "2",
            "description": "Major version upgrade of the orders cluster with logical replication.",
        },
        ["-4", "-1", "0", "3"],
        approve_at="-4",
        close=True,
    )
    scheduled = change(
        {
            "short_description": "Increase storefront CDN cache TTL",
            "type": "normal",
            "assignment_group": groups["Web Platform"],
            "cmdb_ci": cis["storefront-web"],
            "business_service": cis["Online Storefront"],
            "risk": "4",
        },
        ["-4"],
        approve_at="-4",
    )
    change(
        {
            "short_description": "Replace core switch in rack B4",
            "type": "normal",
            "assignment_group": groups["Network Operations"],
            "cmdb_ci": cis["Corporate Network"],
            "risk": "2",
            "impact": "1",
            "work_notes": "Vendor on site Thursday",
        },
        ["-4"],
    )
    standard = change(
        {
            "short_description": "Rotate TLS certificate on a load balancer",
            "type": "standard",
            "assignment_group": groups["Network Operations"],
            "risk": "4",
        },
        ["-2", "-1"],
    )
    change(
        {
            "short_description": "Hotfix for checkout timeout",
            "type": "emergency",
            "assignment_group": groups["Web Platform"],
            "cmdb_ci": cis["checkout-service"],
            "risk": "3",
            "impact": "1",
            "urgency": "1",
            "priority": "1",
        },
        ["-3", "-1", "0"],
        approve_at="-3",
    )
    change(
        {
            "short_description": "Decommission identity-service v1",
            "type": "normal",
            "assignment_group": groups["Web Platform"],
            "cmdb_ci": cis["identity-service"],
        },
        [],
    )
    for parent, title in (
        (scheduled, "Update CDN configuration"),
        (scheduled, "Verify cache hit ratio"),
        (standard, "Upload new certificate"),
    ):
        clock.advance(600)
        instance.insert(
            "change_task",
            {
                "change_request": parent,
                "short_description": title,
                "assignment_group": groups["Web Platform"],
            },
            beth,
        )


def upgrade_former_secrets(store: Store) -> bool:
    """Give the integration account of a state file from an earlier version its current password,
    so that a kept demo folder still signs in; True when something changed."""
    changed = False
    for row in store.find("sys_user", "user_name", INTEGRATION[0]):
        if row.get("user_password") == FORMER_INTEGRATION_PASSWORD:
            store.update("sys_user", row["sys_id"], {"user_password": INTEGRATION[1]})
            changed = True
    return changed

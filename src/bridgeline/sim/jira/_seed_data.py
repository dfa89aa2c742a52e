"""The names, words and proportions the seed data is made of."""

from __future__ import annotations

# The integration account's secrets. Not words: bridgeline masks its secrets wherever they appear
# in its logs, and a secret that is also a word would mask every use of that word.
INTEGRATION_EMAIL = "bridgeline@example.com"
INTEGRATION_API_TOKEN = "jira-api-7Rk2Qx4m"  # Cloud: Basic email / API token
INTEGRATION_PAT = "jira-pat-5Nw8Td3k"  # Data Center: Bearer personal access token
INTEGRATION_PASSWORD = "jira-pw-9Lc6Rt1m"  # Data Center: Basic bridgeline / password
# what state files written by earlier versions hold: (API token, PAT, password)
FORMER_INTEGRATION_SECRETS = ("bridgeline-token", "bridgeline-pat", "bridgeline")

ACCOUNTS = (
    # name, display name, email, time zone, api token, PAT, password, admin, read-only
    (
        "admin",
        "Jira Admin",
        "admin@example.com",
        "Australia/Sydney",
        "admin-token",
        "admin-pat",
        "admin",
        True,
        False,
    ),
    (
        "bridgeline",
        "bridgeline",
        INTEGRATION_EMAIL,
        "Europe/Berlin",
        INTEGRATION_API_TOKEN,
        INTEGRATION_PAT,
        INTEGRATION_PASSWORD,
        True,
        False,
    ),
    (
        "viewer",
        "Read-only Viewer",
        "viewer@example.com",
        "America/New_York",
        "viewer-token",
        "viewer-pat",
        "viewer",
        False,
        True,
    ),
)
PEOPLE = (
    ("priya.raman", "Priya Raman", "Asia/Kolkata"),
    ("jonas.keller", "Jonas Keller", "Europe/Berlin"),
    ("mei.tanaka", "Mei Tanaka", "Asia/Tokyo"),
    ("carlos.mendes", "Carlos Mendes", "America/Sao_Paulo"),
    ("aisha.bello", "Aisha Bello", "Africa/Lagos"),
    ("tom.whitaker", "Tom Whitaker", "Europe/London"),
    ("sofia.lindqvist", "Sofia Lindqvist", "Europe/Stockholm"),
    ("noah.fischer", "Noah Fischer", "America/Chicago"),
)

PROJECTS = (
    (
        "PAY",
        "Payments",
        "Card authorisation, refunds and the payments ledger.",
        ("Checkout API", "Card Processing", "Refunds", "Ledger", "Fraud Rules"),
        "3.{n}.0",
        (
            "Retry failed card authorisations with exponential back-off",
            "Add idempotency keys to the refund endpoint",
            "Support 3-D Secure 2 challenge flow",
            "Reconcile ledger entries with the acquirer settlement file",
            "Mask PAN in checkout API error logs",
            "Expose refund status on the merchant dashboard",
            "Rotate the payment gateway API credentials",
            "Double charge when the customer retries checkout",
            "Settlement export misses transactions after midnight UTC",
            "Add velocity rule for repeated card declines",
            "Migrate ledger postings to the new chart of accounts",
            "Partial refunds round to the wrong currency unit",
            "Webhook from acquirer is processed twice",
            "Document the chargeback handling runbook",
            "Upgrade the card vault client library",
        ),
    ),
    (
        "WEB",
        "Web Storefront",
        "The customer-facing shop: catalogue, search, cart and checkout pages.",
        ("Product Catalogue", "Cart", "Search", "Accessibility", "Frontend Build"),
        "web-{yy}.{n}",
        (
            "Product images load slowly on mobile",
            "Add faceted filters to category pages",
            "Cart badge count is wrong after removing an item",
            "Keyboard focus is lost in the size picker",
            "Server-side render the product detail page",
            "Search suggestions ignore diacritics",
            "Move the storefront build to the new bundler",
            "Show delivery estimate on the basket page",
            "Price shown without VAT for EU customers",
            "Add structured data for product reviews",
            "Lazy-load below-the-fold carousels",
            "Checkout button unresponsive on Safari 17",
            "Localise the order confirmation page",
            "Remove the legacy jQuery dependency",
            "Promo banner overlaps the header on tablets",
        ),
    ),
    (
        "OPS",
        "Platform Operations",
        "Clusters, pipelines, databases and the observability stack.",
        ("Kubernetes", "Observability", "CI/CD", "Databases", "Networking"),
        "{yyyy}.{n}",
        (
            "Upgrade production clusters to Kubernetes 1.30",
            "Alert on certificate expiry 21 days ahead",
            "Move CI runners to spot instances",
            "PostgreSQL failover takes longer than the SLO",
            "Add tracing to the ingress controller",
            "Rotate database credentials through the vault",
            "Nightly backup job silently skips the ledger schema",
            "Reduce log retention for debug-level logs",
            "Enable pod disruption budgets for payment services",
            "Document the on-call escalation policy",
            "DNS resolution spikes during deployments",
            "Patch OpenSSL on the bastion hosts",
            "Replace the self-managed Redis with the managed service",
            "Dashboards for change failure rate",
            "Terraform state lock left behind by cancelled pipelines",
        ),
    ),
)
EXTRA_PROJECTS = (
    ("IDN", "Identity", "Sign-in, SSO and customer accounts."),
    ("MOB", "Mobile App", "The iOS and Android shopping apps."),
    ("DATA", "Data Platform", "Warehouse, pipelines and reporting."),
    ("NTF", "Notifications", "E-mail, SMS and push notifications."),
    ("SUP", "Support Tools", "Tools for the customer support team."),
)
GENERIC_SUMMARIES = (
    "Improve error messages for invalid requests",
    "Add metrics for request latency percentiles",
    "Remove feature flag after rollout",
    "Flaky integration test in the nightly build",
    "Update dependencies with known vulnerabilities",
    "Write runbook for the release rollback",
)
LABELS = (
    "backend",
    "frontend",
    "security",
    "performance",
    "tech-debt",
    "customer-reported",
    "pci",
    "gdpr",
    "ux",
)
TYPE_WEIGHTS = (("Story", 40), ("Bug", 25), ("Task", 20), ("Sub-task", 10), ("Epic", 5))
PRIORITY_WEIGHTS = (("Highest", 8), ("High", 20), ("Medium", 47), ("Low", 15), ("Lowest", 10))
IN_FLIGHT = ("In Progress", "In Review", "Ready for Release", "Ready for Release", "Done", "To Do")
COMMENTS = (
    "Reproduced on staging; the fix is in review.",
    "CAB asked for a rollback plan before approving this one.",
    "Deployed to the canary pool, metrics look normal.",
    "Blocked until the vendor confirms the new API limits.",
    "Pairing with ops on the database migration tomorrow.",
)

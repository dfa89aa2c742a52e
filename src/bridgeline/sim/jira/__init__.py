"""A faithful in-memory Jira (Cloud or Data Center) for the demo, end-to-end, chaos and bench runs.

::

    from bridgeline.sim import serve_in_thread
    from bridgeline.sim.jira import JiraSimulator

    sim = JiraSimulator(mode="cloud", seed=42)
    with serve_in_thread(sim.app) as served:
        ...  # REST at served.url + "/rest/api/3", controls at served.url + "/_sim/"

It follows Atlassian's documented behaviour (see ``docs/simulators/jira.md``): JQL with the
searching user's time zone, token-paged ``/search/jql`` on Cloud, webhooks with signatures and
retries, Jira's error bodies and rate-limit headers.
"""

from __future__ import annotations

from bridgeline.sim.jira._ratelimit import RateLimitConfig
from bridgeline.sim.jira._seed import JiraScale
from bridgeline.sim.jira._seed_data import (
    INTEGRATION_API_TOKEN,
    INTEGRATION_EMAIL,
    INTEGRATION_PASSWORD,
    INTEGRATION_PAT,
)
from bridgeline.sim.jira._simulator import JiraSimulator, Mode
from bridgeline.sim.jira._state import JiraState, Settings
from bridgeline.sim.jira._webhooks import WebhookOptions

# The seeded integration account: Basic email / API token on Cloud; on Data Center Basic
# username / password, or the personal access token as a Bearer token.
INTEGRATION_CLOUD = (INTEGRATION_EMAIL, INTEGRATION_API_TOKEN)
INTEGRATION_DATACENTER = ("bridgeline", INTEGRATION_PASSWORD)

__all__ = [
    "INTEGRATION_CLOUD",
    "INTEGRATION_DATACENTER",
    "INTEGRATION_PAT",
    "JiraScale",
    "JiraSimulator",
    "JiraState",
    "Mode",
    "RateLimitConfig",
    "Settings",
    "WebhookOptions",
]

"""Jira: the REST client (Cloud and Data Center), change detection, webhook parsing and registration.

======================  =============================================================
``client.py``           :class:`JiraClient`: reads, searches, webhook registrations
``writes.py``           its writes: transitions, comments, remote links, labels, properties, releases
``base.py``             credentials, Cloud or Data Center, Jira's error bodies
``changes.py``          polling: versions by snapshot hash, issues by an epoch-ms cursor
``webhooks.py``         delivery signatures and the events a payload stands for
``admin.py``            registering bridgeline's webhook, idempotently
``adf.py``              Atlassian Document Format to and from text
======================  =============================================================
"""

from __future__ import annotations

from bridgeline.connectors.jira.adf import adf_to_text, text_to_adf
from bridgeline.connectors.jira.admin import WebhookOutcome, WebhookSpec, ensure_webhook
from bridgeline.connectors.jira.base import jira_error_parser
from bridgeline.connectors.jira.changes import JiraChanges, PollResult, parse_jira_time
from bridgeline.connectors.jira.client import BASE_ISSUE_FIELDS, JiraClient, SearchPage
from bridgeline.connectors.jira.webhooks import Delivery, parse_delivery, signature_valid
from bridgeline.connectors.jira.writes import METADATA_PROPERTY

__all__ = [
    "BASE_ISSUE_FIELDS",
    "METADATA_PROPERTY",
    "Delivery",
    "JiraChanges",
    "JiraClient",
    "PollResult",
    "SearchPage",
    "WebhookOutcome",
    "WebhookSpec",
    "adf_to_text",
    "ensure_webhook",
    "jira_error_parser",
    "parse_delivery",
    "parse_jira_time",
    "signature_valid",
    "text_to_adf",
]

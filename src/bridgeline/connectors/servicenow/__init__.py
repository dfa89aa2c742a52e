"""ServiceNow: Table API and Change Management API clients, OAuth, the change request target,
change detection (polling and Business Rule notifications)."""

from __future__ import annotations

from bridgeline.connectors.servicenow.auth import ServiceNowOAuth, servicenow_auth
from bridgeline.connectors.servicenow.changeapi import ChangeApiClient, NextStates
from bridgeline.connectors.servicenow.changes import (
    PollResult,
    ServiceNowChanges,
    notification_event,
    signature,
    verify_notification,
)
from bridgeline.connectors.servicenow.client import ServiceNowClient, servicenow_error_parser
from bridgeline.connectors.servicenow.references import ReferenceResolver
from bridgeline.connectors.servicenow.target import ServiceNowTarget

__all__ = [
    "ChangeApiClient",
    "NextStates",
    "PollResult",
    "ReferenceResolver",
    "ServiceNowChanges",
    "ServiceNowClient",
    "ServiceNowOAuth",
    "ServiceNowTarget",
    "notification_event",
    "servicenow_auth",
    "servicenow_error_parser",
    "signature",
    "verify_notification",
]

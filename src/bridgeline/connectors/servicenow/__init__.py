"""ServiceNow: the Table API client and the change request target."""

from __future__ import annotations

from bridgeline.connectors.servicenow.client import ServiceNowClient, servicenow_error_parser
from bridgeline.connectors.servicenow.target import ServiceNowTarget

__all__ = ["ServiceNowClient", "ServiceNowTarget", "servicenow_error_parser"]

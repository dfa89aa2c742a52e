"""BMC Remedy / Helix ITSM: the AR REST client (AR-JWT), the change target, change detection."""

from __future__ import annotations

from bridgeline.connectors.remedy.auth import ARJWTAuth
from bridgeline.connectors.remedy.changes import RemedyChanges
from bridgeline.connectors.remedy.client import RemedyClient, remedy_error_parser
from bridgeline.connectors.remedy.target import RemedyTarget

__all__ = ["ARJWTAuth", "RemedyChanges", "RemedyClient", "RemedyTarget", "remedy_error_parser"]

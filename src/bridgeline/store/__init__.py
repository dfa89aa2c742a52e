"""bridgeline's state: the inbox, links, cursors, source marks, the audit log and sign-ins,
pipelines' gate answers and deployments (SQL)."""

from __future__ import annotations

from bridgeline.store.locks import ProcessLock
from bridgeline.store.pipelines import DeploymentReport, DeploymentRun, GateAnswerRow, PipelineBook
from bridgeline.store.store import (
    AppliedAction,
    Claim,
    InboxRow,
    StatusSession,
    Store,
    async_url,
    redact_url,
)

__all__ = [
    "AppliedAction",
    "Claim",
    "DeploymentReport",
    "DeploymentRun",
    "GateAnswerRow",
    "InboxRow",
    "PipelineBook",
    "ProcessLock",
    "StatusSession",
    "Store",
    "async_url",
    "redact_url",
]

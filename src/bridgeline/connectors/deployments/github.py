"""GitHub's ``deployment_status`` webhook, as GitHub documents it.

The delivery carries ``X-GitHub-Event: deployment_status``, ``X-GitHub-Delivery`` and
``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the webhook's secret>``. Its body::

    {"action": "created",
     "deployment_status": {"state": "in_progress", "environment": "production",
                           "target_url": "...", "log_url": "https://github.com/acme/pay/actions/runs/1"},
     "deployment": {"id": 1, "sha": "9fceb02...", "ref": "v1.4.0", "environment": "production",
                    "payload": {"bridgeline": {"project": "PAY", "version": "1.4.0"}}},
     "repository": {"full_name": "acme/payments"}}

The release comes from the deployment's ``payload.bridgeline`` (``project`` with ``version`` or
``version_id``, or ``change``) when the workflow sets it; otherwise from
``deployments.repositories`` (the repository's Jira project) and the deployed ``ref``. States:
``in_progress`` -> started, ``success`` -> succeeded, ``failure`` and ``error`` -> failed;
``queued``, ``pending``, ``waiting`` and ``inactive`` report nothing to act on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from bridgeline.connectors.deployments._model import (
    Deployment,
    Ignored,
    NotADeployment,
    text,
    url,
    version_of_ref,
)

STATES = {"in_progress": "started", "success": "succeeded", "failure": "failed", "error": "failed"}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """Whether ``X-Hub-Signature-256`` is the body's HMAC with ``secret`` (constant time)."""
    return bool(header) and hmac.compare_digest(signature(secret, body), (header or "").strip())


def parse(payload: Any, repositories: Mapping[str, str]) -> Deployment:
    if not isinstance(payload, dict):
        raise NotADeployment("not a GitHub deployment_status payload: the body is not an object")
    status, deployment = payload.get("deployment_status"), payload.get("deployment")
    if not isinstance(status, dict) or not isinstance(deployment, dict):
        raise NotADeployment(
            "not a GitHub deployment_status payload: deployment_status and deployment missing"
        )
    raw_state = str(status.get("state") or "")
    if raw_state not in STATES:
        raise Ignored(f"GitHub state {raw_state or '(none)'} reports nothing to act on")
    environment = text(
        status.get("environment") or deployment.get("environment"), "deployment.environment", limit=100
    )
    extra = deployment.get("payload")
    if isinstance(extra, str):  # GitHub keeps what the workflow sent: an object or a JSON string
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            extra = {}
    named = extra.get("bridgeline") if isinstance(extra, dict) else None
    project = version = version_id = change = None
    if isinstance(named, dict):
        change = text(named.get("change"), "deployment.payload.bridgeline.change", required=False, limit=64)
        project = text(
            named.get("project"), "deployment.payload.bridgeline.project", required=False, limit=64
        )
        version = text(named.get("version"), "deployment.payload.bridgeline.version", required=False)
        version_id = text(named.get("version_id"), "deployment.payload.bridgeline.version_id", required=False)
    if not change and not (project and (version or version_id)):
        repository = str((payload.get("repository") or {}).get("full_name") or "")
        project = project or repositories.get(repository)
        if not project:
            raise NotADeployment(
                f"which release? repository {repository or '(none)'} is not in deployments.repositories, "
                "and the deployment's payload names no bridgeline release"
            )
        ref = text(deployment.get("ref"), "deployment.ref")
        version = version or version_of_ref(ref or "")
    return Deployment(
        source="github",
        environment=environment or "",
        state=STATES[raw_state],
        run_id=text(deployment.get("id"), "deployment.id", limit=200) or "",
        run_url=url(status.get("log_url") or status.get("target_url") or deployment.get("url"), "log_url"),
        commit=text(deployment.get("sha"), "deployment.sha", required=False, limit=100),
        project=project.upper() if project else None,
        version=version if not version_id else None,
        version_id=version_id,
        change=change,
    )

"""GitLab's deployment events (``X-Gitlab-Event: Deployment Hook``), as GitLab documents them.

The delivery carries the webhook's secret token as ``X-Gitlab-Token``. Its body::

    {"object_kind": "deployment", "status": "running", "deployment_id": 15,
     "deployable_url": "https://gitlab.example.com/acme/payments/-/jobs/796",
     "environment": "production", "ref": "v1.4.0", "short_sha": "279484c0",
     "commit_url": "https://gitlab.example.com/acme/payments/-/commit/279484c0...",
     "project": {"path_with_namespace": "acme/payments", ...}}

The release is the project's Jira project (``deployments.repositories``) and the deployed ``ref``.
States: ``running`` -> started, ``success`` -> succeeded, ``failed`` and ``canceled`` -> failed;
``created`` reports nothing to act on.
"""

from __future__ import annotations

import hmac
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

STATES = {"running": "started", "success": "succeeded", "failed": "failed", "canceled": "failed"}


def verify(header: str | None, token: str) -> bool:
    return bool(header) and hmac.compare_digest((header or "").strip().encode(), token.encode())


def parse(payload: Any, repositories: Mapping[str, str]) -> Deployment:
    if not isinstance(payload, dict) or payload.get("object_kind") != "deployment":
        raise NotADeployment('not a GitLab deployment event: object_kind is not "deployment"')
    raw_state = str(payload.get("status") or "")
    if raw_state not in STATES:
        raise Ignored(f"GitLab status {raw_state or '(none)'} reports nothing to act on")
    project_path = str((payload.get("project") or {}).get("path_with_namespace") or "")
    project = repositories.get(project_path)
    if not project:
        raise NotADeployment(
            f"which release? GitLab project {project_path or '(none)'} is not in deployments.repositories"
        )
    commit_url = str(payload.get("commit_url") or "")
    commit = commit_url.rsplit("/", 1)[-1] if "/-/commit/" in commit_url else payload.get("short_sha")
    return Deployment(
        source="gitlab",
        environment=text(payload.get("environment"), "environment", limit=100) or "",
        state=STATES[raw_state],
        run_id=text(payload.get("deployment_id"), "deployment_id", limit=200) or "",
        run_url=url(payload.get("deployable_url"), "deployable_url"),
        commit=text(commit, "commit", required=False, limit=100),
        project=project.upper(),
        version=version_of_ref(text(payload.get("ref"), "ref") or ""),
    )

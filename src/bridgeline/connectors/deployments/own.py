"""bridgeline's own deployment JSON, for any pipeline that can send an HTTP request::

    POST /webhooks/deployments
    Authorization: Bearer <pipelines.<name>.token>
    {"release": {"project": "PAY", "version": "1.4.0"},      # or {"project", "version_id"}
     "environment": "production",
     "state": "started",                                      # started|succeeded|failed|rolled_back
     "run": {"id": "8812", "url": "https://ci.example.com/runs/8812"},
     "commit": "9fceb02"}

``"change": "CHG0030001"`` may stand instead of ``release``.
"""

from __future__ import annotations

from typing import Any

from bridgeline.connectors.deployments._model import STATES, Deployment, NotADeployment, text, url

FIELDS = ("release", "change", "environment", "state", "run", "commit")


def parse(payload: Any) -> Deployment:
    if not isinstance(payload, dict):
        raise NotADeployment(
            'the body is a JSON object: {"release": {...}, "environment": ..., "state": ...}'
        )
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise NotADeployment(
            f"unknown field(s) {', '.join(map(str, unknown))}: a report has {', '.join(FIELDS)}"
        )
    state = text(payload.get("state"), "state")
    if state not in STATES:
        raise NotADeployment(f"state {state!r} is not one of {', '.join(STATES)}")
    run = payload.get("run")
    if not isinstance(run, dict):
        raise NotADeployment('run is required: {"id": "<the run id>", "url": "<where people see it>"}')
    release = payload.get("release")
    change = text(payload.get("change"), "change", required=False, limit=64)
    project = version = version_id = None
    if release is not None:
        if change:
            raise NotADeployment("name the release or the change, not both")
        if not isinstance(release, dict):
            raise NotADeployment('release is an object: {"project": "PAY", "version": "1.4.0"}')
        project = (text(release.get("project"), "release.project", limit=64) or "").upper()
        version = text(release.get("version"), "release.version", required=False)
        version_id = text(release.get("version_id"), "release.version_id", required=False, limit=64)
        if not (version or version_id):
            raise NotADeployment("release needs version (its name, e.g. 1.4.0) or version_id")
    elif not change:
        raise NotADeployment('name the release ({"project": "PAY", "version": "1.4.0"}) or the change number')
    return Deployment(
        source="bridgeline",
        environment=text(payload.get("environment"), "environment", limit=100) or "",
        state=state,
        run_id=text(run.get("id"), "run.id", limit=200) or "",
        run_url=url(run.get("url"), "run.url"),
        commit=text(payload.get("commit"), "commit", required=False, limit=100),
        project=project,
        version=version if not version_id else None,
        version_id=version_id,
        change=change,
    )

"""Deployment reports from pipelines: bridgeline's own JSON, GitHub's and GitLab's webhooks.

- ``POST /webhooks/deployments``: bridgeline's JSON (:mod:`bridgeline.connectors.deployments.own`),
  with a pipeline's token (``Authorization: Bearer``), about a project the token names;
- ``POST /webhooks/deployments/github``: GitHub's ``deployment_status`` event, signed with
  ``deployments.github_secret`` (``X-Hub-Signature-256``);
- ``POST /webhooks/deployments/gitlab``: GitLab's deployment event, with ``deployments.gitlab_token``
  as ``X-Gitlab-Token``.

A report is stored (once per run, environment and state: a repeated delivery is a duplicate) and
its release queued in the same transaction; the engine reads the change itself
(:mod:`bridgeline.sync.deployments`). Nothing here calls another system.

Answers: 202 stored, 200 a duplicate or a delivery that reports nothing to act on (GitHub's
``queued``, a ping), 400 not a report (what to fix), 401 not authenticated, 403 a project the
pipeline may not report, 404 the source is not configured, 503 the database is away (retry).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bridgeline import metrics
from bridgeline.connectors.deployments import Deployment, Ignored, NotADeployment, github, gitlab, own
from bridgeline.errors import RetryableError
from bridgeline.log import get_logger
from bridgeline.model import EntityRef, Event
from bridgeline.server.auth import require_pipeline
from bridgeline.server.jsonbody import BadBody, parse_json
from bridgeline.store import DeploymentReport, PipelineBook
from bridgeline.sync.gate import names_problems

log = get_logger("bridgeline.webhooks")
router = APIRouter()


def _answer(status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _rejected(source: str, reason: str) -> JSONResponse:
    log.info("deployment report rejected", source=source, reason=reason)  # once, and never the body
    return _answer(400, error=reason)


async def _store(request: Request, deployment: Deployment, pipeline: str | None) -> JSONResponse:
    service = request.app.state.service
    problems = names_problems(deployment.project, deployment.version_id, deployment.change)
    if problems:
        return _rejected(deployment.source, "; ".join(problems))
    report = DeploymentReport(
        entity=deployment.entity,
        source=deployment.source,
        environment=deployment.environment,
        state=deployment.state,
        run_id=deployment.run_id,
        run_url=deployment.run_url,
        commit=deployment.commit,
        pipeline=pipeline,
        project=deployment.project,
        version=deployment.version,
        change_number=deployment.change,
    )
    event = Event(EntityRef.parse(deployment.entity), source="webhook")
    try:
        stored = await PipelineBook(service.store).add_report(report, event)
    except RetryableError as exc:
        log.warning("deployment report not stored: database unavailable", error=str(exc))
        return JSONResponse({"error": "database unavailable"}, status_code=503, headers={"Retry-After": "5"})
    if not stored:
        return _answer(200, accepted=0, duplicate=True)
    metrics.DEPLOYMENTS.labels(deployment.state).inc()
    metrics.EVENTS_RECEIVED.labels("deployment", event.ref.kind, "webhook").inc()
    log.info(
        "deployment reported",
        source=deployment.source,
        entity=deployment.entity,
        environment=deployment.environment,
        state=deployment.state,
        run=deployment.run_id,
    )
    return _answer(202, accepted=1, entity=deployment.entity, state=deployment.state)


def _body(raw: bytes) -> Any:
    return parse_json(raw)


@router.post("/webhooks/deployments")
async def own_report(request: Request) -> JSONResponse:
    pipeline = require_pipeline(request)
    try:
        deployment = own.parse(_body(await request.body()))
    except (BadBody, NotADeployment) as exc:
        return _rejected("bridgeline", str(exc))
    project = deployment.project
    if project is None and deployment.change:
        link = await PipelineBook(request.app.state.service.store).link_by_number(deployment.change)
        if link is None:
            return _rejected("bridgeline", f"no change {deployment.change} made by bridgeline")
        project = str(link.extra.get("label") or "").split(" ", 1)[0] or None
    if not pipeline.may(project):
        log.info("deployment report refused", pipeline=pipeline.name, project=project)
        return _answer(
            403,
            error=f"pipeline {pipeline.name} may not report deployments of project {project} "
            f"(pipelines.{pipeline.name}.projects)",
        )
    return await _store(request, deployment, pipeline.name)


@router.post("/webhooks/deployments/github")
async def github_report(request: Request) -> JSONResponse:
    settings = request.app.state.service.settings.deployments
    if settings.github_secret is None:
        return _answer(404, error="GitHub deployments are not configured (deployments.github_secret)")
    raw = await request.body()
    if not github.verify(
        raw, request.headers.get("x-hub-signature-256"), settings.github_secret.get_secret_value()
    ):
        log.warning("GitHub deployment report refused: bad or missing signature")
        return _answer(401, error="not authenticated: bad or missing X-Hub-Signature-256")
    event = request.headers.get("x-github-event", "")
    if event != "deployment_status":
        return _answer(200, accepted=0, note=f"GitHub event {event or '(none)'} is not a deployment_status")
    try:
        deployment = github.parse(_body(raw), settings.repositories)
    except Ignored as exc:
        return _answer(200, accepted=0, note=str(exc))
    except (BadBody, NotADeployment) as exc:
        return _rejected("github", str(exc))
    return await _store(request, deployment, "github")


@router.post("/webhooks/deployments/gitlab")
async def gitlab_report(request: Request) -> JSONResponse:
    settings = request.app.state.service.settings.deployments
    if settings.gitlab_token is None:
        return _answer(404, error="GitLab deployments are not configured (deployments.gitlab_token)")
    if not gitlab.verify(request.headers.get("x-gitlab-token"), settings.gitlab_token.get_secret_value()):
        log.warning("GitLab deployment report refused: bad or missing token")
        return _answer(401, error="not authenticated: bad or missing X-Gitlab-Token")
    try:
        deployment = gitlab.parse(_body(await request.body()), settings.repositories)
    except Ignored as exc:
        return _answer(200, accepted=0, note=str(exc))
    except (BadBody, NotADeployment) as exc:
        return _rejected("gitlab", str(exc))
    return await _store(request, deployment, "gitlab")

"""``POST /api/gate`` (or ``GET``): may this release deploy to this environment now?

Asked by a pipeline with its own token (``Authorization: Bearer <pipelines.<name>.token>``), about
a release of a project the token names::

    POST /api/gate  {"project": "PAY", "version": "1.4.0", "environment": "production"}
    POST /api/gate  {"change": "CHG0030001", "environment": "production"}
    GET  /api/gate?project=PAY&version_id=10042&environment=production

    200 {"decision": "awaiting", "reasons": ["CHG0030001 is not approved yet (approval: requested)"],
         "change": {"number": "CHG0030001", "url": "...", "state": "assess", ...}, ...}

A release on a release train, the train's parent change and its child changes are answered for
the whole train (``sync/gate_trains.py``); asked by the parent's number, the token may name any
member project.

Answers: 200 with a decision (``allowed``, ``awaiting``, ``prevented``, ``invalid``), 400 a question
that names no release or no environment (what to add), 401 no or a wrong token, 403 a project the
token may not ask about, 503 the database or the ITSM tool is away (ask again).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bridgeline.errors import RetryableError
from bridgeline.log import get_logger
from bridgeline.server.auth import Pipeline, require_pipeline
from bridgeline.server.jsonbody import BadBody, parse_json
from bridgeline.sync.gate import Question

log = get_logger("bridgeline.gate")
router = APIRouter()
FIELDS = ("project", "version", "version_id", "change", "environment")


def question_of(values: Any) -> Question | str:
    """A :class:`Question` from the body or the query, or what is wrong with it."""
    if not isinstance(values, dict):
        return (
            'the body is a JSON object: {"project": "PAY", "version": "1.4.0", "environment": "production"}'
        )
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        return f"unknown field(s) {', '.join(map(str, unknown))}: the gate reads {', '.join(FIELDS)}"
    texts: dict[str, str | None] = {}
    for name in FIELDS:
        value = values.get(name)
        if value is not None and not isinstance(value, (str, int)):
            return f"{name} is a string"
        text = str(value).strip() if value is not None else ""
        if len(text) > 255:
            return f"{name} is longer than 255 characters"
        texts[name] = text or None
    question = Question(
        environment=texts["environment"] or "",
        project=(texts["project"] or "").upper() or None,
        version=texts["version"],
        version_id=texts["version_id"],
        change=texts["change"],
    )
    problems = question.problems()
    return "; ".join(problems) if problems else question


async def _answer(request: Request, pipeline: Pipeline, values: Any) -> JSONResponse:
    question = question_of(values)
    if isinstance(question, str):
        return JSONResponse({"error": question}, status_code=400)
    if question.project and not pipeline.may(question.project):
        return _forbidden(pipeline, question.project)
    gate = request.app.state.service.gate
    try:
        release = await gate.find(question)
        if release.project and not pipeline.may(release.project):
            return _forbidden(pipeline, release.project)
        # asked by a train's parent change: on behalf of any member project the token names
        train = release.train
        if train is not None and not release.project and not any(map(pipeline.may, release.projects)):
            return _forbidden(pipeline, ", ".join(release.projects) or "none", train=train.key)
        answer = await gate.ask(question, pipeline=pipeline.name, release=release)
    except RetryableError as exc:
        log.warning("gate not answered: a system is away", pipeline=pipeline.name, error=str(exc))
        return JSONResponse(
            {"error": f"cannot answer now, ask again: {exc}"}, status_code=503, headers={"Retry-After": "10"}
        )
    return JSONResponse(answer.as_json())


def _forbidden(pipeline: Pipeline, project: str, *, train: str | None = None) -> JSONResponse:
    log.info("gate question refused", pipeline=pipeline.name, project=project, reason="project not allowed")
    what = f"release train {train} (projects {project})" if train else f"project {project}"
    return JSONResponse(
        {"error": f"pipeline {pipeline.name} may not ask about {what} (pipelines.{pipeline.name}.projects)"},
        status_code=403,
    )


@router.post("/api/gate")
async def gate_post(request: Request) -> JSONResponse:
    pipeline = require_pipeline(request)
    try:
        values = parse_json(await request.body())
    except BadBody as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return await _answer(request, pipeline, values)


@router.get("/api/gate")
async def gate_get(request: Request) -> JSONResponse:
    pipeline = require_pipeline(request)
    return await _answer(request, pipeline, dict(request.query_params))

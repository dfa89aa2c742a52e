"""A webhook that is refused or that carries nothing to do leaves one line in the log saying why,
never its body; one that is stored leaves none above debug (a busy Jira sends thousands)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from structlog.testing import capture_logs

from .conftest import Daemon

SECRET_LOOKING = "card 4111-1111-1111-1111"


def _lines(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["log_level"] != "debug" and "webhook" in e["event"].lower()]


async def test_rejected_and_ignored_deliveries_say_why_once(
    start_daemon: Callable[..., Awaitable[Daemon]],
) -> None:
    daemon = await start_daemon()
    other = {
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1,
        "issue": {
            "id": "1",
            "key": "ZZZ-1",
            "fields": {"summary": SECRET_LOOKING, "project": {"key": "ZZZ"}},
        },
    }
    stored = {
        "webhookEvent": "jira:version_updated",
        "timestamp": 1,
        "version": {"id": "10003", "projectId": 10000},
    }
    async with daemon.stranger() as http:
        with capture_logs() as logs:
            bad = await http.post("/webhooks/jira", content=b'{"summary": "' + SECRET_LOOKING.encode() + b'"')
        assert bad.status_code == 400
        (line,) = _lines(logs)
        assert line["event"] == "Jira webhook rejected" and line["log_level"] == "info" and line["reason"]
        assert SECRET_LOOKING not in json.dumps(logs)

        with capture_logs() as logs:
            ignored = await http.post("/webhooks/jira", json=other)
        assert ignored.status_code == 200 and ignored.json()["ignored"]
        (line,) = _lines(logs)
        assert line["event"] == "Jira webhook ignored" and line["reason"] == ignored.json()["ignored"]
        assert SECRET_LOOKING not in json.dumps(logs)

        with capture_logs() as logs:
            accepted = await http.post("/webhooks/jira", json=stored)
        assert accepted.status_code == 202
        assert _lines(logs) == []

"""What the service is doing right now, as plain data: ``/api/status`` and the status page show it.

Everything leaving here has passed the log redactor: a secret that found its way into an error
message or an audit detail is masked before any page or API shows it.
"""

from __future__ import annotations

import re
import socket
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bridgeline import __version__
from bridgeline.log import redact_value
from bridgeline.mapping import release_page
from bridgeline.model import Link, utcnow
from bridgeline.store import PipelineBook

if TYPE_CHECKING:
    from bridgeline.server.health import ConnectorHealth
    from bridgeline.sync.service import Service

_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]+$")
LATE_FACTOR = 3.0  # a connector whose last poll is older than this many intervals is late


def jira_url(service: Service, link: Link) -> str | None:
    """Where a person sees the link's Jira side: the release page, or the issue."""
    if service.settings.jira is None or link.source.system != "jira":
        return None
    explicit = link.extra.get("source_url")
    if isinstance(explicit, str) and explicit:
        return explicit
    base = service.settings.jira.url
    label = str(link.extra.get("label") or "")
    if link.source.kind == "version":
        key = label.split(" ", 1)[0] if label else ""
        if _PROJECT_KEY.match(key):
            jira = service.jira
            cloud = jira is not None and jira.deployment == "cloud"
            return release_page(base, key, link.source.id, cloud=cloud)
        return None
    if link.source.kind == "issue" and label:
        return f"{base}/browse/{label}"
    return None


def target_url(service: Service, link: Link) -> str | None:
    if link.target.url:
        return link.target.url
    target = service.targets.get(link.target.system)
    return target.record_url(link.target) if target is not None else None


def connector_state(lag: float | None, interval: float) -> str:
    if lag is None:
        return "not polled yet"
    return "late" if lag > LATE_FACTOR * interval else "ok"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def oldest_pending_seconds(service: Service) -> float:
    oldest = await service.store.oldest_pending()
    return max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0


def mapping_summary(service: Service) -> dict[str, Any]:
    live = service.mappings._set
    last = service.mappings.last
    return {
        "live": [
            {
                "name": m.name,
                "source": f"{m.source.system} {m.source.entity}",
                "target": f"{m.target.system} {m.target.record}",
                "children": [f"{c.name} ({c.target.record})" for c in m.children],
                "file": f"{m.file}:{m.line}",
            }
            for m in (live.mappings if live is not None else [])
        ],
        "fingerprint": live.fingerprint if live is not None else None,
        "last_reload": {
            "ok": last.ok,
            "at": _iso(last.at),
            "error": last.error,
        }
        if last is not None
        else None,
    }


async def status_snapshot(
    service: Service,
    health: ConnectorHealth | None = None,
    *,
    started: float | None = None,
    stopping: bool = False,
    audit_limit: int = 50,
    links_limit: int = 50,
    dead_limit: int = 200,
) -> dict[str, Any]:
    """The whole status as JSON-ready data, redacted."""
    store = service.store
    depth = await store.queue_depth()
    connectors = []
    for poller in service.pollers:
        lag = poller.lag()
        connectors.append(
            {
                "name": poller.name,
                "interval_seconds": poller.interval,
                "lag_seconds": round(lag, 1) if lag is not None else None,
                "state": connector_state(lag, poller.interval),
            }
        )
    checks = [r.as_dict() for r in health.results] if health is not None else []
    dead = await store.inbox_rows(state="dead", limit=dead_limit)
    pending = await store.inbox_rows(state="pending", limit=200)
    links = await store.list_links(limit=links_limit, top_level=True)
    audit = await store.recent_audit(limit=audit_limit)
    book = PipelineBook(store)
    answers = await book.recent_answers(limit=20)
    deployments = await book.recent_reports(limit=20)
    snapshot: dict[str, Any] = {
        "version": __version__,
        "host": socket.gethostname(),
        "uptime_seconds": round(time.monotonic() - started, 1) if started is not None else None,
        "stopping": stopping,
        "queue": {state: depth.get(state, 0) for state in ("pending", "done", "dead")},
        "oldest_pending_seconds": round(await oldest_pending_seconds(service), 1),
        "in_flight": service.worker.in_flight,
        "connectors": connectors,
        "checks": checks,
        "targets": sorted(service.targets),
        "mappings": mapping_summary(service),
        "dead_letters": [
            {
                "entity": r.entity,
                "attempts": r.attempts,
                "first_seen": _iso(r.received_at),
                "last_try": _iso(r.updated_at),
                "error": r.last_error,
            }
            for r in dead
        ],
        "retrying": [
            {
                "entity": r.entity,
                "attempts": r.attempts,
                "next_attempt": _iso(r.next_attempt_at),
                "error": r.last_error,
            }
            for r in pending
            if r.attempts > 0
        ],
        "links_total": await store.count_links(top_level=True),
        "links": [
            {
                "release": str(link.extra.get("label") or link.source),
                "source": str(link.source),
                "jira_url": jira_url(service, link),
                "mapping": link.mapping,
                "system": link.target.system,
                "number": link.target.number or link.target.id,
                "target_url": target_url(service, link),
                "state": link.state,
                "updated_at": _iso(link.updated_at),
            }
            for link in links
        ],
        "audit": [
            {
                "at": _iso(e.at),
                "action": e.action,
                "entity": e.entity,
                "mapping": e.mapping,
                "system": e.target_system,
                "number": e.target_number or e.target_id,
                "fields": sorted(e.fields) if e.fields else [],
                "outcome": e.outcome,
                "detail": e.detail,
                "duration_ms": e.duration_ms,
            }
            for e in audit
        ],
        "gate_answers": [
            {
                "at": _iso(a.asked_at),
                "pipeline": a.pipeline,
                "release": " ".join(x for x in (a.project, a.version) if x) or None,
                "environment": a.environment,
                "decision": a.decision,
                "number": a.change_number,
                "target_url": a.change_url,
                "reasons": a.reasons,
            }
            for a in answers
        ],
        "deployments": [
            {
                "at": _iso(d.received_at),
                "source": d.source,
                "release": " ".join(x for x in (d.project, d.version) if x) or d.change_number,
                "environment": d.environment,
                "state": d.state,
                "run_id": d.run_id,
                "run_url": d.run_url,
                "commit": d.commit,
                "verdict": verdict,  # None: not processed yet
            }
            for d, verdict in deployments
        ],
        "unauthorized_deployments": await book.count_unauthorized(),
    }
    redacted: dict[str, Any] = redact_value("status", snapshot)
    return redacted

"""A small HTML face so a person can look: ``/`` lists projects and releases, ``/browse/KEY`` an issue."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bridgeline.sim.jira._adf import adf_to_html
from bridgeline.sim.jira._catalog import STATUS_BY_NAME
from bridgeline.sim.jira._clock import format_timestamp
from bridgeline.sim.jira._model import Issue

if TYPE_CHECKING:
    from bridgeline.sim.jira._simulator import JiraSimulator

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#172b4d}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{padding:.25rem .75rem;border-bottom:1px solid #dfe1e6;text-align:left}
th{color:#5e6c84;font-weight:600}
.lozenge{font-size:.75rem;padding:.1rem .4rem;border-radius:3px;background:#dfe1e6}
.done{background:#e3fcef}.indeterminate{background:#deebff}code{background:#f4f5f7}
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _status(issue: Issue) -> str:
    category = STATUS_BY_NAME[issue.status.lower()].category
    return f"<span class='lozenge {category}'>{escape(issue.status)}</span>"


def routes(sim: JiraSimulator) -> list[Route]:
    async def index(request: Request) -> Response:
        state = sim.state
        parts = [
            f"<h1>Jira simulator <small>({escape(sim.mode)})</small></h1>",
            "<p>REST API under <code>/rest/api/2</code>"
            + (" and <code>/rest/api/3</code>" if sim.mode == "cloud" else "")
            + "; simulator controls under <a href='/_sim/'><code>/_sim/</code></a>.</p>",
        ]
        with state.lock:
            for project in state.projects.values():
                parts.append(f"<h2>{escape(project.key)} &middot; {escape(project.name)}</h2>")
                parts.append(
                    "<table><tr><th>Release</th><th>Status</th><th>Release date</th><th>Issues</th></tr>"
                )
                for version in state.project_versions(project.id):
                    status = (
                        "archived" if version.archived else "released" if version.released else "unreleased"
                    )
                    ids = sorted(state.by_fix_version.get(version.id, ()))
                    keys = [state.issues[i].key for i in ids if i in state.issues]
                    links = " ".join(f"<a href='/browse/{k}'>{k}</a>" for k in keys[:12])
                    more = f" &hellip; +{len(keys) - 12}" if len(keys) > 12 else ""
                    parts.append(
                        f"<tr><td>{escape(version.name)}</td><td>{status}</td>"
                        f"<td>{escape(version.release_date or '')}</td><td>{links}{more}</td></tr>"
                    )
                parts.append("</table>")
                recent = sorted(
                    (state.issues[i] for i in state.by_project.get(project.id, ())),
                    key=lambda i: i.updated,
                    reverse=True,
                )[:10]
                parts.append("<table><tr><th>Recently updated</th><th>Summary</th><th>Status</th></tr>")
                for issue in recent:
                    parts.append(
                        f"<tr><td><a href='/browse/{issue.key}'>{issue.key}</a></td>"
                        f"<td>{escape(issue.summary)}</td><td>{_status(issue)}</td></tr>"
                    )
                parts.append("</table>")
        return _page("Jira simulator", "".join(parts))

    async def browse(request: Request) -> Response:
        key = str(request.path_params["key"])
        state = sim.state
        with state.lock:
            issue = state.issue(key)
            if issue is None:
                return HTMLResponse("<h1>Issue does not exist</h1>", status_code=404)
            tz = state.settings.server_time_zone
            versions = ", ".join(
                escape(state.versions[v].name) for v in issue.fix_versions if v in state.versions
            )
            links = "".join(
                f"<li><a href='{escape(str(lk.object.get('url', '')))}'>"
                f"{escape(str(lk.object.get('title', '')))}</a></li>"
                for lk in issue.remote_links
            )
            comments = "".join(
                f"<li>{adf_to_html(c.body) or ''}<small>{format_timestamp(c.created, tz)}</small></li>"
                for c in issue.comments
            )
            labels = escape(" ".join(issue.labels))
            body = (
                "<p><a href='/'>&larr; all projects</a></p>"
                f"<h1>{escape(issue.key)} {escape(issue.summary)}</h1>"
                f"<p>{escape(issue.issuetype)} &middot; {_status(issue)} &middot; {escape(issue.priority)}"
                f" &middot; fix versions: {versions or 'none'} &middot; labels: {labels}</p>"
                f"<p><small>updated {format_timestamp(issue.updated, tz)}</small></p>"
                f"<div>{adf_to_html(issue.description) or ''}</div>"
                f"<h3>Links</h3><ul>{links}</ul><h3>Comments</h3><ul>{comments}</ul>"
            )
        return _page(f"{issue.key} {issue.summary}", body)

    return [Route("/", index, methods=["GET"]), Route("/browse/{key}", browse, methods=["GET"])]

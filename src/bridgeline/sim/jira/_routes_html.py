"""A small HTML face so a person can look: ``/`` lists projects, releases and how to sign in;
``/browse/KEY`` shows an issue; a release's page lists its issues, at the paths Jira uses for it
(Cloud ``/projects/KEY/versions/ID/tab/release-report-all-issues``, Data Center
``/projects/KEY/versions/ID``; both also answer ``/browse/KEY/fixforversion/ID`` with a redirect)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bridgeline.sim.jira._adf import adf_to_html
from bridgeline.sim.jira._catalog import STATUS_BY_NAME
from bridgeline.sim.jira._clock import format_timestamp
from bridgeline.sim.jira._http import credentials
from bridgeline.sim.jira._model import Issue, Project, Version

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


RELEASE_TAB = "release-report-all-issues"  # the tab a Cloud release page opens on


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>",
        status_code=status,
    )


def version_path(mode: str, project: Project, version: Version) -> str:
    """Where the release's page lives, in the shape the deployment uses."""
    path = f"/projects/{project.key}/versions/{version.id}"
    return f"{path}/tab/{RELEASE_TAB}" if mode == "cloud" else path


def _version_status(version: Version) -> str:
    return "archived" if version.archived else "released" if version.released else "unreleased"


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
            _sign_in(sim),
        ]
        with state.lock:
            for project in state.projects.values():
                parts.append(f"<h2>{escape(project.key)} &middot; {escape(project.name)}</h2>")
                parts.append(
                    "<table><tr><th>Release</th><th>Status</th><th>Release date</th><th>Issues</th></tr>"
                )
                for version in state.project_versions(project.id):
                    ids = sorted(state.by_fix_version.get(version.id, ()))
                    keys = [state.issues[i].key for i in ids if i in state.issues]
                    links = " ".join(f"<a href='/browse/{k}'>{k}</a>" for k in keys[:12])
                    more = f" &hellip; +{len(keys) - 12}" if len(keys) > 12 else ""
                    page = version_path(sim.mode, project, version)
                    parts.append(
                        f"<tr><td><a href='{page}'>{escape(version.name)}</a></td>"
                        f"<td>{_version_status(version)}</td>"
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
                f"<a href='{version_path(sim.mode, project, state.versions[v])}'>"
                f"{escape(state.versions[v].name)}</a>"
                for v in issue.fix_versions
                if v in state.versions and (project := state.projects.get(state.versions[v].project_id))
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

    async def version_page(request: Request) -> Response:
        if request.path_params.get("tab", RELEASE_TAB) != RELEASE_TAB:
            return _page("Not found", "<h1>This tab does not exist</h1>", 404)
        state = sim.state
        with state.lock:
            found = _find_version(sim, request)
            if found is None:
                return _page("Not found", "<h1>This release does not exist</h1>", 404)
            project, version = found
            return _page(f"{project.key} {version.name}", _version_body(sim, project, version))

    async def fix_for_version(request: Request) -> Response:
        with sim.state.lock:
            found = _find_version(sim, request)
            if found is None:
                return _page("Not found", "<h1>This release does not exist</h1>", 404)
            return RedirectResponse(version_path(sim.mode, *found), status_code=302)

    return [
        Route("/", index, methods=["GET"]),
        Route("/browse/{key}", browse, methods=["GET"]),
        Route("/browse/{key}/fixforversion/{version}", fix_for_version, methods=["GET"]),
        Route("/projects/{key}/versions/{version}", version_page, methods=["GET"]),
        Route("/projects/{key}/versions/{version}/tab/{tab}", version_page, methods=["GET"]),
    ]


def _find_version(sim: JiraSimulator, request: Request) -> tuple[Project, Version] | None:
    """The project and version a page URL names, when the version belongs to that project."""
    project = sim.state.project(str(request.path_params["key"]))
    ident = str(request.path_params["version"])
    version = sim.state.versions.get(int(ident)) if ident.isdecimal() else None
    if project is None or version is None or version.project_id != project.id:
        return None
    return project, version


def _version_body(sim: JiraSimulator, project: Project, version: Version) -> str:
    state = sim.state
    issues = sorted(
        (state.issues[i] for i in state.by_fix_version.get(version.id, ()) if i in state.issues),
        key=lambda i: i.id,
    )
    categories = [STATUS_BY_NAME[i.status.lower()].category for i in issues]
    counts = " &middot; ".join(
        f"{categories.count(c)} {label}"
        for c, label in (("done", "done"), ("indeterminate", "in progress"), ("new", "to do"))
    )
    dates = " &middot; ".join(
        f"{label} {escape(value)}"
        for label, value in (("start", version.start_date), ("release", version.release_date))
        if value
    )
    rows = "".join(
        f"<tr><td><a href='/browse/{i.key}'>{i.key}</a></td><td>{escape(i.summary)}</td>"
        f"<td>{escape(i.issuetype)}</td><td>{escape(i.priority)}</td><td>{_status(i)}</td></tr>"
        for i in issues
    )
    return (
        f"<p><a href='/'>&larr; all projects</a> &middot; {escape(project.key)} &middot; "
        f"{escape(project.name)}</p>"
        f"<h1>{escape(version.name)} <small class='lozenge'>{_version_status(version)}</small></h1>"
        f"<p>{dates or 'no dates'}</p><p>{escape(version.description or '')}</p>"
        f"<p>{len(issues)} issue(s): {counts}</p>"
        "<table><tr><th>Key</th><th>Summary</th><th>Type</th><th>Priority</th><th>Status</th></tr>"
        f"{rows}</table>"
    )


def _sign_in(sim: JiraSimulator) -> str:
    how = (
        "HTTP Basic with email and API token"
        if sim.mode == "cloud"
        else "a personal access token (<code>Authorization: Bearer</code>) or HTTP Basic with username "
        "and password"
    )
    rows = "".join(
        f"<tr><td>{escape(c.user.display_name)}{' (read-only)' if c.user.read_only else ''}</td>"
        f"<td><code>{escape(str(c))}</code></td></tr>"
        for c in credentials(sim)
    )
    return f"<h2>Sign in</h2><p>The API takes {how}:</p><table>{rows}</table>"

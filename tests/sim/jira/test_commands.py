"""``bridgeline sim jira edit``: a person's edit of an issue on a served Jira, Cloud and Data Center;
found by --url or by the running demo's file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bridgeline.sim._endpoints import write_endpoints
from bridgeline.sim.jira.cli import main as cli

from ..conftest import free_port
from .conftest import Served


def _issue_in(served: Served, status: str, project: str = "PAY") -> str:
    state = served.sim.state
    with state.lock:
        for issue in sorted(state.issues.values(), key=lambda i: i.id):
            if issue.status == status and issue.key.startswith(f"{project}-") and issue.issuetype != "Epic":
                return issue.key
    raise AssertionError(f"no {project} issue in {status}")


def _next_version(served: Served, key: str) -> str:
    """An unreleased version of the issue's project that the issue is not in yet."""
    state = served.sim.state
    with state.lock:
        issue = state.issue(key)
        assert issue is not None
        for version in state.project_versions(issue.project_id):
            if not version.released and version.id not in issue.fix_versions:
                return version.name
    raise AssertionError("no free version")


@pytest.mark.parametrize("deployment", ["cloud", "dc"])
def test_edit_changes_summary_labels_fix_version_status_and_comments_as_a_person(
    deployment: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    served: Served = request.getfixturevalue(deployment)
    key = _issue_in(served, "To Do")
    version = _next_version(served, key)
    with served.sim.state.lock:
        before = served.sim.state.issue(key)
        assert before is not None
        updated, labels = before.updated, list(before.labels)
    served.sim.state.clock.advance(1000)
    options = ["--summary", "Retry card authorisations", "--status", "in progress", "--add-label", "hotfix"]
    options += ["--fix-version", version, "--comment", "Picked up for the hotfix", "--url", served.url]
    assert cli(["edit", key, *options]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"{key}: In Progress; labels: ") and "fix versions: " in out and version in out

    with served.sim.state.lock:
        issue = served.sim.state.issue(key)
        assert issue is not None
        assert (issue.summary, issue.status) == ("Retry card authorisations", "In Progress")
        assert set(issue.labels) == {*labels, "hotfix"}
        assert version in [served.sim.state.versions[v].name for v in issue.fix_versions]
        assert issue.updated > updated
        admin = served.sim.state.user("admin")
        assert admin is not None
        assert issue.comments[-1].author == admin.account_id
        assert {h.author for h in issue.histories[-2:]} == {admin.account_id}  # the edit, the transition


def test_edit_removes_labels_and_fix_versions(cloud: Served, capsys: pytest.CaptureFixture[str]) -> None:
    with cloud.sim.state.lock:
        issue = next(i for i in cloud.sim.state.issues.values() if i.labels and i.fix_versions)
        key, label = issue.key, issue.labels[0]
        version = cloud.sim.state.versions[issue.fix_versions[0]].name
    assert (
        cli(["edit", key, "--remove-label", label, "--remove-fix-version", version, "--url", cloud.url]) == 0
    )
    capsys.readouterr()
    with cloud.sim.state.lock:
        issue = cloud.sim.state.issue(key)
        assert issue is not None
        assert label not in issue.labels
        assert version not in [cloud.sim.state.versions[v].name for v in issue.fix_versions]


def test_mistakes_get_a_message_that_says_what_to_fix(
    cloud: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _issue_in(cloud, "To Do")
    assert cli(["edit", key, "--status", "Done", "--url", cloud.url]) == 1
    assert (
        capsys.readouterr().err.strip() == f"{key} is To Do: from there it can move to In Progress, not Done"
    )
    assert cli(["edit", key, "--fix-version", "9.9.9", "--url", cloud.url]) == 1
    assert "Version name '9.9.9' is not valid" in capsys.readouterr().err
    assert cli(["edit", "PAY-99999", "--summary", "x", "--url", cloud.url]) == 1
    assert "Issue does not exist" in capsys.readouterr().err
    assert cli(["edit", key, "--url", cloud.url]) == 2
    assert "nothing to change" in capsys.readouterr().err
    assert cli(["edit", key, "--summary", "x", "--user", "nobody", "--url", cloud.url]) == 2
    assert "no seeded account 'nobody'" in capsys.readouterr().err
    assert cli(["edit", key, "--summary", "x", "--user", "viewer", "--url", cloud.url]) == 1  # read-only
    assert "403" in capsys.readouterr().err


def test_edit_finds_the_running_demo_by_its_file(
    dc: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _issue_in(dc, "To Do")
    write_endpoints(tmp_path, {"jira": dc.sim.endpoint(dc.url)})
    assert cli(["edit", key, "--add-label", "from-the-demo", "--demo", str(tmp_path)]) == 0
    with dc.sim.state.lock:
        issue = dc.sim.state.issue(key)
        assert issue is not None and "from-the-demo" in issue.labels
    gone = f"http://127.0.0.1:{free_port()}"
    write_endpoints(tmp_path, {"jira": dc.sim.endpoint(gone)})
    assert cli(["edit", key, "--summary", "x", "--demo", str(tmp_path)]) == 2
    assert f"cannot reach the Jira simulator at {gone}" in capsys.readouterr().err


@pytest.mark.parametrize("deployment", ["cloud", "dc"])
def test_the_endpoint_lists_accounts_that_sign_in(deployment: str, request: pytest.FixtureRequest) -> None:
    served: Served = request.getfixturevalue(deployment)
    entry = served.sim.endpoint(served.url)
    assert entry["mode"] == served.sim.mode and "bridgeline" in entry["accounts"]
    for account in entry["accounts"].values():
        ways = []
        if "api_token" in account:
            ways.append({"auth": (account["email"], account["api_token"])})
        if "token" in account:
            ways.append({"headers": {"Authorization": f"Bearer {account['token']}"}})
        if "password" in account:
            ways.append({"auth": (account["username"], account["password"])})
        assert ways
        for way in ways:
            assert httpx.get(served.url + "/rest/api/2/myself", **way).status_code == 200, account

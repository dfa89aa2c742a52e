"""Deployment reports parsed from each source into one shape; what is not a report says what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from bridgeline.connectors.deployments import Ignored, NotADeployment, github, gitlab, own

REPOS = {"acme/payments": "PAY"}


def github_payload(state: str = "success", **deployment: Any) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {"state": state, "environment": "production",
                              "log_url": "https://github.com/acme/payments/actions/runs/9"},
        "deployment": {"id": 42, "sha": "9fceb02", "ref": "refs/tags/v1.4.0", "environment": "production",
                       "payload": {}, **deployment},
        "repository": {"full_name": "acme/payments"},
    }  # fmt: skip


def test_github_deployment_status_names_the_release_by_repository_and_tag() -> None:
    d = github.parse(github_payload(), REPOS)
    assert (d.source, d.state, d.environment, d.run_id, d.commit) == (
        "github",
        "succeeded",
        "production",
        "42",
        "9fceb02",
    )
    assert (d.project, d.version, d.entity) == ("PAY", "v1.4.0", "deployment:release:PAY:v1.4.0")
    assert d.run_url == "https://github.com/acme/payments/actions/runs/9"


def test_github_payload_may_name_the_release_or_the_change_itself() -> None:
    named = github.parse(
        github_payload(payload={"bridgeline": {"project": "web", "version_id": "20001"}}), {}
    )
    assert (named.project, named.version_id, named.entity) == ("WEB", "20001", "deployment:version:20001")
    as_text = github.parse(github_payload(payload='{"bridgeline": {"change": "CHG0030001"}}'), {})
    assert as_text.entity == "deployment:change:CHG0030001"


@pytest.mark.parametrize("state", ["queued", "pending", "inactive", "waiting"])
def test_github_states_that_report_nothing_are_ignored(state: str) -> None:
    with pytest.raises(Ignored):
        github.parse(github_payload(state), REPOS)


def test_github_signature() -> None:
    body = b'{"a": 1}'
    assert github.verify(body, github.signature("s3cret", body), "s3cret")
    assert not github.verify(body, github.signature("other", body), "s3cret")
    assert not github.verify(body, None, "s3cret")


def test_github_repository_without_a_project_says_what_to_configure() -> None:
    with pytest.raises(NotADeployment, match=r"not in deployments\.repositories"):
        github.parse(github_payload(), {})


def test_gitlab_deployment_event() -> None:
    payload = {
        "object_kind": "deployment", "status": "running", "deployment_id": 15, "environment": "production",
        "deployable_url": "https://gitlab.example.com/acme/payments/-/jobs/796", "ref": "1.4.0",
        "short_sha": "279484c0", "commit_url": "https://gitlab.example.com/acme/payments/-/commit/279484c09fbe",
        "project": {"path_with_namespace": "acme/payments"},
    }  # fmt: skip
    d = gitlab.parse(payload, REPOS)
    assert (d.state, d.run_id, d.commit, d.entity) == (
        "started",
        "15",
        "279484c09fbe",
        "deployment:release:PAY:1.4.0",
    )
    with pytest.raises(Ignored):
        gitlab.parse({**payload, "status": "created"}, REPOS)
    with pytest.raises(NotADeployment, match="object_kind"):
        gitlab.parse({**payload, "object_kind": "push"}, REPOS)
    assert gitlab.verify("tok", "tok") and not gitlab.verify("bad", "tok") and not gitlab.verify(None, "tok")


def test_bridgelines_own_report() -> None:
    report = {
        "release": {"project": "pay", "version": "1.4.0"}, "environment": "production",
        "state": "rolled_back",
        "run": {"id": 8812, "url": "https://ci.example.com/runs/8812"}, "commit": "9fceb02",
    }  # fmt: skip
    d = own.parse(report)
    assert (d.project, d.version, d.state, d.run_id) == ("PAY", "1.4.0", "rolled_back", "8812")
    by_change = own.parse({"change": "CHG1", "environment": "prod", "state": "started", "run": {"id": "1"}})
    assert by_change.entity == "deployment:change:CHG1"
    with pytest.raises(NotADeployment, match="not both"):
        own.parse({"change": "CHG1", "release": {"project": "PAY", "version": "1"}, "environment": "p",
                   "state": "started", "run": {"id": "1"}})  # fmt: skip
    with pytest.raises(NotADeployment, match="must be a string"):
        own.parse({"change": ["CHG1"], "environment": "p", "state": "started", "run": {"id": "1"}})

"""``bridgeline jira check`` and ``bridgeline jira register-webhook`` against the Cloud simulator."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from bridgeline.cli import main
from bridgeline.sim.jira import INTEGRATION_CLOUD

from .conftest import Jira


def config(tmp_path: Path, jira: Jira, **overrides: object) -> str:
    section = {
        "url": jira.url,
        "email": "bridgeline@example.com",
        "api_token": INTEGRATION_CLOUD[1],
        "projects": ["PAY", "WEB"],
        "webhook_secret": "s3cret",
        **overrides,
    }
    path = tmp_path / "bridgeline.yaml"
    path.write_text(yaml.safe_dump({"jira": section}))
    return str(path)


def registered(jira: Jira) -> list[dict[str, object]]:
    with httpx.Client(base_url=jira.url, auth=("admin@example.com", "admin-token"), timeout=10) as api:
        hooks: list[dict[str, object]] = api.get("/rest/webhooks/1.0/webhook").json()
        return hooks


def test_register_webhook_creates_then_updates_the_same_registration(
    cloud: Jira, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, cloud)
    assert main(["jira", "register-webhook", "--url", "https://bridgeline.example.com", "-c", cfg]) == 0
    assert capsys.readouterr().out.startswith(
        "created: bridgeline -> https://bridgeline.example.com/webhooks/jira"
    )
    [hook] = registered(cloud)
    assert hook["filters"] == {"issue-related-events-section": 'project in ("PAY", "WEB")'}
    assert cloud.sim.state.webhooks[1].secret == "s3cret"

    cfg = config(tmp_path, cloud, projects=["PAY", "WEB", "OPS"], webhook_secret="rotated")
    assert (
        main(["jira", "register-webhook", "--url", "https://bridgeline.example.com/webhooks/jira", "-c", cfg])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("updated:") and "changed:      filters" in out
    [hook] = registered(cloud)
    assert hook["filters"] == {"issue-related-events-section": 'project in ("PAY", "WEB", "OPS")'}
    assert cloud.sim.state.webhooks[1].secret == "rotated", "the new secret reached Jira"


def test_dry_run_changes_nothing(cloud: Jira, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, cloud)
    assert main(["jira", "register-webhook", "--url", "https://b.example.com", "--dry-run", "-c", cfg]) == 0
    assert capsys.readouterr().out.startswith("would create:")
    assert registered(cloud) == []


def test_registering_needs_a_jira_administrator(
    cloud: Jira, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, cloud, email="viewer@example.com", api_token="viewer-token")
    assert main(["jira", "register-webhook", "--url", "https://b.example.com", "-c", cfg]) == 1
    assert "needs a Jira administrator" in capsys.readouterr().err
    assert registered(cloud) == []


def test_check_shows_the_deployment_the_account_and_the_projects(
    cloud: Jira, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jira", "check", "-c", config(tmp_path, cloud)]) == 0
    out = capsys.readouterr().out
    assert "/rest/api/3 (cloud)" in out and "time zone Europe/Berlin" in out
    assert "project PAY: " in out and "project WEB: " in out
    assert main(["jira", "check", "-c", config(tmp_path, cloud, projects=["PAY", "NOPE"])]) == 1
    assert "project NOPE: NOT FOUND" in capsys.readouterr().out

"""``bridgeline mappings preview --version ID | --issue KEY`` reads Jira live with the daemon's
configuration and shows what the shipped mappings would write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridgeline.cli import main
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraSimulator

SHIPPED = Path(__file__).parents[2] / "mappings"


@pytest.fixture
def jira() -> Iterator[tuple[JiraSimulator, str]]:
    sim = JiraSimulator()
    with ServedApp(sim.app) as served:
        yield sim, served.url


def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "bridgeline.yaml"
    path.write_text(
        f"jira:\n  url: {url}\n  email: bridgeline@example.com\n  api_token: {INTEGRATION_CLOUD[1]}\n"
        "  projects: [PAY, WEB, OPS]\n"
    )
    return path


def test_preview_a_live_release_and_a_live_hotfix(
    jira: tuple[JiraSimulator, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, url = jira
    cfg = config(tmp_path, url)
    version = next(
        v
        for v in sim.state.versions.values()
        if not v.released
        and not v.archived
        and v.release_date
        and sim.state.project(v.project_id).key == "PAY"
    )
    code = main(
        [
            "mappings",
            "preview",
            "--version",
            str(version.id),
            "--config",
            str(cfg),
            "--mappings",
            str(SHIPPED),
            "--mapping",
            "servicenow-release",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"Release PAY {version.name}" in out and "change_task" in out
    hotfix = next(
        i
        for i in sim.state.issues.values()
        if "hotfix" in i.labels and i.priority == "Highest" and i.status != "Done"
    )
    code = main(
        [
            "mappings",
            "preview",
            "--issue",
            hotfix.key,
            "--config",
            str(cfg),
            "--mappings",
            str(SHIPPED),
            "--mapping",
            "servicenow-hotfix",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "emergency" in out and hotfix.key in out


def test_preview_live_without_a_jira_section_says_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "empty.yaml"
    cfg.write_text("log_level: info\n")
    code = main(
        ["mappings", "preview", "--version", "10001", "--config", str(cfg), "--mappings", str(SHIPPED)]
    )
    captured = capsys.readouterr()
    assert code != 0
    assert "no 'jira:' section" in captured.err + captured.out

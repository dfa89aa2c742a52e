"""Configuration: the documented example, environment and secret-file overrides, `bridgeline config`."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from bridgeline.cli import main
from bridgeline.config import Settings, load_settings
from bridgeline.sim import ServedApp

from .conftest import support

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "bridgeline.example.yaml"
COMMENTED_SETTING = re.compile(r"^(\s*)# (\s*[a-z_]+:.*)$")


def uncommented(text: str) -> str:
    """The example with every commented-out setting ("# key: value") switched on."""
    lines = []
    for line in text.splitlines():
        m = COMMENTED_SETTING.match(line)
        lines.append(m.group(1) + m.group(2) if m else line)
    return "\n".join(lines)


def section_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (*typing.get_args(annotation), annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def setting_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        paths.append(prefix + name)
        sub = section_of(field.annotation)
        if sub is not None:
            paths.extend(setting_paths(sub, f"{prefix}{name}."))
    return paths


def test_the_example_documents_every_setting(tmp_path: Path) -> None:
    data = yaml.safe_load(uncommented(EXAMPLE.read_text(encoding="utf-8")))
    missing = []
    for path in setting_paths(Settings):
        node: Any = data
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                missing.append(path)
                break
            node = node[key]
    assert not missing, f"add these settings to config/bridgeline.example.yaml: {missing}"
    everything = tmp_path / "bridgeline.yaml"
    everything.write_text(uncommented(EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    settings = load_settings(everything)  # every documented value is a valid one
    assert settings.remedy is not None and settings.servicenow and settings.servicenow.oauth


def test_the_example_takes_secrets_from_the_environment_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "jira-api-token"
    token_file.write_text("file-token-91c2e7\n", encoding="utf-8")
    monkeypatch.setenv("BRIDGELINE_JIRA__API_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("BRIDGELINE_SERVICENOW__PASSWORD", "env-password-5d8e1b")
    monkeypatch.setenv("BRIDGELINE_JIRA__PROJECTS", "OPS,INFRA")
    monkeypatch.setenv("BRIDGELINE_WORKER__CONCURRENCY", "9")
    monkeypatch.setenv(
        "BRIDGELINE_DATABASE_URL", "postgresql+psycopg://bridgeline:db-secret-44aa@db/bridgeline"
    )
    settings = load_settings(EXAMPLE)
    assert settings.jira is not None and settings.jira.api_token is not None
    assert settings.jira.api_token.get_secret_value() == "file-token-91c2e7"
    assert settings.jira.projects == ["OPS", "INFRA"]
    assert settings.worker.concurrency == 9
    assert settings.mappings == [EXAMPLE.parent / "mappings"]  # relative to the file

    assert main(["config", "show", "--config", str(EXAMPLE)]) == 0
    shown = capsys.readouterr().out
    assert "file-token-91c2e7" not in shown and "env-password-5d8e1b" not in shown
    assert "db-secret-44aa" not in shown
    data = yaml.safe_load(shown)
    assert data["jira"]["api_token"] == "***" and data["jira"]["projects"] == ["OPS", "INFRA"]


def check(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["config", "check", "--config", str(config), "--timeout", "5", *extra])
    return code, capsys.readouterr().out


def all_systems(sims: Any, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = support.settings_values(sims, f"sqlite:///{tmp_path / 'bridgeline.db'}")
    values["remedy"] = {"url": sims.remedy_url, "username": "bridgeline", "password": support.REMEDY_PASSWORD}
    for key, value in extra.items():
        values[key] = {**values[key], **value}
    return values


def test_check_passes_against_working_systems(
    sims: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(support.write_config(tmp_path, all_systems(sims, tmp_path)), capsys)
    assert code == 0, out
    for line in (
        "ok    settings",
        "ok    mappings",
        "ok    database",
        "ok    jira serverInfo",
        "ok    jira myself",
        "ok    jira project PAY",
        "ok    servicenow table read",
        "ok    remedy jwt login",
        "ok    remedy jwt logout",
    ):
        assert line in out
    assert "Jira Cloud" in out and "logged in as" in out
    assert "a new database will be created" in out
    assert not (tmp_path / "bridgeline.db").exists()  # checking creates nothing
    assert out.rstrip().endswith("checks passed")


def test_check_names_every_refused_credential_without_showing_it(
    sims: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = all_systems(
        sims,
        tmp_path,
        jira={"api_token": "wrong-jira-3e9f"},
        servicenow={"password": "wrong-snow-7a1c"},
        remedy={"password": "wrong-remedy-c5d2"},
    )
    code, out = check(support.write_config(tmp_path, values), capsys)
    assert code == 1
    for system, name in (("jira", "serverInfo"), ("servicenow", "table read"), ("remedy", "jwt login")):
        assert re.search(rf"FAIL\s+{system} {name}\s+credentials refused \(401\)", out), out
    assert "3 problems" in out
    for secret in ("wrong-jira-3e9f", "wrong-snow-7a1c", "wrong-remedy-c5d2"):
        assert secret not in out


def test_check_reports_an_unreachable_system_and_a_mapping_without_its_target(
    sims: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ServedApp(lambda scope, receive, send: None) as gone:
        closed = gone.url
    values = support.settings_values(sims, f"sqlite:///{tmp_path / 'bridgeline.db'}", jira={"url": closed})
    del values["servicenow"]
    code, out = check(support.write_config(tmp_path, values), capsys)
    assert code == 1
    assert re.search(r"FAIL\s+jira serverInfo\s+jira unreachable", out), out
    assert "writes to servicenow, which has no 'servicenow:' section" in out


def test_check_reports_invalid_settings_and_mappings(
    sims: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = support.settings_values(sims, "sqlite:///x.db", worker={"concurency": 3})
    code, out = check(support.write_config(tmp_path, values), capsys)
    assert code == 1 and "worker.concurency: unknown setting" in out

    broken = tmp_path / "mappings"
    broken.mkdir()
    (broken / "bad.yaml").write_text(
        (support.MAPPINGS / "release.yaml").read_text().replace("identity:", "identiti:"), encoding="utf-8"
    )
    values = support.settings_values(sims, "sqlite:///x.db", mappings=[str(broken)])
    code, out = check(support.write_config(tmp_path, values), capsys, "--offline")
    assert code == 1
    assert re.search(r"FAIL\s+mappings\s+\d+ problem", out) and "bad.yaml:" in out

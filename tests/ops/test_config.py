"""Configuration: the documented example, environment and secret-file overrides, `bridgeline config`."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from bridgeline.cli import main
from bridgeline.config import Settings, load_settings
from bridgeline.errors import ConfigError
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
            # sections by name (pipelines): `*` stands for the example's first entry
            named = typing.get_origin(field.annotation) is dict
            paths.extend(setting_paths(sub, f"{prefix}{name}.{'*.' if named else ''}"))
    return paths


def test_the_example_documents_every_setting(tmp_path: Path) -> None:
    data = yaml.safe_load(uncommented(EXAMPLE.read_text(encoding="utf-8")))
    missing = []
    for path in setting_paths(Settings):
        node: Any = data
        for key in path.split("."):
            if key == "*" and isinstance(node, dict) and node:
                key = next(iter(node))
            if not isinstance(node, dict) or key not in node:
                missing.append(path)
                break
            node = node[key]
    assert not missing, f"add these settings to config/bridgeline.example.yaml: {missing}"
    everything = tmp_path / "settings.yaml"
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


# -- configuration that tells the truth -------------------------------------------------------------


def refused(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, out = check(config, capsys, "--offline")
    assert code == 1, out
    return out


def test_urls_ports_and_log_levels_are_checked_not_bent(
    sims: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = support.settings_values(
        sims, "sqlite:///x.db", jira={"url": "example.atlassian.net"}, server={"port": 99999}
    )
    values["log_level"] = "loud"
    values["servicenow"]["url"] = "ftp://snow.example.com"
    values["servicenow"]["proxy"] = "https://"
    out = refused(support.write_config(tmp_path, values), capsys)
    assert "jira.url: 'example.atlassian.net' has no scheme: write https://example.atlassian.net" in out
    assert "servicenow.url: 'ftp://snow.example.com' is not an http:// or https:// URL" in out
    assert "servicenow.proxy: 'https://' names no host: write https://host.example.com" in out
    assert re.search(r"server\.port: Input should be less than or equal to 65535", out), out
    assert re.search(r"log_level: Input should be 'debug', 'info', 'warning', 'error' or 'critical'", out)
    assert "Value error" not in out


def test_a_problem_in_the_file_names_its_line_and_the_setting_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(
        "database_url: sqlite:///x.db\n"
        "jira:\n"
        "  url: https://example.atlassian.net\n"
        "  email: bridgeline@example.com\n"
        "  api_token: t0ken-x\n"
        "  projcts: [PAY]\n"
        "worker:\n"
        "  concurrency: lots\n",
        encoding="utf-8",
    )
    out = refused(config, capsys)
    assert f"{config}:6:3: jira.projcts: unknown setting (did you mean 'projects'?)" in out, out
    assert f"{config}:8:16: worker.concurrency: Input should be a valid integer" in out, out


def test_the_file_is_yaml_1_2_no_means_norway(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(
        "jira:\n  url: https://example.atlassian.net\n  email: a@example.com\n  api_token: t\n"
        "  projects: [PAY, NO, ON, YES, off]\n"
        "migrate_on_start: false\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.jira is not None and settings.jira.projects == ["PAY", "NO", "ON", "YES", "off"]
    assert settings.migrate_on_start is False


def test_a_file_that_is_not_yaml_says_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("jira:\n  url: [unclosed\n", encoding="utf-8")
    out = refused(config, capsys)
    assert re.search(rf"{re.escape(str(config))}:\d+:\d+: not valid YAML", out), out


def test_unknown_environment_variables_are_refused_with_the_name_meant(
    sims: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = support.write_config(tmp_path, support.settings_values(sims, "sqlite:///x.db"))
    monkeypatch.setenv("BRIDGELINE_DATABASE_UR", "postgresql+psycopg://db/bridgeline")
    monkeypatch.setenv("BRIDGELINE_JIRA_URL", "https://other.atlassian.net")
    monkeypatch.setenv("BRIDGELINE_JIRA__API_TOKEN_FILE_", "/run/secrets/x")
    out = refused(config, capsys)
    assert "BRIDGELINE_DATABASE_UR: unknown setting (did you mean BRIDGELINE_DATABASE_URL?)" in out
    assert "BRIDGELINE_JIRA_URL: unknown setting (did you mean BRIDGELINE_JIRA__URL?)" in out
    assert "BRIDGELINE_JIRA__API_TOKEN_FILE_: unknown setting (did you mean" in out
    for name in ("BRIDGELINE_DATABASE_UR", "BRIDGELINE_JIRA_URL", "BRIDGELINE_JIRA__API_TOKEN_FILE_"):
        monkeypatch.delenv(name)
    # every name a setting has is accepted, files of secrets included
    monkeypatch.setenv("BRIDGELINE_SERVICENOW__PASSWORD_FILE", str(tmp_path / "pw"))
    (tmp_path / "pw").write_text("pw-7", encoding="utf-8")
    monkeypatch.setenv("BRIDGELINE_WORKER__CONCURRENCY", "3")
    monkeypatch.setenv("BRIDGELINE_SERVER__PORT", "8181")
    assert load_settings(config).server.port == 8181


def test_an_environment_value_that_does_not_parse_is_a_message(
    sims: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = support.write_config(tmp_path, support.settings_values(sims, "sqlite:///x.db"))
    monkeypatch.setenv("BRIDGELINE_JIRA__PROJECTS", "[unclosed")
    monkeypatch.setenv("BRIDGELINE_WORKER__CONCURRENCY", "many")
    done = subprocess.run(
        [sys.executable, "-m", "bridgeline.cli", "config", "check", "--offline", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "BRIDGELINE_JIRA__PROJECTS: jira.projects: '[unclosed' is not a list: write PAY,WEB" in done.stdout
    assert (
        "BRIDGELINE_WORKER__CONCURRENCY: worker.concurrency: Input should be a valid integer" in done.stdout
    )


def test_run_refuses_what_config_check_refuses(sims: Any, tmp_path: Path) -> None:
    empty = tmp_path / "no-mappings"
    empty.mkdir()
    without_target = support.settings_values(sims, f"sqlite:///{tmp_path / 'a.db'}")
    del without_target["servicenow"]
    cases = {
        "no mapping found in": support.settings_values(
            sims, f"sqlite:///{tmp_path / 'b.db'}", mappings=[str(empty)]
        ),
        "writes to servicenow, which has no 'servicenow:' section": without_target,
    }
    for expected, values in cases.items():
        config = support.write_config(tmp_path, values)
        done = subprocess.run(
            [sys.executable, "-m", "bridgeline.cli", "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()  # refused before the store


def test_commands_that_look_create_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["dlq", "list"], ["dlq", "show", "jira:version:1"], ["dlq", "replay", "--all"]):
        done = subprocess.run(
            [sys.executable, "-m", "bridgeline.cli", *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert "no bridgeline database at" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_pipeline_tokens_come_from_the_environment_and_files_and_are_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "pipeline-token"
    token_file.write_text("pipeline-file-token-7d41c9\n", encoding="utf-8")
    monkeypatch.setenv("BRIDGELINE_PIPELINES__PAYMENTS_DEPLOY__TOKEN_FILE", str(token_file))
    monkeypatch.setenv("BRIDGELINE_PIPELINES__PAYMENTS_DEPLOY__PROJECTS", "PAY,WEB")
    monkeypatch.setenv("BRIDGELINE_PIPELINES__WEB_DEPLOY__TOKEN", "pipeline-env-token-55e0a2")
    monkeypatch.setenv("BRIDGELINE_PIPELINES__WEB_DEPLOY__PROJECTS", "WEB")
    monkeypatch.setenv("BRIDGELINE_JIRA__API_TOKEN", "jira-token-for-this-test")
    monkeypatch.setenv("BRIDGELINE_SERVICENOW__PASSWORD", "servicenow-password-for-this-test")
    settings = load_settings(EXAMPLE)
    assert settings.pipelines["payments_deploy"].token.get_secret_value() == "pipeline-file-token-7d41c9"
    assert settings.pipelines["payments_deploy"].projects == ["PAY", "WEB"]
    assert settings.pipelines["web_deploy"].projects == ["WEB"]
    assert main(["config", "show", "--config", str(EXAMPLE)]) == 0
    shown = capsys.readouterr().out
    assert "pipeline-file-token-7d41c9" not in shown and "pipeline-env-token-55e0a2" not in shown
    assert yaml.safe_load(shown)["pipelines"]["web_deploy"]["token"] == "***"


@pytest.mark.parametrize(
    ("pipelines", "problem"),
    [
        ({"Pay-Deploy": {"token": "t" * 24, "projects": ["PAY"]}}, "use lower case letters, digits and _"),
        ({"pay": {"token": "short", "projects": ["PAY"]}}, "pipelines.pay.token: a pipeline token needs"),
        ({"pay": {"token": "t" * 24, "projects": []}}, "pipelines.pay.projects"),
        ({"pay": {"token": "t" * 24, "projects": ["PAY"], "env": "x"}}, "pipelines.pay.env: unknown"),
        (
            {
                "pay": {"token": "t" * 24, "projects": ["PAY"]},
                "web": {"token": "t" * 24, "projects": ["WEB"]},
            },
            "is also pipelines.pay.token",
        ),
        ({"pay": {"token": "admin-token-for-the-test", "projects": ["PAY"]}}, "is the admin token"),
    ],
)
def test_pipeline_settings_are_checked_with_their_place(
    tmp_path: Path, pipelines: dict[str, Any], problem: str
) -> None:
    config = tmp_path / "bridgeline.yaml"
    config.write_text(
        yaml.safe_dump({"server": {"admin_token": "admin-token-for-the-test"}, "pipelines": pipelines}),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert problem in str(caught.value)
    assert "t" * 24 not in str(caught.value) and "admin-token-for-the-test" not in str(caught.value)

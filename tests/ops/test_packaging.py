"""Packaging: the Dockerfile's structure, the Helm chart's manifests, the systemd unit.

There is no container engine here, so the Dockerfile is read, not built; the chart is rendered by
``helm`` when it is installed and by a small Go-template stand-in otherwise.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridgeline.config import load_settings
from bridgeline.sim import ServedApp

from .gotemplate import Fail, render_chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "bridgeline"
SECRETISH = re.compile(r"(TOKEN|PASSWORD|SECRET|API_KEY|PRIVATE)", re.I)


# -- Dockerfile ------------------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages(found: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in found:
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def test_the_dockerfile_builds_in_stages_and_runs_unprivileged_with_a_healthcheck() -> None:
    found = instructions(ROOT / "Dockerfile")
    build, runtime = stages(found)
    assert re.match(r"python:\$\{PYTHON_VERSION\}-slim AS build", build[0][1])
    assert "-slim" in runtime[0][1]
    assert any(i == "COPY" and a.startswith("--from=build /opt/bridgeline") for i, a in runtime)
    assert not any(i == "RUN" and "pip install" in a for i, a in runtime), (
        "the runtime stage installs nothing"
    )
    users = [a for i, a in runtime if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    position = {i: n for n, (i, _) in enumerate(runtime)}
    assert position["USER"] < position["ENTRYPOINT"] and position["USER"] < position["CMD"]
    health = next(a for i, a in runtime if i == "HEALTHCHECK")
    assert "--interval=" in health and "/healthz" in health
    assert ("EXPOSE", "8080") in runtime
    assert ("ENTRYPOINT", '["bridgeline"]') in runtime and ("CMD", '["run"]') in runtime
    assert ("STOPSIGNAL", "SIGTERM") in runtime
    env = " ".join(a for i, a in found if i in ("ENV", "ARG", "LABEL"))
    assert "BRIDGELINE_CONFIG=/etc/bridgeline/bridgeline.yaml" in env
    for assignment in re.findall(r"([A-Z_]+)=", env):
        assert not SECRETISH.search(assignment) or assignment.endswith("_FILE"), f"{assignment} baked in"
    for i, a in found:
        if i in ("COPY", "ADD"):
            sources = [s for s in a.split() if not s.startswith("--")][:-1]
            for source in sources:
                assert not re.search(r"(\.env|secret|credential|\.pem|\.key)", source, re.I), source
                if i == "COPY" and "--from" not in a:
                    assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_the_build_context_leaves_out_state_and_secrets() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "**"  # everything is left out unless named
    for needed in ("!pyproject.toml", "!README.md", "!src/", "!mappings/"):
        assert needed in rules
    for never in ("**/*.db", "**/.env"):
        assert never in rules


def test_the_healthcheck_command_passes_on_a_healthy_server_and_fails_otherwise() -> None:
    health = next(a for i, a in instructions(ROOT / "Dockerfile") if i == "HEALTHCHECK")
    command = yaml.safe_load(health[health.index("CMD") + 3 :].strip())  # the exec form is a JSON list
    assert command[0] == "python"

    async def ok(scope: Any, receive: Any, send: Any) -> None:
        status = 200 if scope["path"] == "/healthz" else 404
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    with ServedApp(ok) as served:
        env = {**os.environ, "BRIDGELINE_SERVER__PORT": str(served.port)}
        assert subprocess.run([sys.executable, *command[1:]], env=env, timeout=20).returncode == 0
    env = {**os.environ, "BRIDGELINE_SERVER__PORT": str(served.port)}  # nothing listens there now
    failed = subprocess.run([sys.executable, *command[1:]], env=env, timeout=20, capture_output=True)
    assert failed.returncode != 0


# -- Helm chart ------------------------------------------------------------------------------------


def render(values: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Manifests by kind; with ``helm`` when it is installed."""
    helm = shutil.which("helm")
    if helm:
        args = [helm, "template", "bridgeline", str(CHART)]
        for key, value in _flatten(values or {}):
            args += ["--set-json", f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise Fail(done.stderr)
        texts = [done.stdout]
    else:
        texts = list(render_chart(CHART, values).values())
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for text in texts:
        for doc in yaml.safe_load_all(text):
            if doc:
                by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        name = prefix + key.replace(".", "\\.")
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, name + "."))
        else:
            out.append((name, value))
    return out


def container(manifests: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    (deployment,) = manifests["Deployment"]
    (main,) = deployment["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = main
    return result


def test_the_chart_runs_replicas_on_postgresql_with_probes_and_secret_references() -> None:
    manifests = render()
    assert sorted(manifests) == ["ConfigMap", "Deployment", "Service"]
    (deployment,) = manifests["Deployment"]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["terminationGracePeriodSeconds"] >= 60  # in-flight work finishes after SIGTERM
    main = container(manifests)
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["ports"][0] == {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    assert main["securityContext"]["readOnlyRootFilesystem"] is True

    env = {e["name"]: e.get("value") for e in main["env"]}
    for name in env:
        assert not SECRETISH.search(name) or name.endswith("_FILE"), (
            f"{name} carries a secret in the manifest"
        )
    mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert env["BRIDGELINE_DATABASE_URL_FILE"] == mounts["database"] + "/url"
    assert volumes["database"]["secret"]["secretName"] == "bridgeline-database"
    for name in ("BRIDGELINE_JIRA__API_TOKEN_FILE", "BRIDGELINE_SERVICENOW__PASSWORD_FILE"):
        assert env[name].startswith(mounts["credentials"] + "/")
    assert volumes["credentials"]["secret"]["secretName"] == "bridgeline-credentials"
    assert volumes["mappings"]["configMap"]["name"] == "bridgeline-mappings"
    assert (
        mounts["mappings"] == "/etc/bridgeline/mappings"
        and env["BRIDGELINE_MAPPINGS"] == '["/etc/bridgeline/mappings"]'
    )

    (service,) = manifests["Service"]
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_the_chart_configuration_is_one_bridgeline_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = (ROOT / "mappings" / "servicenow-release.yaml").read_text(encoding="utf-8")
    manifests = render({"mappings": {"servicenow-release.yaml": mapping}})
    maps = {m["metadata"]["name"]: m["data"] for m in manifests["ConfigMap"]}
    assert maps["bridgeline-mappings"]["servicenow-release.yaml"].strip() == mapping.strip()
    config = tmp_path / "bridgeline.yaml"
    config.write_text(maps["bridgeline-config"]["bridgeline.yaml"], encoding="utf-8")
    env = {e["name"]: e["value"] for e in container(manifests)["env"]}
    for name, value in env.items():
        if name.endswith("_FILE"):  # the mounted Secret keys, as files
            secret = tmp_path / Path(value).name
            secret.write_text("postgresql+psycopg://u:p@db/bridgeline" if "DATABASE" in name else "s3cret")
            monkeypatch.setenv(name, str(secret))
        elif name != "BRIDGELINE_CONFIG":
            monkeypatch.setenv(name, value)
    settings = load_settings(config)
    assert settings.jira is not None and settings.jira.api_token is not None
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.server.host == "0.0.0.0" and settings.mappings == [Path("/etc/bridgeline/mappings")]


def test_the_chart_options() -> None:
    with pytest.raises(Fail, match="needs PostgreSQL"):
        render({"database": {"existingSecret": ""}})
    single = render({"replicaCount": 1, "database": {"existingSecret": ""}})
    env = {e["name"]: e.get("value") for e in container(single)["env"]}
    assert env["BRIDGELINE_DATABASE_URL"].startswith("sqlite:////var/lib/bridgeline/")

    monitored = render({"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}})
    (monitor,) = monitored["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert (
        monitor["spec"]["endpoints"][0]["port"] == "http"
        and monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    )
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    (service,) = monitored["Service"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()

    external = render({"existingMappingsConfigMap": "team-mappings"})
    assert [m["metadata"]["name"] for m in external["ConfigMap"]] == ["bridgeline-config"]
    volumes = {v["name"]: v for v in external["Deployment"][0]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["mappings"]["configMap"]["name"] == "team-mappings"


@pytest.mark.skipif(shutil.which("helm") is None, reason="helm is not installed; the stand-in renders above")
def test_helm_lints_the_chart() -> None:
    done = subprocess.run(["helm", "lint", str(CHART)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# -- systemd -------------------------------------------------------------------------------------


def unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def test_the_systemd_unit_runs_unprivileged_reloads_on_hup_and_stops_gracefully() -> None:
    sections = unit(ROOT / "deploy" / "systemd" / "bridgeline.service")
    assert {"Unit", "Service", "Install"} <= set(sections)
    service = dict(sections["Service"])
    program, *args = shlex.split(service["ExecStart"])
    assert Path(program).name == "bridgeline" and Path(program).is_absolute() and args == ["run"]
    assert "-HUP" in service["ExecReload"] and "$MAINPID" in service["ExecReload"]
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 60
    assert service["User"] not in ("root", "0") and service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    environment = [v for k, v in sections["Service"] if k == "Environment"]
    credentials = {v.split(":", 1)[0] for k, v in sections["Service"] if k == "LoadCredential"}
    for assignment in environment:
        name, _, value = assignment.partition("=")
        if SECRETISH.search(name):
            assert name.endswith("_FILE") and value.startswith("%d/") and value[3:] in credentials
    assert "BRIDGELINE_CONFIG=/etc/bridgeline/bridgeline.yaml" in environment
    assert dict(sections["Install"])["WantedBy"] == "multi-user.target"

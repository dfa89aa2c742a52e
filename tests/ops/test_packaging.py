"""Packaging: the Dockerfile's structure, the version the chart ships, the systemd unit's basics.

The Dockerfile is read here (test_image.py builds and runs it); the Helm chart is rendered and
checked in test_helm.py, the systemd unit verified and run in test_systemd.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bridgeline.sim import ServedApp

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
    assert build[0][1] == "${BASE_IMAGE} AS build" and runtime[0][1] == "${BASE_IMAGE} AS runtime"
    args = dict(a.split("=", 1) for i, a in found if i == "ARG" and "=" in a)
    assert args["BASE_IMAGE"] == "python:${PYTHON_VERSION}-slim"
    locked = [a for i, a in build if i == "RUN" and "pip install" in a]
    assert locked and all("--require-hashes" in a or "--no-deps" in a for a in locked)
    assert any("--require-hashes" in a and "requirements.lock" in a for a in locked)
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


# -- versions -------------------------------------------------------------------------------------


def test_the_version_is_declared_once_and_the_chart_ships_it() -> None:
    import tomllib

    import bridgeline

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert bridgeline.__version__ == version  # read from the installed metadata
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert str(chart["appVersion"]) == version, "deploy/helm/bridgeline/Chart.yaml: appVersion"
    source = (ROOT / "src" / "bridgeline" / "__init__.py").read_text(encoding="utf-8")
    assert version not in source
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")

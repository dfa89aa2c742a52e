"""The install users do: the wheel, without extras, in a fresh venv outside the checkout.

Twice: once resolved from the open ranges pyproject.toml declares (what ``pip install bridgeline``
gives a user today), once from requirements.lock with hashes required (what the image installs).
Each runs the commands of a first hour from an empty folder, so a runtime dependency that only the
``[test]`` extra brings, or a file missing from the wheel, fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

pytestmark = pytest.mark.slow


def run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without bridgeline's settings, the checkout or a venv on its paths."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BRIDGELINE_", "PYTHON", "VIRTUAL_ENV")) or k == "PYTHONUNBUFFERED"
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT)],
        cwd=dist, env=clean_env())  # fmt: skip
    (built,) = dist.glob("bridgeline-*.whl")
    return built


@pytest.fixture(params=["open-ranges", "locked"])
def installed(request: pytest.FixtureRequest, wheel: Path, tmp_path: Path) -> Iterator[Path]:
    """The ``bin`` folder of a fresh venv holding the wheel and nothing of the test extra."""
    venv = tmp_path / "venv"
    env = clean_env()
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--quiet", "--disable-pip-version-check"]
    if request.param == "locked":
        lock = ROOT / "requirements.lock"
        run([*pip, "install", "--require-hashes", "--no-deps", "--only-binary", ":all:", "-r", str(lock)],
            cwd=tmp_path, env=env)  # fmt: skip
        run([*pip, "install", "--no-deps", "--no-index", str(wheel)], cwd=tmp_path, env=env)
    else:
        run([*pip, "install", str(wheel)], cwd=tmp_path, env=env)
    run([*pip, "check"], cwd=tmp_path, env=env)
    installed = run([*pip, "list", "--format", "freeze"], cwd=tmp_path, env=env)
    extras = {canonical(Requirement(r).name) for r in PROJECT["optional-dependencies"]["test"]}
    runtime = {canonical(Requirement(r).name) for r in PROJECT["dependencies"]}
    present = {canonical(line.split("==")[0]) for line in installed.splitlines() if "==" in line}
    # what the test extra brings (greenlet came in through playwright once) is not there to lean on
    assert not (extras - runtime) & present, f"test tools installed: {(extras - runtime) & present}"
    yield venv / "bin"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_installed_wheel_runs_a_first_hour_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    here = tmp_path / "empty"
    here.mkdir()
    bridgeline = str(installed / "bridgeline")
    env = clean_env()

    assert run([bridgeline, "--version"], cwd=here, env=env).strip() == f"bridgeline {PROJECT['version']}"
    shipped = Path(
        run([str(installed / "python"), "-c", "import bridgeline, pathlib; "
             "print(pathlib.Path(bridgeline.__file__).parent / '_mappings')"], cwd=here, env=env).strip()
    )  # fmt: skip
    assert sorted(p.name for p in shipped.glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "mappings").glob("*.yaml")
    )

    check_env = clean_env(
        BRIDGELINE_JIRA__API_TOKEN="install-check",
        BRIDGELINE_SERVICENOW__PASSWORD="install-check",
        BRIDGELINE_MAPPINGS=json.dumps(
            [str(shipped / f"servicenow-{m}.yaml") for m in ("release", "hotfix")]
        ),
    )
    example = ROOT / "config" / "bridgeline.example.yaml"
    out = run([bridgeline, "config", "check", "--offline", "--config", str(example)], cwd=here, env=check_env)
    assert "problem" not in out, out

    db = tmp_path / "state" / "bridgeline.db"
    db.parent.mkdir()
    out = run(
        [bridgeline, "db", "upgrade"], cwd=here, env=clean_env(BRIDGELINE_DATABASE_URL=f"sqlite:///{db}")
    )
    assert "newest schema" in out and db.exists()

    out = run([bridgeline, "mappings", "validate", str(shipped)], cwd=here, env=env)
    out = run([bridgeline, "mappings", "test", str(shipped)], cwd=here, env=env)
    assert re.search(r"\b\d+ passed, 0 failed", out), out

    out = run([bridgeline, "demo"], cwd=here, env=env, timeout=300)
    assert re.search(r"\bCHG00\d{5}\b", out) and re.search(r"\bCRQ\d{12}\b", out), out
    assert (here / ".demo").is_dir()


def test_the_lock_holds_every_runtime_dependency_within_its_declared_range() -> None:
    """requirements.lock is refreshed with `make lock` whenever pyproject.toml's ranges change."""
    pins = {
        canonical(m.group(1)): Version(m.group(2))
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    }
    for line in PROJECT["dependencies"]:
        req = Requirement(line)
        name = canonical(req.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {req.specifier}: run `make lock`"
        )
        for extra in req.extras:  # sqlalchemy[asyncio] brings greenlet
            assert extra != "asyncio" or "greenlet" in pins
    text = (ROOT / "requirements.lock").read_text()
    assert all("--hash=sha256:" in block for block in re.split(r"\n(?=[A-Za-z])", text) if "==" in block)
    build = (ROOT / "requirements-build.lock").read_text()
    backend = Requirement(tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"][0])
    pinned = re.search(rf"^{backend.name}==(\S+)", build, re.M)
    assert pinned and backend.specifier.contains(pinned.group(1)), "requirements-build.lock: run `make lock`"

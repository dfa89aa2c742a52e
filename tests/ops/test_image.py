"""The container image, built from the Dockerfile as shipped and run as its unprivileged user.

Built with buildah (Debian's package). No image registry needs to be reachable: the base is a
Debian made here with debootstrap (python3 and its venv module, this machine's CA bundle so that a
TLS-intercepting proxy between the build and PyPI is trusted), passed as the Dockerfile's
``BASE_IMAGE``, and the build runs with ``--pull-never``. The container then runs against the
simulators on the host's loopback: its HEALTHCHECK command and ``/readyz`` pass, a Jira release
becomes a change request, and SIGTERM ends it with 0.

Skipped, with the reason, only where the builder cannot run at all (no buildah or debootstrap, not
root); `.ci/run` installs both.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import support

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
BASE = os.environ.get("BRIDGELINE_TEST_IMAGE_BASE", "localhost/bridgeline-test-base:bookworm")
MIRROR = os.environ.get("BRIDGELINE_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")

pytestmark = pytest.mark.slow


def _cannot_build() -> str | None:
    if shutil.which("buildah") is None:
        return "buildah is not installed (apt-get install buildah debootstrap)"
    if os.geteuid() != 0:
        return "buildah builds and runs the image here as root only"
    exists = subprocess.run(["buildah", "inspect", "--type", "image", BASE], capture_output=True, check=False)
    if exists.returncode != 0 and shutil.which("debootstrap") is None:
        return f"no base image {BASE} and no debootstrap to make one (apt-get install debootstrap)"
    return None


def sh(*args: str, timeout: float = 900) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    with open(Path(tempfile.gettempdir()) / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_base() -> None:
    """A Debian base made with debootstrap, once per machine (kept in buildah's storage)."""
    with _locked("bridgeline-test-base"):
        if (
            subprocess.run(["buildah", "inspect", "--type", "image", BASE], capture_output=True).returncode
            == 0
        ):
            return
        with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
            rootfs = Path(tmp) / "rootfs"
            sh("debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
               "bookworm", str(rootfs), MIRROR)  # fmt: skip
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for path in (rootfs / junk).glob("*"):
                    if path.is_file():
                        path.unlink()
            host_cas = Path("/etc/ssl/certs/ca-certificates.crt")
            if host_cas.is_file():
                shutil.copyfile(host_cas, rootfs / "etc/ssl/certs/ca-certificates.crt")
            work = sh("buildah", "from", "scratch").strip()
            try:
                mount = sh("buildah", "mount", work).strip()
                sh("cp", "-a", f"{rootfs}/.", mount + "/")
                sh("buildah", "umount", work)
                env = ["--env", "LANG=C.UTF-8", "--env", "PIP_CERT=/etc/ssl/certs/ca-certificates.crt"]
                sh("buildah", "config", *env, "--cmd", "/bin/bash", work)
                sh("buildah", "commit", "--quiet", work, BASE)
            finally:
                subprocess.run(["buildah", "rm", work], capture_output=True)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    problem = _cannot_build()
    if problem:
        pytest.skip(problem)
    ensure_base()
    tag = f"localhost/bridgeline-test:{uuid.uuid4().hex[:10]}"
    build = ["buildah", "build", "--quiet", "--pull-never", "--layers", "--isolation", "chroot"]
    args = [f"BASE_IMAGE={BASE}", f"VERSION={VERSION}", "REVISION=test"]
    sh(*build, "--format", "docker", *(f"--build-arg={a}" for a in args), "-t", tag, str(ROOT), timeout=1800)
    try:
        yield tag
    finally:
        subprocess.run(["buildah", "rmi", tag], capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                out += [int(child), *descendants(int(child))]
    return out


def uid_of(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def test_the_image_runs_unprivileged_syncs_a_release_and_stops_cleanly_on_sigterm(
    image: str, tmp_path: Path
) -> None:
    config: dict[str, Any] = json.loads(sh("buildah", "inspect", "--type", "image", image))
    docker = config["Docker"]["config"]
    labels = docker["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.revision"] == "test"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    user = docker["User"]
    assert user.split(":")[0] not in ("", "0", "root")
    health = docker["Healthcheck"]["Test"]
    assert health[0] == "CMD"
    command = docker["Entrypoint"] + docker["Cmd"]

    port = free_port()
    with support.served_sims() as sims:
        values = support.settings_values(sims, "sqlite:////var/lib/bridgeline/bridgeline.db")
        values["mappings"] = ["/etc/bridgeline/mappings"]
        settings = support.write_config(tmp_path, values)
        settings.chmod(0o644)  # read by the image's user, not root
        name = f"bridgeline-test-{uuid.uuid4().hex[:10]}"
        sh("buildah", "from", "--pull-never", "--name", name, image)
        common = ["--isolation", "chroot", "--network", "host", "--user", user,
                  "-e", f"BRIDGELINE_SERVER__PORT={port}"]  # fmt: skip
        mounts = [
            f"--volume={settings}:/etc/bridgeline/bridgeline.yaml:ro",
            f"--volume={support.MAPPINGS}:/etc/bridgeline/mappings:ro",
        ]
        log = tmp_path / "container.log"
        try:
            with log.open("wb") as sink:
                daemon = subprocess.Popen(
                    ["buildah", "run", *common, *mounts, name, "--", *command],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            try:
                _until(lambda: _healthy(common, name, health[1:]), daemon, log, "its HEALTHCHECK passes")
                _until(lambda: _ready(port), daemon, log, "/readyz answers 200")
                _until(lambda: bool(sims.change_requests()), daemon, log, "a release is a change request")
                processes = [p for p in descendants(daemon.pid) if uid_of(p) == int(user.split(":")[0])]
                assert processes, "the daemon does not run as the image's user"
                os.kill(processes[-1], signal.SIGTERM)
                assert daemon.wait(timeout=120) == 0, log.read_text()[-4000:]
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait(timeout=30)
        finally:
            subprocess.run(["buildah", "rm", name], capture_output=True)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines, "the image logs JSON lines"
    assert not [e for e in lines if e.get("level") in ("error", "critical")], log.read_text()[-4000:]


def _healthy(common: list[str], name: str, test: list[str]) -> bool:
    done = subprocess.run(["buildah", "run", *common, name, "--", *test], capture_output=True, timeout=60)
    return done.returncode == 0


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _until(check: Any, daemon: subprocess.Popen[bytes], log: Path, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, f"the container exited {daemon.returncode}:\n{log.read_text()[-4000:]}"
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"not reached in {timeout}s: {what}\n{log.read_text()[-4000:]}")

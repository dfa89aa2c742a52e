"""`bridgeline run` behind a corporate proxy that refuses: it stays up, says why, stops cleanly."""

from __future__ import annotations

import importlib.util
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .test_daemon import bridgeline_run, daemon_config, free_port


def _proxy() -> Any:
    name = "bridgeline_test_proxy"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parents[1] / "connectors" / "proxy.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].LoopbackProxy


def test_a_proxy_refusing_connect_leaves_the_daemon_up_saying_why(sims: Any, tmp_path: Path) -> None:
    port = free_port()
    config = daemon_config(sims, tmp_path, port)
    text = config.read_text(encoding="utf-8").replace(sims.jira_url, "https://jira.example.test")
    config.write_text(text, encoding="utf-8")
    with _proxy()("refuse") as proxy:
        # the simulators on loopback are reached directly; everything else through the proxy
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": "127.0.0.1,localhost"}
        with bridgeline_run(config, port, env, tmp_path / "bridgeline.log") as daemon:
            # an unreachable system does not make a replica unready (webhooks need only the database)
            _until(lambda: _said(daemon, "jira: the HTTP proxy refused the connection"), daemon)
            _until(lambda: _healthy(daemon), daemon)
            assert "Traceback" not in daemon.log.read_text()
            daemon.proc.send_signal(signal.SIGTERM)
            assert daemon.proc.wait(30) == 0
    assert any(line.startswith("CONNECT jira.example.test:443") for line in proxy.seen)


def _healthy(daemon: Any) -> bool | None:
    try:
        return daemon.get("/healthz").status_code == 200 or None
    except httpx.TransportError:
        return None


def _said(daemon: Any, text: str) -> bool | None:
    return any(text in str(line.get("error", "")) for line in daemon.lines()) or None


def _until(check: Callable[[], Any], daemon: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.proc.poll() is None, f"bridgeline exited:\n{daemon.log.read_text()[-3000:]}"
        found = check()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not reached in {timeout}s\n{daemon.log.read_text()[-3000:]}")

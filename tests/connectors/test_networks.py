"""The networks ops teams have: proxies (from the environment or per system), NO_PROXY, a company CA,
a proxy that refuses, a URL without a scheme. Over real sockets on loopback: a proxy, a server."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from bridgeline.connectors.http import HttpClient, RetryPolicy
from bridgeline.errors import ConfigError, RemoteUnavailable
from bridgeline.sim import ServedApp


def _load_proxy() -> Any:
    name = "bridgeline_test_proxy"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "proxy.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


LoopbackProxy = _load_proxy().LoopbackProxy
ONCE = RetryPolicy(attempts=1)


async def hello(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = json.dumps({"path": scope["path"]}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(autouse=True)
def _no_ambient_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[str]:
    with ServedApp(hello) as served:
        yield served.url


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server whose certificate a private CA signed, and that CA's bundle."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "company-ca.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    ca.cert_pem.write_to_path(str(cafile))
    with ServedApp(hello, certfile=str(certfile), keyfile=str(keyfile)) as served:
        yield f"https://localhost:{served.port}", cafile


async def get(client: HttpClient, path: str = "/rest/api/3/serverInfo") -> Any:
    try:
        return (await client.request("GET", path)).json()
    finally:
        await client.aclose()


async def test_a_proxy_that_refuses_connect_is_named_as_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackProxy("refuse") as proxy:
        configured = HttpClient("jira", "https://jira.example.test", proxy=proxy.url, retry=ONCE)
        with pytest.raises(RemoteUnavailable) as info:
            await get(configured)
        assert info.value.reason == "proxy" and not info.value.maybe_applied
        assert "jira: the HTTP proxy refused the connection (GET /rest/api/3/serverInfo)" in str(info.value)
        assert "HTTPS_PROXY" in str(info.value) and "jira.proxy" in str(info.value)

        monkeypatch.setenv("HTTPS_PROXY", proxy.url)  # the environment's proxy, as most hosts set it
        with pytest.raises(RemoteUnavailable, match="the HTTP proxy refused"):
            await get(HttpClient("servicenow", "https://acme.service-now.com", retry=ONCE))
        assert proxy.seen == [
            "CONNECT jira.example.test:443 HTTP/1.1",
            "CONNECT acme.service-now.com:443 HTTP/1.1",
        ]


async def test_calls_go_through_the_configured_proxy_and_no_proxy_bypasses_it(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LoopbackProxy() as proxy:
        assert await get(HttpClient("jira", server, proxy=proxy.url)) == {"path": "/rest/api/3/serverInfo"}
        assert proxy.seen == [f"GET {server}/rest/api/3/serverInfo HTTP/1.1"]

        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        assert await get(HttpClient("jira", server), "/a") == {"path": "/a"}
        assert proxy.seen[-1] == f"GET {server}/a HTTP/1.1"

        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        assert await get(HttpClient("jira", server), "/b") == {"path": "/b"}
        assert len(proxy.seen) == 2  # straight to the server


async def test_a_company_ca_through_a_tunnel(tls_server: tuple[str, Path]) -> None:
    url, cafile = tls_server
    with LoopbackProxy() as proxy:
        trusted = HttpClient("remedy", url, verify=str(cafile), proxy=proxy.url)
        assert await get(trusted, "/api/jwt/login") == {"path": "/api/jwt/login"}
        assert proxy.seen == [f"CONNECT {url.removeprefix('https://')} HTTP/1.1"]


async def test_an_untrusted_certificate_says_which_setting_trusts_it(tls_server: tuple[str, Path]) -> None:
    url, _ = tls_server
    with pytest.raises(RemoteUnavailable) as info:
        await get(HttpClient("remedy", url, retry=ONCE))
    assert info.value.reason == "tls"
    message = str(info.value)
    assert message.startswith("remedy: TLS verification failed (GET /rest/api/3/serverInfo): ")
    assert "certificate" in message and "set remedy.verify to the CA bundle" in message


async def test_a_url_without_a_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"jira: cannot call example\.atlassian\.net.*needs https://"):
        await get(HttpClient("jira", "example.atlassian.net", retry=ONCE))


def test_a_ca_bundle_that_is_not_there_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"servicenow\.verify: no usable CA bundle at '.*missing\.pem'"):
        HttpClient("servicenow", "https://acme.service-now.com", verify=str(tmp_path / "missing.pem"))

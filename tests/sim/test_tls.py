"""``--https``: each simulator serves TLS with a CA and certificate made at start, and prints the CA
file; clients verify the chain against it (never verify=False)."""

from __future__ import annotations

import ssl
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pysnc import ServiceNowClient

from bridgeline.sim import TLSError, make_tls_files, serve_in_thread
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraSimulator
from bridgeline.sim.servicenow import INTEGRATION

from .conftest import RunningSim, free_port


def _strict(ca: Path) -> ssl.SSLContext:
    """Verification as strict as Python 3.13's default: a chain a sloppy certificate would fail."""
    context = ssl.create_default_context(cafile=str(ca))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


@pytest.fixture(autouse=True)
def _trust_only_the_printed_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests (under pysnc) lets these variables override the verify= it is given
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def test_the_files_form_a_chain_that_verifies_for_127_0_0_1_and_localhost(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "tls")
    sim = JiraSimulator()
    with serve_in_thread(sim.app, certfile=str(files.cert), keyfile=str(files.key)) as served:
        for host in ("127.0.0.1", "localhost"):
            url = f"https://{host}:{served.port}/rest/api/2/myself"
            assert httpx.get(url, auth=INTEGRATION_CLOUD, verify=_strict(files.ca)).status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{served.port}/rest/api/2/serverInfo")  # not a public CA's


def test_the_files_are_kept_and_reused_while_they_are_valid(tmp_path: Path) -> None:
    first = make_tls_files(tmp_path)
    ca = first.ca.read_bytes()
    again = make_tls_files(tmp_path)
    assert again == first and again.ca.read_bytes() == ca
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ca-key.pem",
        "ca.pem",
        "server-key.pem",
        "server.pem",
    ]
    first.cert.unlink()  # a missing (or expiring) certificate: a new CA and certificate
    assert make_tls_files(tmp_path).ca.read_bytes() != ca


def test_without_openssl_the_error_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TLSError, match=r"needs the openssl command.*--tls-cert and --tls-key"):
        make_tls_files(tmp_path / "tls")


def test_servicenow_https_is_driven_by_pysnc_against_the_printed_ca(
    run_sim: Callable[..., RunningSim],
) -> None:
    port = free_port()
    running = run_sim("servicenow", "--port", str(port), "--https")
    url = running.line(r"ServiceNow simulator on (https://\S+)").group(1)
    ca = Path(running.line(r"CA certificate: (\S+)").group(1))
    assert url == f"https://127.0.0.1:{port}" and ca.is_file()
    running.wait_until_up(url + "/_sim/settings", ca)

    client = ServiceNowClient(url, INTEGRATION, verify=str(ca))
    gr = client.GlideRecord("change_request")
    gr.add_query("number", "CHG0030003")
    gr.query()
    assert [r.get_display_value("state") for r in gr] == ["Assess"]
    client.session.close()

    assert running.stop() == 0
    assert not ca.parent.exists()  # the throwaway CA goes with the process


@pytest.mark.parametrize(
    ("simulator", "banner", "probe"),
    [
        ("jira", r"Jira simulator \(cloud\) on (https://\S+)", "/rest/api/2/serverInfo"),
        ("remedy", r"BMC Remedy simulator on (https://\S+)", "/api/arsys/v1/entry/COM:Company"),
    ],
)
def test_jira_and_remedy_https_with_a_kept_tls_folder(
    simulator: str, banner: str, probe: str, tmp_path: Path, run_sim: Callable[..., RunningSim]
) -> None:
    folder = tmp_path / "tls"
    running = run_sim(simulator, "--port", str(free_port()), "--https", "--tls-dir", str(folder))
    url = running.line(banner).group(1)
    ca = Path(running.line(r"CA certificate: (\S+)").group(1))
    assert ca == folder / "ca.pem"
    running.wait_until_up(url + "/", ca)
    answer = httpx.get(url + probe, verify=_strict(ca))
    assert answer.status_code in (200, 401), answer.text  # TLS verified; the API answered
    assert running.stop() == 0
    assert ca.is_file()  # kept for the next start, so clients keep trusting the same CA


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--https", "--tls-cert", "c.pem", "--tls-key", "k.pem"], "--https makes its own certificate"),
        (["--tls-dir", "tls"], "--tls-dir goes with --https"),
        (["--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
    ],
)
@pytest.mark.parametrize("simulator", ["jira", "servicenow", "remedy"])
def test_conflicting_tls_options_are_refused_with_what_to_fix(
    simulator: str, options: list[str], message: str, run_sim: Callable[..., RunningSim]
) -> None:
    running = run_sim(simulator, "--port", str(free_port()), *options)
    assert running.process.wait(timeout=30) == 2
    running.line(message)

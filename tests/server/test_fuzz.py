"""Thousands of hostile requests to every endpoint of a running ``bridgeline run``, signed and
unsigned, with and without credentials, over a real socket: none is answered with a 5xx (a 503
only while the replica says it is not ready), and every refusal that is JSON says what is wrong.

``BRIDGELINE_TEST_FUZZ_EXAMPLES`` sets the requests per endpoint (default 2000).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgeline.connectors.jira.webhooks import sign
from bridgeline.connectors.servicenow import signature

from .conftest import support

EXAMPLES = int(os.environ.get("BRIDGELINE_TEST_FUZZ_EXAMPLES", "2000"))
ADMIN = "fuzz-admin-token-0c5e"
METRICS = "fuzz-metrics-token-8a1d"
JIRA_HOOK = "fuzz-jira-hook-51b7"
SNOW_HOOK = "fuzz-snow-hook-2e94"
SNOW_TOKEN = "fuzz-snow-token-d3f0"


@dataclass
class Running:
    url: str
    http: httpx.Client
    session: str
    log: Path

    def ready(self) -> bool:
        return self.http.get("/readyz").status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def bridgeline(database_url: str, tmp_path: Path) -> Iterator[Running]:
    """``bridgeline run`` on each database; tests whose requests never reach it take SQLite only."""
    yield from _running(tmp_path, database_url)


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "database_url",
    [
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not os.environ.get("BRIDGELINE_TEST_DATABASE_URL"),
                    reason="BRIDGELINE_TEST_DATABASE_URL is not set",
                ),
            ],
        )
    ],
    indirect=True,
)


def _running(folder: Path, database_url: str) -> Iterator[Running]:
    port = _free_port()
    with support.served_sims() as sims:
        values = support.settings_values(
            sims,
            database_url,
            jira={"webhook_secret": JIRA_HOOK, "poll_interval": 3600},
            servicenow={"webhook_secret": SNOW_HOOK, "webhook_token": SNOW_TOKEN},
            worker={"max_attempts": 1, "poll_idle": 0.5, "concurrency": 2},
            server={
                "port": port,
                "admin_token": ADMIN,
                "metrics_token": METRICS,
                "max_body_bytes": 65536,
                "sign_in_attempts": 1_000_000,  # guesses are what this test makes: none is blocked
            },
            log_format="json",
            log_level="error",
        )
        config = support.write_config(folder, values)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGELINE_")}
        log = folder / "bridgeline.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bridgeline.cli", "run", "--config", str(config)],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                with httpx.Client(base_url=url, timeout=30) as http:
                    deadline = time.monotonic() + 60
                    while True:
                        assert proc.poll() is None, log.read_text()
                        try:
                            if http.get("/healthz").status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        assert time.monotonic() < deadline, log.read_text()
                        time.sleep(0.1)
                    http.post("/status/login", data={"admin_token": ADMIN, "name": "fuzz"})
                    session = http.cookies["bridgeline_session"]
                    http.cookies.clear()
                    yield Running(url, http, session, log)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        # not one request made the daemon log an unhandled exception
        assert "Exception in ASGI application" not in log.read_text(), log.read_text()[-5000:]


# -- what a hostile client sends -------------------------------------------------------------

ids = (
    st.integers(0, 10**25).map(str)
    | st.text(max_size=12)
    | st.text(alphabet="0123456789", min_size=290, max_size=420)
    | st.text(alphabet="ABC-1", min_size=1, max_size=400)
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=16)
    | ids,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def jira_payload(draw: st.DrawFn) -> Any:
    event = draw(
        st.sampled_from(
            ["jira:issue_updated", "jira:version_released", "comment_created", "jira:version_merged", "other"]
        )
        | st.text(max_size=20)
    )
    issue = {
        "id": draw(ids | json_values),
        "key": draw(ids | st.just("PAY-1")),
        "self": "https://jira.example/rest/api/2/issue/" + draw(ids),
        "fields": {
            "fixVersions": draw(st.lists(st.fixed_dictionaries({"id": ids | json_values}), max_size=3)),
            "project": {"key": draw(ids | st.just("PAY"))},
            **draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3)),
        },
    }
    version = {"id": draw(ids | json_values), "self": "https://jira.example/rest/api/2/version/" + draw(ids)}
    return {
        "webhookEvent": event,
        "timestamp": draw(json_values),
        "issue": draw(st.just(issue) | json_values),
        "version": draw(st.just(version) | json_values),
        "comment": {"self": "https://jira.example/rest/api/2/issue/" + draw(ids) + "/comment/1"},
        "changelog": {"items": [{"field": "Fix Version", "from": draw(ids), "to": draw(ids)}]},
    }


@st.composite
def servicenow_payload(draw: st.DrawFn) -> Any:
    return {
        "table": draw(st.sampled_from(["change_request", "change_task"]) | json_values),
        "sys_id": draw(ids | json_values),
        "sys_updated_by": draw(st.sampled_from(["alex.mercer", "bridgeline.integration"]) | json_values),
        **draw(st.dictionaries(st.sampled_from(["number", "operation", "sys_mod_count"]), json_values)),
    }


@st.composite
def preview_payload(draw: st.DrawFn) -> Any:
    version = {
        "id": draw(ids),
        "name": draw(json_values),
        "description": draw(json_values),
        "released": draw(json_values),
        "archived": draw(st.booleans() | json_values),
    }
    issues = draw(st.lists(st.fixed_dictionaries({"id": ids, "key": ids, "fields": json_values}), max_size=3))
    inner = {"version": version, "project": draw(st.just({"key": "PAY"}) | json_values), "issues": issues}
    if draw(st.booleans()):
        inner["now"] = draw(st.text(max_size=30) | st.just("2026-05-04T09:00:00Z"))
    return {"mapping": draw(st.sampled_from(["ops-release", "nope"]) | json_values), "input": inner}


def _deep(levels: int) -> bytes:
    return b'{"webhookEvent": "jira:issue_updated", "a": ' + b"[" * levels + b"]" * levels + b"}"


@st.composite
def hostile_text(draw: st.DrawFn, shaped: st.SearchStrategy[Any]) -> bytes:
    """A body: the endpoint's own shape, or everything JSON and HTTP allow to go wrong."""
    kind = draw(
        st.sampled_from(["shaped", "shaped", "shaped", "surrogate", "deep", "garbage", "hello", "big"])
    )
    if kind == "shaped":
        return json.dumps(draw(shaped)).encode()
    if kind == "surrogate":
        text = json.dumps(draw(shaped))
        at = draw(st.integers(0, len(text)))
        # a lone surrogate escape inside a string, or where it breaks the syntax
        escape = draw(st.sampled_from(["\\ud800", "\\udfff", "\\ud83d", "\\ud83d\\ude00"]))
        candidate = (
            text.replace('"', '"' + escape, 1) if draw(st.booleans()) else text[:at] + escape + text[at:]
        )
        return candidate.encode()
    if kind == "deep":
        return _deep(draw(st.integers(60, 20_000)))
    if kind == "garbage":
        return draw(st.binary(max_size=200))
    if kind == "hello":
        return b"hello"
    return json.dumps(
        {"webhookEvent": "jira:issue_updated", "x": "y" * draw(st.integers(60_000, 70_000))}
    ).encode()


content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/vnd.api+json",
        "garbage/;;=",
    ]
)
origins = st.sampled_from([None, "same", "https://evil.example", "null", "http://[::1", "ftp://x"])
fetch_sites = st.sampled_from([None, "same-origin", "cross-site", "same-site", "none"])
hosts = st.sampled_from([None, None, None, "attacker.example", "localhost", "[::1]:1", "a b", "10.0.0.1:80"])


@st.composite
def credentials(draw: st.DrawFn, bridgeline: Running) -> dict[str, str]:
    choice = draw(st.sampled_from(["none", "admin", "metrics", "wrong", "garbage", "session", "bad-session"]))
    return {
        "none": {},
        "admin": {"Authorization": f"Bearer {ADMIN}"},
        "metrics": {"Authorization": f"Bearer {METRICS}"},
        "wrong": {"Authorization": "Bearer " + draw(st.text(alphabet="abcdef0123", min_size=1, max_size=30))},
        "garbage": {"Authorization": draw(st.text(alphabet="Basic Bearer xyz=", max_size=30).map(str.strip))},
        "session": {"Cookie": f"bridgeline_session={bridgeline.session}"},
        "bad-session": {"Cookie": "bridgeline_session=" + draw(st.text(alphabet="abcXYZ-_09", max_size=120))},
    }[choice]


@st.composite
def browser_headers(draw: st.DrawFn, bridgeline: Running) -> dict[str, str]:
    headers = dict(draw(credentials(bridgeline)))
    if (ct := draw(content_types)) is not None:
        headers["Content-Type"] = ct
    origin = draw(origins)
    if origin is not None:
        headers["Origin"] = bridgeline.url if origin == "same" else origin
    if (site := draw(fetch_sites)) is not None:
        headers["Sec-Fetch-Site"] = site
    if (host := draw(hosts)) is not None:
        headers["Host"] = host
    return headers


def check(bridgeline: Running, response: httpx.Response) -> None:
    """No 5xx but a 503 while not ready; a JSON refusal says what is wrong."""
    code = response.status_code
    if code == 503:
        assert not bridgeline.ready(), response.text
    else:
        assert code < 500, (code, response.text[:500])
    json_answer = response.headers.get("content-type", "").startswith("application/json")
    if 400 <= code < 500 and json_answer and response.request.method != "HEAD":
        answer = response.json()
        reason = answer.get("error") or answer.get("detail") if isinstance(answer, dict) else None
        assert reason, (code, response.text[:500])


def post(bridgeline: Running, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    try:
        return bridgeline.http.post(path, content=body, headers=headers)
    except httpx.RemoteProtocolError:
        # the only way to see a server close a connection early: it must have said why first
        raise AssertionError(f"{path}: the connection closed without an answer") from None


fuzzed = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
# on PostgreSQL a quarter as many: what differs there is what the database takes (ids, text)
fuzzed_on_postgresql = settings(fuzzed, max_examples=max(1, EXAMPLES // 4))


def _jira_webhook(bridgeline: Running, data: st.DataObject) -> None:
    body = data.draw(hostile_text(jira_payload()))
    headers = {"Content-Type": "application/json"}
    if data.draw(st.booleans()):
        headers["X-Hub-Signature"] = sign(JIRA_HOOK, body)
    elif data.draw(st.booleans()):
        headers["X-Hub-Signature"] = data.draw(st.sampled_from(["sha256=00", "md5=1", "", "sha256="]))
    if data.draw(st.booleans()):
        headers["X-Atlassian-Webhook-Identifier"] = data.draw(st.text(alphabet="abc-_0189", max_size=300))
    response = post(bridgeline, "/webhooks/jira", body, headers)
    check(bridgeline, response)
    if "X-Hub-Signature" not in headers or headers["X-Hub-Signature"] != sign(JIRA_HOOK, body):
        assert response.status_code in (401, 413), response.text


test_jira_webhook = SQLITE_ONLY(fuzzed(given(data=st.data())(_jira_webhook)))
test_jira_webhook_on_postgresql = POSTGRESQL_ONLY(fuzzed_on_postgresql(given(data=st.data())(_jira_webhook)))


def _servicenow_webhook(bridgeline: Running, data: st.DataObject) -> None:
    body = data.draw(hostile_text(servicenow_payload()))
    headers = {"Content-Type": "application/json"}
    how = data.draw(st.sampled_from(["signature", "token", "wrong", "none"]))
    if how == "signature":
        headers["X-Bridgeline-Signature"] = signature(SNOW_HOOK, body)
    elif how == "token":
        headers["Authorization"] = f"Bearer {SNOW_TOKEN}"
    elif how == "wrong":
        headers["Authorization"] = "Bearer " + data.draw(st.text(alphabet="xyz", min_size=1, max_size=20))
    if data.draw(st.booleans()):
        headers["X-Bridgeline-Delivery"] = data.draw(st.text(alphabet="abc-_0189", max_size=600))
    response = post(bridgeline, "/webhooks/servicenow", body, headers)
    check(bridgeline, response)
    if how in ("wrong", "none"):
        assert response.status_code in (401, 413), response.text


test_servicenow_webhook = SQLITE_ONLY(fuzzed(given(data=st.data())(_servicenow_webhook)))
test_servicenow_webhook_on_postgresql = POSTGRESQL_ONLY(
    fuzzed_on_postgresql(given(data=st.data())(_servicenow_webhook))
)


@SQLITE_ONLY
@fuzzed
@given(data=st.data())
def test_api_preview(bridgeline: Running, data: st.DataObject) -> None:
    body = data.draw(hostile_text(preview_payload()))
    check(bridgeline, post(bridgeline, "/api/preview", body, data.draw(browser_headers(bridgeline))))


@SQLITE_ONLY
@fuzzed
@given(data=st.data())
def test_status_page_preview(bridgeline: Running, data: st.DataObject) -> None:
    text = data.draw(hostile_text(preview_payload()))
    mapping = data.draw(st.sampled_from(["ops-release", "nope", ""]) | st.text(max_size=20))
    body = f"mapping={quote(mapping)}&payload=".encode() + quote(text).encode()
    if data.draw(st.booleans()):
        body = data.draw(st.binary(max_size=300))
    headers = data.draw(browser_headers(bridgeline))
    check(bridgeline, post(bridgeline, "/status/preview", body, headers))


def _forms_and_actions(bridgeline: Running, data: st.DataObject) -> None:
    path = data.draw(
        st.sampled_from(
            ["/status/login", "/status/logout", "/status/dead-letters/replay", "/status/dead-letters/drop"]
        )
        | st.builds(
            lambda e, a: f"/api/dead-letters/{quote(e, safe=':*')}/{a}",
            st.sampled_from(["*", "jira:version:10004"]) | ids,
            st.sampled_from(["replay", "drop", "explode"]),
        )
        | st.builds(lambda a: f"/status/dead-letters/{quote(a)}", st.text(max_size=10))
    )
    fields = data.draw(
        st.dictionaries(
            st.sampled_from(["admin_token", "name", "entity", "all"]),
            st.sampled_from([ADMIN, "1", "jira:version:10004"]) | st.text(max_size=40) | ids,
            max_size=4,
        )
    )
    if path == "/status/login" and data.draw(st.booleans()):
        fields["admin_token"] = "not-it"  # a session the fuzzer opens stays out of the way
    body = "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode()
    if data.draw(st.booleans()):
        body = data.draw(hostile_text(st.just(fields)))
    check(bridgeline, post(bridgeline, path, body, data.draw(browser_headers(bridgeline))))


test_forms_and_actions = SQLITE_ONLY(fuzzed(given(data=st.data())(_forms_and_actions)))
test_forms_and_actions_on_postgresql = POSTGRESQL_ONLY(
    fuzzed_on_postgresql(given(data=st.data())(_forms_and_actions))
)


@SQLITE_ONLY
@fuzzed
@given(data=st.data())
def test_pages_and_reads(bridgeline: Running, data: st.DataObject) -> None:
    path = data.draw(
        st.sampled_from(
            [
                "/",
                "/healthz",
                "/readyz",
                "/metrics",
                "/status",
                "/status/preview",
                "/api/status",
                "/api/dead-letters",
            ]
        )
    )
    query = data.draw(
        st.sampled_from(
            ["", "?notice=signed-in", "?notice=replay&entity=x&count=2", "?count=abc", "?mapping=nope"]
        )
        | st.text(alphabet="?&=%abc01", max_size=30).map(lambda q: "?" + q)
    )
    headers = data.draw(browser_headers(bridgeline))
    method = data.draw(st.sampled_from(["GET", "GET", "HEAD", "DELETE", "PUT", "OPTIONS"]))
    body = data.draw(st.just(b"") | hostile_text(json_values))
    try:
        response = bridgeline.http.request(method, path + query, content=body, headers=headers)
    except httpx.RemoteProtocolError:
        raise AssertionError(f"{method} {path}: the connection closed without an answer") from None
    check(bridgeline, response)
    anonymous = "Authorization" not in headers and "Cookie" not in headers
    if anonymous and method == "GET" and path not in ("/healthz", "/readyz", "/"):
        assert response.status_code in (400, 401, 413, 422), (path, response.status_code)

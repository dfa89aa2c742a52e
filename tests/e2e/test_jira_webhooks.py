"""``POST /webhooks/jira`` on a running bridgeline: signed deliveries from the Jira simulator become
inbox events; bad signatures, oversized and malformed bodies are refused; repeats are recognised;
an unavailable database answers 503 so Jira retries; fuzzed payloads never cause a 500."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bridgeline.config import Settings
from bridgeline.connectors.jira import WebhookSpec, ensure_webhook
from bridgeline.connectors.jira.webhooks import sign
from bridgeline.server import create_app
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import JiraSimulator
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.store import Store
from bridgeline.sync.service import Service

from .conftest import HERE, PROJECTS, Recorder, Sims, make_settings

T = TypeVar("T")
SECRET = "jira-webhook-secret"

ISSUE_MAPPING = """\
apiVersion: bridgeline/v1
kind: Mapping
metadata:
  name: e2e-issue
source:
  system: jira
  entity: issue
  projects: [PAY, WEB, OPS]
target:
  system: servicenow
  record: change_request
identity: "jira:{{ project.key }}:issue:{{ issue.id }}"
fields:
  short_description: "{{ issue.key }} {{ issue.summary }}"
"""


class Bridgeline:
    """The real service and its HTTP server, running in their own event loop on a loopback port.

    Tests are plain functions that talk to it over HTTP, and run its coroutines with :meth:`call`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bridgeline", daemon=True)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Bridgeline:
        self._thread.start()
        self.service = self.call(Service.start(self.settings))
        # bound here: the port is known at once, and TCP_NODELAY spares every answer Nagle's 40 ms
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(create_app(self.service), lifespan="off", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self._serving = asyncio.run_coroutine_threadsafe(self.server.serve(sockets=[sock]), self.loop)
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "bridgeline's server did not start"
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.webhook_url = self.url + "/webhooks/jira"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._serving.result(10)
        self.call(self.service.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def post(
        self, body: bytes, *, secret: str | None = SECRET, identifier: str | None = None
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Hub-Signature"] = sign(secret, body)
        if identifier is not None:
            headers["X-Atlassian-Webhook-Identifier"] = identifier
        return httpx.post(self.webhook_url, content=body, headers=headers, timeout=10)

    def pending(self) -> set[str]:
        rows = self.call(self.service.store.inbox_rows(state="pending", limit=10_000))
        return {r.entity for r in rows}

    def register_webhook(self, secret: str = SECRET) -> None:
        """What ``bridgeline jira register-webhook`` does, with bridgeline's own Jira client."""
        assert self.service.jira is not None
        spec = WebhookSpec(url=self.webhook_url, projects=PROJECTS, secret=secret)
        self.call(ensure_webhook(self.service.jira, spec))


def with_secret(settings: Settings, secret: str | None = SECRET, **server: Any) -> Settings:
    assert settings.jira is not None
    jira = settings.jira.model_copy(update={"webhook_secret": SecretStr(secret) if secret else None})
    update: dict[str, Any] = {"jira": jira}
    if server:
        update["server"] = settings.server.model_copy(update=server)
    return settings.model_copy(update=update)


@pytest.fixture(scope="module")
def module_sims() -> Iterator[Sims]:
    jira, snow = JiraSimulator(), ServiceNowSimulator()
    jira_rec, snow_rec = Recorder(jira.app), Recorder(snow.app)
    with ServedApp(jira_rec) as j, ServedApp(snow_rec) as s:
        yield Sims(jira, snow, j.url, s.url, snow_rec, jira_rec)


@pytest.fixture(scope="module")
def shared(module_sims: Sims, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridgeline]:
    """One running bridgeline for the endpoint's tests, with a release and an issue mapping."""
    root = tmp_path_factory.mktemp("webhooks")
    (root / "issue.yaml").write_text(ISSUE_MAPPING)
    settings = make_settings(module_sims, f"sqlite:///{root / 'bridgeline.db'}", HERE / "mappings")
    settings = with_secret(settings).model_copy(update={"mappings": [HERE / "mappings", root]})
    with Bridgeline(settings) as running:
        yield running


async def _settle(store: Store) -> None:
    while claims := await store.claim("test", limit=500, lease_seconds=60):
        for claim in claims:
            await store.complete(claim)


@pytest.fixture
def bridgeline(shared: Bridgeline, module_sims: Sims) -> Bridgeline:
    """The shared bridgeline with nothing pending, and Jira fresh (seed data, no webhooks)."""
    module_sims.jira.reset()
    module_sims.jira.webhook_options.update({"retry_base_seconds": 0.05, "retry_max_seconds": 0.2})
    shared.call(_settle(shared.service.store))
    return shared


@pytest.fixture
def sims(module_sims: Sims) -> Sims:
    return module_sims


def webhook_body(sims: Sims, key: str, event: str = "jira:issue_updated") -> bytes:
    """The payload Jira sends for ``key``: the v2 issue, even on Cloud."""
    with httpx.Client(
        base_url=sims.jira_url + "/rest/api/2", auth=("admin@example.com", "admin-token")
    ) as api:
        issue = api.get(f"/issue/{key}").json()
    return json.dumps({"timestamp": int(time.time() * 1000), "webhookEvent": event, "issue": issue}).encode()


def released_issue(sims: Sims, project: str = "PAY") -> str:
    """The key of an issue that is in at least one release."""
    with sims.jira_api() as api:
        body = api.get(
            "/search/jql", params={"jql": f"project = {project} AND fixVersion is not EMPTY ORDER BY key"}
        ).json()
        return str(api.get(f"/issue/{body['issues'][0]['id']}").json()["key"])


def issue_id(sims: Sims, key: str) -> str:
    with sims.jira_api() as api:
        return str(api.get(f"/issue/{key}").json()["id"])


def releases_of(sims: Sims, key: str) -> set[str]:
    with sims.jira_api() as api:
        return {f"jira:version:{v['id']}" for v in api.get(f"/issue/{key}").json()["fields"]["fixVersions"]}


def wait_for_deliveries(sims: Sims) -> None:
    assert sims.jira.wait_for_webhooks(15), sims.jira.dispatcher.status()


# -- deliveries from Jira ----------------------------------------------------------------------------


def test_signed_deliveries_from_jira_become_inbox_events(bridgeline: Bridgeline, sims: Sims) -> None:
    bridgeline.register_webhook()
    with sims.jira_api() as api:
        issue = api.get(f"/issue/{released_issue(sims)}").json()
        version = next(
            v for v in api.get("/project/WEB/versions").json() if not v["released"] and not v["archived"]
        )
        api.put(f"/issue/{issue['key']}", json={"fields": {"summary": "Signed"}}).raise_for_status()
        api.put(f"/version/{version['id']}", json={"description": "Scope frozen"}).raise_for_status()
        api.put("/issue/HR-1", json={"fields": {"summary": "not a configured project"}})
    wait_for_deliveries(sims)
    deliveries = sims.jira.webhook_deliveries()
    assert deliveries and all(d["state"] == "delivered" for d in deliveries)
    assert all(d["attempts"][-1]["status"] in (200, 202) for d in deliveries)
    expected = releases_of(sims, issue["key"]) | {
        f"jira:issue:{issue['id']}",
        f"jira:version:{version['id']}",
    }
    assert bridgeline.pending() == expected
    rows = bridgeline.call(bridgeline.service.store.inbox_rows(state="pending"))
    assert {r.source for r in rows} == {"webhook"}


def test_quirky_deliveries_still_name_their_entities(bridgeline: Bridgeline, sims: Sims) -> None:
    """Comments without their issue, string timestamps, Server users and unknown keys, as seen in the wild."""
    sims.jira.webhook_options.update(
        {"quirks": ["comment_without_issue", "string_timestamp", "server_users", "extra_keys"]}
    )
    bridgeline.register_webhook()
    key = released_issue(sims, "OPS")
    with sims.jira_api() as api:
        issue = api.get(f"/issue/{key}").json()
        comment = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": []}]}
        comment["content"][0]["content"] = [{"type": "text", "text": "Deploy after the freeze"}]
        api.post(f"/issue/{key}/comment", json={"body": comment}).raise_for_status()
        version = next(v for v in api.get("/project/OPS/versions").json() if not v["released"])
        api.put(f"/version/{version['id']}", json={"released": True}).raise_for_status()
    wait_for_deliveries(sims)
    events = sorted(d["event"] for d in sims.jira.webhook_deliveries())
    assert events == ["comment_created", "jira:issue_updated", "jira:version_released"]
    assert all(d["attempts"][-1]["status"] == 202 for d in sims.jira.webhook_deliveries())
    expected = releases_of(sims, key) | {f"jira:issue:{issue['id']}", f"jira:version:{version['id']}"}
    assert bridgeline.pending() == expected


def test_a_webhook_registered_with_another_secret_stores_nothing(bridgeline: Bridgeline, sims: Sims) -> None:
    bridgeline.register_webhook(secret="not-the-configured-secret")
    with sims.jira_api() as api:
        api.put("/issue/PAY-3", json={"fields": {"summary": "Forged?"}}).raise_for_status()
    wait_for_deliveries(sims)
    [delivery] = sims.jira.webhook_deliveries()
    assert [a["status"] for a in delivery["attempts"]] == [401]
    assert bridgeline.pending() == set()


def test_registering_twice_keeps_one_webhook(bridgeline: Bridgeline, sims: Sims) -> None:
    bridgeline.register_webhook()
    bridgeline.register_webhook()
    with httpx.Client(base_url=sims.jira_url, auth=("admin@example.com", "admin-token")) as api:
        hooks = api.get("/rest/webhooks/1.0/webhook").json()
    assert [h["url"] for h in hooks] == [bridgeline.webhook_url]
    assert hooks[0]["filters"]["issue-related-events-section"] == 'project in ("PAY", "WEB", "OPS")'
    assert "jira:version_released" in hooks[0]["events"] and "comment_created" in hooks[0]["events"]


# -- what the endpoint refuses ------------------------------------------------------------------------


def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(
    bridgeline: Bridgeline, sims: Sims
) -> None:
    key = released_issue(sims)
    body = webhook_body(sims, key)
    before = bridgeline.call(bridgeline.service.store.queue_depth())
    delivery = str(uuid.uuid4())
    assert bridgeline.post(body, secret="wrong", identifier=delivery).status_code == 401
    assert bridgeline.post(body, secret=None, identifier=delivery).status_code == 401
    tampered = body.replace(key.encode(), b"PAY-9999")
    response = httpx.post(
        bridgeline.webhook_url, content=tampered, headers={"X-Hub-Signature": sign(SECRET, body)}, timeout=10
    )
    assert response.status_code == 401 and "X-Hub-Signature" in response.json()["error"]
    assert bridgeline.call(bridgeline.service.store.queue_depth()) == before
    accepted = bridgeline.post(body, identifier=delivery)
    assert accepted.status_code == 202, "the refused ones were not remembered as delivered"


def test_a_repeated_delivery_is_recognised(bridgeline: Bridgeline, sims: Sims) -> None:
    key = released_issue(sims)
    body = webhook_body(sims, key)
    delivery = str(uuid.uuid4())
    first = bridgeline.post(body, identifier=delivery)
    again = bridgeline.post(body, identifier=delivery)
    entities = releases_of(sims, key) | {f"jira:issue:{issue_id(sims, key)}"}
    assert first.status_code == 202 and first.json()["accepted"] == len(entities)
    assert again.status_code == 200 and again.json() == {
        "event": "jira:issue_updated",
        "events": first.json()["events"],
        "accepted": 0,
        "duplicate": True,
    }
    rows = bridgeline.call(bridgeline.service.store.inbox_rows(state="pending"))
    assert {r.entity for r in rows} == entities
    assert all(r.events == 1 for r in rows), "the repeat added nothing"


def test_oversized_bodies_are_refused_before_they_are_read(
    sims: Sims, database_url: str, e2e_mappings: Path
) -> None:
    settings = with_secret(make_settings(sims, database_url, e2e_mappings), max_body_bytes=32_768)
    with Bridgeline(settings) as running:
        big = json.dumps({"webhookEvent": "jira:issue_updated", "pad": "x" * 40_000}).encode()
        assert running.post(big).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
            for _ in range(80):
                yield b" " * 512

        streamed = httpx.post(running.webhook_url, content=chunks(), timeout=10)
        assert streamed.status_code == 413
        assert running.post(webhook_body(sims, released_issue(sims, "OPS"))).status_code == 202


def test_malformed_json_is_a_400_with_the_reason(bridgeline: Bridgeline) -> None:
    broken = bridgeline.post(b'{"webhookEvent": "jira:issue_updated", ')
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    listed = bridgeline.post(b"[1, 2]")
    assert listed.status_code == 400 and "JSON object" in listed.json()["error"]
    binary = bridgeline.post(b"\xff\xfe\x00")
    assert binary.status_code == 400


def test_unknown_events_are_accepted_and_ignored(bridgeline: Bridgeline) -> None:
    response = bridgeline.post(json.dumps({"webhookEvent": "sprint_started", "sprint": {"id": 3}}).encode())
    assert response.status_code == 200
    assert "sprint_started" in response.json()["ignored"]
    assert bridgeline.pending() == set()


def test_an_unavailable_database_answers_503_so_jira_retries(sims: Sims, e2e_mappings: Path) -> None:
    unreachable = "postgresql+psycopg://bridgeline:pw@127.0.0.1:9/bridgeline?connect_timeout=2"
    settings = with_secret(make_settings(sims, unreachable, e2e_mappings)).model_copy(
        update={"migrate_on_start": False}
    )
    with Bridgeline(settings) as running:
        response = running.post(webhook_body(sims, released_issue(sims)), identifier="x")
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0


# -- fuzzing over HTTP ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
events = st.sampled_from(
    ["jira:issue_updated", "jira:issue_created", "comment_created", "jira:version_released", "board_created"]
)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[bytes, set[str]]:
    """A body, and the entities it must put in the inbox: any JSON, garbage, or a real event in noise."""
    kind = draw(st.sampled_from(["json", "garbage", "jira-shaped", "valid"]))
    if kind == "garbage":
        return draw(st.binary(max_size=64)), set()
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), set()
    noise = draw(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=3))
    if kind == "jira-shaped":
        payload = {
            **noise,
            "webhookEvent": draw(events),
            "issue": draw(json_values),
            "version": draw(json_values),
        }
        return json.dumps(payload).encode(), set()
    issue_id = str(draw(st.integers(1, 10**9)))
    versions = draw(st.lists(st.integers(1, 10**9).map(str), min_size=1, max_size=3, unique=True))
    issue = {
        "id": issue_id,
        "key": f"{draw(st.sampled_from(PROJECTS))}-1",
        "fields": {**noise, "fixVersions": [{"id": v, **noise} for v in versions]},
    }
    timestamp = draw(st.sampled_from([1714557600000, "1714557600000", None]))
    payload = {**noise, "webhookEvent": "jira:issue_updated", "timestamp": timestamp, "issue": issue}
    return json.dumps(payload).encode(), {f"jira:issue:{issue_id}"} | {f"jira:version:{v}" for v in versions}


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(payloads())
def test_fuzzed_deliveries_never_cause_a_500_and_never_lose_a_valid_event(
    shared: Bridgeline, case: tuple[bytes, set[str]]
) -> None:
    body, expected = case
    response = shared.post(body)
    assert response.status_code in (200, 202, 400), response.text
    if expected:
        assert response.status_code in (200, 202)
        assert expected <= shared.pending()

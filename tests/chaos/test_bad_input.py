"""Bad input loses nothing: fuzzed ServiceNow notifications never cause a 500 and never lose a valid
one, on SQLite and PostgreSQL; invalid mapping edits while the daemon works keep the previous set
live, and the work goes on."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgeline.sim import ServedApp
from bridgeline.sim.jira import JiraScale, JiraSimulator
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.store.store import storable_text

from .conftest import DATABASES, Gate, SmallWorld, database, harness, set_integration_password

running = harness.load_sibling("running")
TOKEN = "notification-token-4c1f"
ADMIN_TOKEN = "bad-input-admin-token-6d0e"
OWN_USER = "bridgeline.integration"


@pytest.fixture(scope="module")
def module_world() -> Iterator[SmallWorld]:
    jira = JiraSimulator(scale=JiraScale(projects=1, versions=4, issues=20))
    snow = ServiceNowSimulator()
    with ServedApp(jira.app) as j, ServedApp(snow.app) as s:
        set_integration_password(s.url)
        yield SmallWorld(jira, snow, j.url, s.url, Gate(snow.app))


@pytest.fixture(scope="module", params=DATABASES)
def shared(
    request: pytest.FixtureRequest, module_world: SmallWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """One running bridgeline per kind of database, taking ServiceNow notifications."""
    root = tmp_path_factory.mktemp("notifications")
    with database(request.param, root) as url:
        settings = module_world.settings(
            url, Path(__file__).parent / "mappings", servicenow={"webhook_token": TOKEN}
        )
        with running.Running(settings) as bridgeline:
            yield bridgeline


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)


@st.composite
def notifications(draw: st.DrawFn) -> tuple[bytes, str | None, str | None]:
    """A body, a delivery id, and the entity it must put in the inbox (None: nothing to store)."""
    kind = draw(st.sampled_from(["garbage", "json", "shaped", "valid", "valid"]))
    delivery = draw(
        st.none() | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
    )
    if kind == "garbage":
        return draw(st.binary(max_size=64)), delivery, None
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), delivery, None
    noise = draw(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=3))
    if kind == "shaped":
        body = {**noise, "table": draw(json_values), "sys_id": draw(json_values)}
        return json.dumps(body).encode(), delivery, None
    table = draw(st.sampled_from(["change_request", "change_task"]))
    sys_id = draw(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()))
    extra = {
        k: draw(json_values)
        for k in draw(st.lists(st.sampled_from(["number", "operation", "sys_mod_count"])))
    }
    updated_by = draw(st.sampled_from(["alex.mercer", "system", OWN_USER]))
    body = {**noise, **extra, "table": table, "sys_id": sys_id, "sys_updated_by": updated_by}
    # the entity as a database can hold it (PostgreSQL refuses NUL characters)
    expected = None if updated_by == OWN_USER else storable_text(f"servicenow:{table}:{sys_id.strip()}")
    return json.dumps(body).encode(), delivery, expected


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(notifications())
def test_fuzzed_servicenow_notifications_never_cause_a_500_and_never_lose_a_valid_one(
    shared: Any, case: tuple[bytes, str | None, str | None]
) -> None:
    body, delivery, expected = case
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    if delivery is not None:
        headers["X-Bridgeline-Delivery"] = delivery
    response = httpx.post(shared.url + "/webhooks/servicenow", content=body, headers=headers, timeout=10)
    assert response.status_code in (200, 202, 400), response.text
    if expected is not None:
        assert response.status_code in (200, 202), response.text
        assert expected in shared.pending() or response.json().get("duplicate")


def test_an_unsigned_notification_is_refused_and_stores_nothing(shared: Any) -> None:
    before = shared.pending()
    body = json.dumps({"table": "change_request", "sys_id": "f" * 32}).encode()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Bridgeline-Signature": "sha256=00"}):
        response = httpx.post(shared.url + "/webhooks/servicenow", content=body, headers=headers, timeout=10)
        assert response.status_code == 401
    assert shared.pending() == before


@st.composite
def jira_deliveries(draw: st.DrawFn) -> tuple[bytes, set[str]]:
    """A Jira-shaped delivery whose identifiers are any text at all, NUL characters included."""
    issue_id = draw(st.text(min_size=1, max_size=12).filter(lambda s: s.strip()))
    numeric = st.integers(1, 10**9).map(str)  # what Jira's identifiers look like: must be stored
    versions = draw(
        st.lists(numeric | st.text(min_size=1, max_size=8).filter(lambda s: s.strip()), max_size=2)
    )
    noise = draw(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=3))
    issue = {
        "id": issue_id,
        "key": "PAY-1",
        "fields": {**noise, "fixVersions": [{"id": v} for v in versions]},
    }
    body = {"webhookEvent": "jira:issue_updated", "timestamp": draw(json_values), "issue": issue, **noise}
    return json.dumps(body).encode(), {f"jira:version:{v}" for v in versions if v.isascii() and v.isdigit()}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(jira_deliveries())
def test_fuzzed_jira_identifiers_never_cause_a_500_whatever_the_database(
    shared: Any, case: tuple[bytes, set[str]]
) -> None:
    body, expected = case
    response = httpx.post(
        shared.url + "/webhooks/jira", content=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code in (200, 202, 400), response.text
    assert expected <= shared.pending()  # every release the issue is in


def _bad_versions(original: str) -> dict[str, tuple[str, str]]:
    return {
        "a YAML syntax error": ("release.yaml", original + "\nfields: [unclosed\n"),
        "an unknown key": ("release.yaml", original.replace("fields:", "fieldz:", 1)),
        "a template with an unknown filter": (
            "release.yaml",
            original.replace("{{ version.name }}", "{{ version.name | no_such_filter }}", 1),
        ),
        "a second mapping with the same name": ("copy.yaml", original),
    }


@pytest.mark.slow
def test_invalid_mapping_edits_while_the_daemon_works_keep_the_previous_set_live(tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    shutil.copytree(Path(__file__).parent / "mappings", mappings)
    original = (mappings / "release.yaml").read_text()
    world_module = harness.load_sibling("world")
    with world_module.World(releases=16, issues=160, projects=3, poison=0, seed=3, faults=False) as world:
        port = harness.free_port()
        values = world.settings(f"sqlite:///{tmp_path / 'bridgeline.db'}", port)
        values["mappings"] = [str(mappings)]
        values["server"]["admin_token"] = ADMIN_TOKEN
        config = tmp_path / "bridgeline.yaml"
        config.write_text(yaml.safe_dump(values), encoding="utf-8")
        daemon = harness.Replica("replica", config, tmp_path / "daemon.log")
        url = f"http://127.0.0.1:{port}"
        try:
            daemon.start()
            assert world_module.wait(daemon.running, 30, every=0.1), daemon.tail()
            live = _status(url)["mappings"]["fingerprint"]
            with world.people(cab_share=0.5, edits_per_round=2, every=0.3):
                for what, (name, text) in _bad_versions(original).items():
                    before = _edits_synced(world)
                    (mappings / name).write_text(text)
                    refused = _wait_status(url, lambda s: s["mappings"]["last_reload"]["ok"] is False)
                    assert refused["mappings"]["fingerprint"] == live, what
                    assert name in refused["mappings"]["last_reload"]["error"], what
                    # the work goes on with the previous set meanwhile
                    assert world_module.wait(lambda b=before: _edits_synced(world) > b, 20), what
                    if name == "release.yaml":
                        (mappings / name).write_text(original)
                    else:
                        (mappings / name).unlink()
                    _wait_status(url, lambda s: s["mappings"]["last_reload"]["ok"] is True)
                (mappings / "release.yaml").write_text(
                    original.replace('"Release {{ project.key }}', '"Change for release {{ project.key }}')
                )
                _wait_status(url, lambda s: s["mappings"]["fingerprint"] != live)
            # every release passes once more (what a backfill does): all with the new set
            asyncio.run(_enqueue_all(values["database_url"], list(world.releases)))
            assert world_module.wait(
                lambda: (
                    _all_renamed(world)
                    and world.check(asyncio.run(harness.inbox_state(values["database_url"]))).ok
                ),
                90,
            ), daemon.tail()
            assert daemon.stop() == 0, daemon.tail()
        finally:
            daemon.ensure_dead()
        state = asyncio.run(harness.inbox_state(values["database_url"]))
        assert state["dead"] == {}  # no mapping edit ever made a dead letter
        findings = world.check(state)
        assert findings.duplicates == [] and findings.losses == []


def _edits_synced(world: Any) -> int:
    """Change tasks that already carry a developer's rename."""
    rows = world.snow.state.records(
        "change_task", "correlation_idSTARTSWITHchaos:^short_descriptionLIKEChaos edit"
    )
    return len(rows)


def _status(url: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    return dict(httpx.get(url + "/api/status", headers=headers, timeout=10).json())


def _wait_status(url: str, check: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = _status(url)
        if check(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout}s: {last.get('mappings')}")


def _all_renamed(world: Any) -> bool:
    rows = world.snow.state.records("change_request", "correlation_idSTARTSWITHchaos:")
    return len(rows) == len(world.releases) and all(
        r["short_description"].startswith("Change for release ") for r in rows
    )


async def _enqueue_all(database_url: str, version_ids: list[str]) -> None:
    from bridgeline.model import EntityRef, Event
    from bridgeline.store import Store

    store = await Store.open(database_url, migrate=False)
    try:
        await store.enqueue([Event(EntityRef("jira", "version", v), source="cli") for v in version_ids])
    finally:
        await store.close()

"""A release train's life with ``bridgeline run`` killed (SIGKILL) in the middle of each step: the
train made, a project joining, one leaving, a child rejected, the parent approved and closed. After
each kill the daemon starts again; in the end every record exists once, every comment was written
once, every member version is released and nothing is pending."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bridgeline.sim import ServedApp
from bridgeline.sim.jira import JiraScale, JiraSimulator
from bridgeline.sim.servicenow import ServiceNowSimulator

from .conftest import DATABASES, SmallWorld, database, harness, set_integration_password

pytestmark = pytest.mark.slow
world_module = harness.load_sibling("world")
MAPPINGS = Path(__file__).parents[1] / "e2e" / "mappings_trains" / "members"
TRAIN = "train-26.12"
PROJECTS = ("PAY", "WEB", "OPS")


class Train:
    """The simulators on loopback, and what a test reads and does through their APIs."""

    def __init__(self, world: SmallWorld) -> None:
        self.world = world
        self.jira = httpx.Client(
            base_url=world.jira_url + "/rest/api/3", auth=("admin@example.com", "admin-token"), timeout=10
        )
        self.snow = httpx.Client(
            base_url=world.snow_url + "/api/now/table", auth=("admin", "admin"), timeout=10
        )

    def version(self, key: str, name: str) -> str:
        project = self.jira.get(f"/project/{key}").json()["id"]
        made = self.jira.post(
            "/version", json={"name": name, "projectId": int(project), "releaseDate": "2099-12-08"}
        )
        made.raise_for_status()
        version = str(made.json()["id"])
        issue = self.jira.get(
            "/search/jql",
            params={
                "jql": f"project = {key} AND statusCategory != Done",
                "fields": "summary",
                "maxResults": 1,
            },
        ).json()["issues"][0]["key"]
        self.jira.put(
            f"/issue/{issue}", json={"update": {"fixVersions": [{"add": {"id": version}}]}}
        ).raise_for_status()
        self.issues[key] = issue
        return version

    issues: dict[str, str] = {}

    def records(self, query: str) -> list[dict[str, Any]]:
        return list(
            self.snow.get(
                "/change_request", params={"sysparm_query": query, "sysparm_exclude_reference_link": "true"}
            ).json()["result"]
        )

    def parents(self) -> list[dict[str, Any]]:
        return self.records(f"correlation_id=jira:train:{TRAIN}")

    def children(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for record in self.records(f"correlation_idSTARTSWITHjira:train:{TRAIN}:"):
            out.setdefault(record["correlation_id"].rsplit(":", 1)[1], []).append(record)
        return out

    def comments(self, issue: str, text: str) -> int:
        body = self.jira.get(f"/issue/{issue}/comment").json()
        said = [
            " ".join(n.get("text", "") for p in c["body"].get("content", []) for n in p.get("content", []))
            for c in body["comments"]
        ]
        return said.count(text)


@pytest.fixture
def world() -> Iterator[SmallWorld]:
    jira = JiraSimulator(scale=JiraScale(projects=3, versions=6, issues=60))
    snow = ServiceNowSimulator()
    with ServedApp(jira.app) as j, ServedApp(snow.app) as s:
        set_integration_password(s.url)
        yield SmallWorld(jira, snow, j.url, s.url, None)  # type: ignore[arg-type]


def _killed_while(replica: Any, event: str, *, after: int) -> None:
    """Start the daemon, and kill it as soon as it has logged ``event`` more than ``after`` times in
    all (the step under way is cut short there)."""
    replica.start()
    assert world_module.wait(
        lambda: sum(1 for line in replica.lines() if line.get("event") == event) > after, 60, every=0.02
    ), replica.tail()
    replica.kill()


def _count(replica: Any, event: str) -> int:
    return sum(1 for line in replica.lines() if line.get("event") == event)


def _settled(replica: Any, check: Callable[[], bool]) -> None:
    replica.start()
    assert world_module.wait(check, 60, every=0.2), replica.tail()
    replica.kill()


@pytest.mark.parametrize("kind", DATABASES)
def test_a_train_through_its_life_with_kills_at_every_step_duplicates_and_loses_nothing(
    world: SmallWorld, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PYTHONUNBUFFERED", "1"
    )  # each log line is in the file when it happens: kills land on it
    train = Train(world)
    members = {key: train.version(key, TRAIN) for key in ("PAY", "WEB")}
    late = train.version("OPS", "ops-late")
    with database(kind, tmp_path) as database_url:
        settings = world.values(
            database_url,
            MAPPINGS,
            jira={"projects": list(PROJECTS)},
            server={"port": harness.free_port()},
            worker={"lease_seconds": 1.0, "poll_idle": 0.1},
            log_format="json",
        )
        config = tmp_path / "bridgeline.yaml"
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        replica = harness.Replica("replica", config, tmp_path / "daemon.log")
        try:
            # 1. the train is made: killed right after its first record was created
            _killed_while(replica, "created", after=0)
            _settled(replica, lambda: len(train.parents()) == 1 and len(train.children()) == 2)
            # 2. OPS joins (renamed onto the train): killed as its child is made
            train.jira.put(f"/version/{late}", json={"name": TRAIN}).raise_for_status()
            _killed_while(replica, "created", after=_count(replica, "created"))
            _settled(replica, lambda: len(train.children()) == 3)
            # 3. WEB leaves: killed as its child is cancelled
            train.jira.put(f"/version/{members['WEB']}", json={"name": "web-alone"}).raise_for_status()
            _killed_while(replica, "retired", after=0)
            _settled(replica, lambda: train.children()["WEB"][0]["state"] == "4")
            # 4. the CAB rejects OPS's child: killed after the first comment of the hold
            [ops] = train.children()["OPS"]
            train.snow.patch(f"/change_request/{ops['sys_id']}", json={"state": "-4"}).raise_for_status()
            world.snow.reject(ops["number"], "Network freeze.")
            held = f"Release train {TRAIN} is held: CAB rejected {ops['number']} (OPS): Network freeze."
            _killed_while(replica, "jira comment", after=_count(replica, "jira comment"))
            _settled(replica, lambda: all(train.comments(train.issues[k], held) == 1 for k in ("PAY", "OPS")))
            # 5. the parent is approved and closed: killed after the first version released
            [parent] = train.parents()
            train.snow.patch(f"/change_request/{parent['sys_id']}", json={"state": "-4"}).raise_for_status()
            world.snow.approve(parent["number"])
            for state in ("-2", "-1", "0"):
                train.snow.patch(
                    f"/change_request/{parent['sys_id']}", json={"state": state}
                ).raise_for_status()
            train.snow.patch(
                f"/change_request/{parent['sys_id']}",
                json={"state": "3", "close_code": "successful", "close_notes": "Shipped."},
            ).raise_for_status()
            _killed_while(replica, "jira release_version", after=0)

            def released() -> bool:
                return all(train.jira.get(f"/version/{v}").json()["released"] for v in (members["PAY"], late))

            replica.start()
            assert world_module.wait(released, 60, every=0.2), replica.tail()
            assert world_module.wait(
                lambda: asyncio.run(harness.inbox_state(database_url))["pending"] == 0, 60
            ), replica.tail()
            # a clean stop once the daemon is wholly up (its server answers)
            assert world_module.wait(
                lambda: any(line.get("event") == "listening" for line in replica.lines(current=True)), 30
            ), replica.tail()
            assert replica.stop() == 0, replica.tail()
        finally:
            replica.ensure_dead()
        state = asyncio.run(harness.inbox_state(database_url))
    assert state["dead"] == {}
    assert len(train.parents()) == 1
    assert {k: len(v) for k, v in train.children().items()} == {"PAY": 1, "WEB": 1, "OPS": 1}
    assert train.jira.get(f"/version/{members['WEB']}").json()["released"] is False  # it left
    approved = f"CAB approved release train {TRAIN} ({parent['number']})."
    for key in ("PAY", "OPS"):
        assert train.comments(train.issues[key], held) == 1
        assert train.comments(train.issues[key], approved) == 1

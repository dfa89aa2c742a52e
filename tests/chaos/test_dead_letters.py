"""``bridgeline dlq list | show | replay | drop``: an operator sees each dead letter with its last
error, sends it back to the queue with fresh attempts, or forgets it."""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
from pathlib import Path

import pytest
import yaml

from bridgeline.cli import main
from bridgeline.model import EntityRef, Event
from bridgeline.store import Store

POISONED = "jira:version:10001"
BROKEN = "servicenow:change_request:" + "a" * 32
FINE = "jira:version:10003"
LONG_ERROR = "mapping 'release', field 'risk': no entry for 'Blocker' in the value map " + "x" * 200


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("BRIDGELINE_") and not name.upper().startswith("BRIDGELINE_TEST"):
            monkeypatch.delenv(name)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Path:
    async def prepare() -> None:
        store = await Store.open(database_url)
        try:
            await store.enqueue([Event(EntityRef.parse(e)) for e in (POISONED, BROKEN, FINE)])
            claims = {str(c.ref): c for c in await store.claim("w", limit=10, lease_seconds=60)}
            kw = {"max_attempts": 3, "backoff_initial": 1, "backoff_max": 1}
            await store.fail(claims[POISONED], LONG_ERROR, permanent=True, **kw)
            await store.fail(claims[BROKEN], "servicenow refused the request with 403", permanent=True, **kw)
            await store.complete(claims[FINE])
        finally:
            await store.close()

    asyncio.run(prepare())
    path = tmp_path / "bridgeline.yaml"
    path.write_text(yaml.safe_dump({"database_url": database_url}), encoding="utf-8")
    return path


def _state(database_url: str, entity: str) -> tuple[str, int, str]:
    async def read() -> tuple[str, int, str]:
        store = await Store.open(database_url, migrate=False)
        try:
            row = await store.inbox_row(entity)
            assert row is not None
            return row.state, row.attempts, row.source
        finally:
            await store.close()

    return asyncio.run(read())


def test_list_and_show_name_each_dead_letter_with_its_last_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "list", "-c", str(config)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert sorted(line.split("\t")[0] for line in listed) == sorted([POISONED, BROKEN])
    [poisoned] = [line for line in listed if line.startswith(POISONED)]
    assert "1 attempts" in poisoned and "no entry for 'Blocker'" in poisoned
    assert len(poisoned.split("\t")[-1]) == 100  # the list stays readable; `show` has it all

    assert main(["dlq", "show", POISONED, "-c", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "state:       dead" in shown and LONG_ERROR in shown

    assert main(["dlq", "show", "jira:version:404", "-c", str(config)]) == 1
    assert "not in the inbox" in capsys.readouterr().err


def test_replay_queues_again_with_fresh_attempts_and_drop_forgets(
    config: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "replay", POISONED, "-c", str(config)]) == 0
    assert f"{POISONED}: queued again" in capsys.readouterr().out
    assert _state(database_url, POISONED) == ("pending", 0, "replay")

    assert main(["dlq", "replay", POISONED, "-c", str(config)]) == 1  # not dead any more
    assert "not a dead letter" in capsys.readouterr().out
    assert main(["dlq", "replay", FINE, "-c", str(config)]) == 1  # never was
    assert f"{FINE}: not a dead letter" in capsys.readouterr().out

    assert main(["dlq", "drop", "--all", "-c", str(config)]) == 0
    assert capsys.readouterr().out.strip() == f"{BROKEN}: dropped"
    assert _state(database_url, BROKEN)[0] == "done"
    assert main(["dlq", "list", "-c", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "no dead letters"

    assert main(["dlq", "replay", "-c", str(config)]) == 2  # neither an entity nor --all
    assert "name an entity" in capsys.readouterr().err


def test_replays_and_drops_from_the_cli_are_audited_with_who_asked(config: Path, database_url: str) -> None:
    assert main(["dlq", "replay", POISONED, "-c", str(config)]) == 0
    assert main(["dlq", "drop", BROKEN, "-c", str(config)]) == 0
    assert main(["dlq", "drop", FINE, "-c", str(config)]) == 1  # nothing done, nothing audited

    async def audited() -> list[tuple[str, str, str | None]]:
        store = await Store.open(database_url, migrate=False)
        try:
            return [(a.action, a.entity, a.detail) for a in await store.recent_audit(limit=10)]
        finally:
            await store.close()

    who = f"cli:{getpass.getuser()}@{socket.gethostname()}"
    assert sorted(asyncio.run(audited())) == [
        ("drop", BROKEN, f"drop asked by {who}"),
        ("replay", POISONED, f"replay asked by {who}"),
    ]

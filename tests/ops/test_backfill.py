"""`bridgeline backfill`: a project's releases (and issues) synced once, with progress, resumable."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bridgeline.cli import main
from bridgeline.commands.backfill import load_state, plan, run_backfill
from bridgeline.config import settings_from_values
from bridgeline.errors import ConfigError
from bridgeline.sync.service import Service

from .conftest import support

ISSUE_MAPPING = """
apiVersion: bridgeline/v1
kind: Mapping
metadata:
  name: ops-issue
source:
  system: jira
  entity: issue
  projects: [PAY]
target:
  system: servicenow
  record: change_request
identity: "jira:{{ project.key }}:issue:{{ issue.id }}"
fields:
  short_description: "{{ issue.key }}: {{ issue.summary }}"
"""


async def start(sims: Any, database_url: str, **extra: Any) -> Service:
    values = support.settings_values(sims, database_url, **extra)
    return await Service.start(settings_from_values(values))


async def test_an_interrupted_backfill_resumes_where_it_stopped(sims: Any, database_url: str) -> None:
    service = await start(sims, database_url)
    try:
        stop = asyncio.Event()
        seen: list[tuple[int, int]] = []

        def interrupt_after_the_first_batch(done: int, total: int) -> None:
            seen.append((done, total))
            if done >= 1:
                stop.set()  # as Ctrl-C does

        first = await run_backfill(
            service, "PAY", batch=1, stop=stop, progress=interrupt_after_the_first_batch
        )
        assert first.interrupted and first.state.position == 1 and first.state.total == 4
        stored = await load_state(service, "PAY")
        assert stored is not None and stored.position == 1 and not stored.finished
        assert seen[-1] == (1, 4)

        second = await run_backfill(service, "PAY", batch=1, progress=lambda d, t: seen.append((d, t)))
        assert second.resumed_at == 1 and not second.interrupted
        assert second.state.position == 4 and second.state.finished and second.state.dead == 0
        assert seen[-1] == (4, 4)
        assert len(sims.change_requests()) == 2  # the two open releases, each written once

        third = await run_backfill(service, "PAY")
        assert third.already_done
        # planned afresh, then stopped at once: an unfinished run that only the same --since resumes
        stopped = await run_backfill(
            service, "PAY", date(2024, 1, 1), restart=True, stop=_set(asyncio.Event())
        )
        assert stopped.interrupted and stopped.state.position == 0
        with pytest.raises(ConfigError, match="--restart"):
            await run_backfill(service, "PAY", date(2025, 1, 1))
        again = await run_backfill(service, "PAY", restart=True)
        assert again.state.finished and again.state.position == 4
        assert len(sims.change_requests()) == 2
    finally:
        await service.aclose()


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


async def test_issue_mappings_add_the_issues_updated_since_the_date(sims: Any, tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "release.yaml").write_text((support.MAPPINGS / "release.yaml").read_text(), encoding="utf-8")
    (folder / "issue.yaml").write_text(ISSUE_MAPPING, encoding="utf-8")
    service = await start(sims, f"sqlite:///{tmp_path / 'bridgeline.db'}", mappings=[str(folder)])
    try:
        assert len(await plan(service, "PAY", date(2999, 1, 1))) == 4  # releases only: no issue is that new
        result = await run_backfill(service, "PAY", date(2000, 1, 1), batch=10)
        assert result.state.total == 4 + 20 and result.state.finished and result.state.dead == 0
        keys = {c["short_description"].split(":")[0] for c in sims.change_requests()}
        assert len([k for k in keys if k.startswith("PAY-")]) == 20
    finally:
        await service.aclose()


def test_the_command_shows_progress_and_remembers_it_finished(
    sims: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = support.write_config(tmp_path, support.settings_values(sims, f"sqlite:///{tmp_path / 'b.db'}"))
    assert main(["backfill", "--project", "PAY", "--config", str(config), "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "backfill PAY" in out and "4/4" in out and "ETA" in out
    assert "Backfill of PAY: 4 entities synced." in out
    assert main(["backfill", "--project", "PAY", "--config", str(config)]) == 0
    assert "Use --restart to run it again" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["backfill", "--project", "PAY", "--config", str(config), "--since", "yesterday"])
    assert "is not a date (YYYY-MM-DD)" in capsys.readouterr().err

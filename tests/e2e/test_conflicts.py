"""Edits made in ServiceNow to fields bridgeline writes: each field's conflict policy decides."""

from __future__ import annotations

from bridgeline.model import EntityRef, Event
from bridgeline.sync.service import Service

from .conftest import Sims
from .test_release_to_change import open_versions, snow_records


async def test_target_edits_follow_the_conflict_policy_and_are_audited(service: Service, sims: Sims) -> None:
    await service.converge()
    key, version = open_versions(sims)[0]
    corr = f"jira:{key}:version:{version['id']}"
    [change] = snow_records(sims, "change_request", f"correlation_id={corr}")
    with sims.snow_api() as api:
        r = api.patch(
            f"/change_request/{change['sys_id']}",
            json={
                "short_description": "Renamed by ops",  # source_wins (default): written back
                "justification": "Needed for the audit",  # target_wins (declared): stands for good
            },
        )
        assert r.status_code == 200
    await service.store.enqueue([Event(EntityRef("servicenow", "change_request", change["sys_id"]))])
    await service.converge()
    [now] = snow_records(sims, "change_request", f"correlation_id={corr}")
    assert now["short_description"] == f"Release {key} {version['name']}"
    assert now["justification"] == "Needed for the audit"
    conflicts = [a for a in await service.store.recent_audit(limit=50) if a.action == "conflict"]
    assert sorted((a.fields or {}).get("field") for a in conflicts) == ["justification", "short_description"]
    assert {(a.fields or {})["field"]: (a.fields or {})["policy"] for a in conflicts} == {
        "justification": "target_wins",
        "short_description": "source_wins",
    }
    # Jira renames the release: the title follows, the justification the CAB owns now does not
    with sims.jira_api() as api:
        assert api.put(f"/version/{version['id']}", json={"name": version["name"] + "-rc"}).status_code == 200
    sims.snow_calls.clear()
    await service.converge()
    [after] = snow_records(sims, "change_request", f"correlation_id={corr}")
    assert after["short_description"] == f"Release {key} {version['name']}-rc"
    assert after["justification"] == "Needed for the audit"
    [patch] = [w for w in sims.snow_calls.writes() if w["path"].endswith(change["sys_id"])]
    assert "justification" not in patch["body"]

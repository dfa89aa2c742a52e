"""A rule that fails for one release dead-letters that release - with the mapping, the field and the
reason - while the others go through; fixing the data and replaying brings it home."""

from __future__ import annotations

from pathlib import Path

from bridgeline.sync.service import Service

from .conftest import HERE, PROJECTS, Sims, make_settings


async def test_a_failing_render_dead_letters_one_release_and_the_others_proceed(
    sims: Sims, database_url: str
) -> None:
    with sims.jira_api() as api:
        versions = [
            v
            for key in PROJECTS
            for v in api.get(f"/project/{key}/versions").json()
            if not v["archived"] and not v["released"]
        ]
        broken = versions[0]
        api.put(f"/version/{broken['id']}", json={"description": ""}).raise_for_status()
        for v in versions[1:]:
            api.put(f"/version/{v['id']}", json={"description": f"Notes of {v['name']}"}).raise_for_status()
    service = await Service.start(make_settings(sims, database_url, HERE / "mappings_strict"))
    try:
        report = await service.converge()
        assert report.dead == 1
        [dead] = await service.store.inbox_rows(state="dead")
        assert dead.entity == f"jira:version:{broken['id']}"
        assert "strict-release" in (dead.last_error or "") and "description" in (dead.last_error or "")
        assert "required" in (dead.last_error or "")
        assert await service.store.count_links(top_level=True) == len(versions) - 1
        # the release manager writes the notes; the dead letter is replayed and goes through
        with sims.jira_api() as api:
            api.put(f"/version/{broken['id']}", json={"description": "Late notes"}).raise_for_status()
        assert await service.store.replay(dead.entity)
        report = await service.converge()
        assert report.dead == 0
        assert await service.store.count_links(top_level=True) == len(versions)
    finally:
        await service.aclose()


def test_the_strict_mapping_is_valid() -> None:
    from bridgeline.mapping import load_mapping_set

    assert load_mapping_set([Path(HERE / "mappings_strict")]).get("strict-release")

"""Deployments walk a BMC Remedy change through its status flow, once per run and state: the real
service against the Jira and Remedy simulators over loopback sockets."""

from __future__ import annotations

from bridgeline.model import EntityRef, Event
from bridgeline.store import AppliedAction, DeploymentReport, PipelineBook
from bridgeline.sync.service import Service

from .test_itsm_remedy import VERSION, Sims, service, sims
from .test_reverse import _comments

__all__ = ["service", "sims"]  # the Remedy fixtures


def report(state: str, run: str = "77") -> tuple[DeploymentReport, Event]:
    """What POST /webhooks/deployments stores for a pipeline's report of PAY 3.3.0."""
    entity = "deployment:release:PAY:3.3.0"
    stored = DeploymentReport(
        entity=entity, source="bridgeline", environment="production", state=state, run_id=run,
        run_url=f"https://ci.example.com/runs/{run}", commit="9fceb02", pipeline="payments",
        project="PAY", version="3.3.0",
    )  # fmt: skip
    return stored, Event(EntityRef.parse(entity), source="webhook")


def issue_keys(sims: Sims) -> list[str]:
    with sims.jira_api() as api:
        found = api.get("/search/jql", params={"jql": f"fixVersion = {VERSION}", "fields": "summary"}).json()
    return [i["key"] for i in found["issues"]]


async def test_a_deployment_walks_the_remedy_change_to_completed_once(service: Service, sims: Sims) -> None:
    await service.sync_once()
    [change] = sims.changes()
    crq = change["Infrastructure Change ID"]
    sims.remedy.advance(crq, "Scheduled")
    book = PipelineBook(service.store)
    for _ in range(2):
        await book.add_report(*report("started"))
    result = await service.converge()
    assert result.dead == 0
    [change] = sims.changes()
    assert change["Change Request Status"] == "Implementation In Progress"
    [note] = sims.remedy.state.work_info(crq)  # the rule's note, once for two deliveries
    assert note["Description"] == "Deployment to production started"
    assert note["Detailed Description"].startswith("Deployment to production started: run 77")
    assert (note["Work Log Submitter"], note["View Access"]) == ("bridgeline", "Internal")
    for _ in range(2):
        await book.add_report(*report("succeeded"))
    assert await book.add_report(*report("started")) is False  # a repeated start, late
    result = await service.converge()
    assert result.dead == 0
    [change] = sims.changes()
    assert change["Change Request Status"] == "Completed" and change["Status Reason"] == "Successful"
    for key in issue_keys(sims):
        comments = _comments(sims, key)
        assert sum(c.startswith("Deployment to production started") for c in comments) == 1
        assert sum(c.startswith("Deployed to production") for c in comments) == 1
    run = await book.run("deployment:release:PAY:3.3.0|production|77")
    assert run is not None and run.verdict == "authorized" and run.last_state == "succeeded"


async def test_an_unapproved_remedy_change_deployed_is_unauthorized_and_stays(
    service: Service, sims: Sims
) -> None:
    await service.sync_once()
    book = PipelineBook(service.store)
    await book.add_report(*report("started", run="78"))
    result = await service.converge()
    assert result.dead == 0
    assert await book.add_report(*report("started", run="78")) is False  # delivered again
    await service.store.enqueue([report("started", run="78")[1]])  # and processed again
    result = await service.converge()
    assert result.dead == 0
    [change] = sims.changes()
    assert change["Change Request Status"] == "Request For Authorization"
    [note] = sims.remedy.state.work_info(change["Infrastructure Change ID"])
    assert note["Description"] == "Unauthorized deployment to production: run 78"
    text = note["Detailed Description"]
    assert "run 78" in text and "https://ci.example.com/runs/78" in text and "not approved yet" in text
    assert (note["Work Log Type"], note["View Access"]) == ("General Information", "Internal")
    run = await book.run("deployment:release:PAY:3.3.0|production|78")
    assert run is not None and run.verdict == "unauthorized"
    assert any("not approved yet" in r for r in run.reasons)
    for key in issue_keys(sims):
        assert sum(c.startswith("Unauthorized deployment") for c in _comments(sims, key)) == 1


async def test_an_unauthorized_note_begun_before_a_crash_is_not_added_again(
    service: Service, sims: Sims
) -> None:
    """The note reached Remedy but bridgeline stopped before recording it: the next attempt finds it
    on the change and records it instead of adding it twice."""
    await service.sync_once()
    book = PipelineBook(service.store)
    await book.add_report(*report("started", run="78"))
    assert (await service.converge()).dead == 0
    first = await book.run("deployment:release:PAY:3.3.0|production|78")
    assert first is not None
    [change] = sims.changes()
    crq = change["Infrastructure Change ID"]
    [link] = await service.store.links_for_source(f"jira:version:{VERSION}")
    # what the interrupted attempt of run 79 left: the entry on the change, the action begun
    text = (
        "Unauthorized deployment to production: run 79 (https://ci.example.com/runs/79) deployed "
        "while the gate would not have allowed it: " + "; ".join(first.reasons)
    )
    sims.remedy.workflow.create(
        "CHG:WorkLog",
        {
            "Infrastructure Change ID": crq,
            "Description": "Unauthorized deployment",
            "Detailed Description": text,
        },
        "bridgeline",
    )
    key = f"{link.mapping}/unauthorized/note/{crq}/production:79"
    await service.store.begin_action(AppliedAction(key, "unauthorized", "deployment", link.id))
    await book.add_report(*report("started", run="79"))
    assert (await service.converge()).dead == 0
    notes = [w["Detailed Description"] for w in sims.remedy.state.work_info(crq)]
    assert sum("run 79" in n for n in notes) == 1 and sum("run 78" in n for n in notes) == 1
    assert (await service.store.action_states([key]))[key] == "done"

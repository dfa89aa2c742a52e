"""The world a chaos run syncs: Jira and ServiceNow simulators with injected faults, a few releases
the target refuses for good, a CAB answering change requests, developers editing issues - and the
invariants checked afterwards (imported by path: tests and ``scripts/chaos_report.py``)."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bridgeline.sim import FaultConfig, ServedApp
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraScale, JiraSimulator
from bridgeline.sim.servicenow import ServiceNowSimulator

MAPPINGS = Path(__file__).parent / "mappings"
IDENTITY = "chaos:{project}:version:{version}"
POISON_MESSAGE = "change requests for this release are blocked by the chaos business rule"
SNOW_PASSWORD = "chaos-pw-7d1e"  # not the seed's "bridgeline", which the log redactor would mask
JIRA_ADMIN = ("admin@example.com", "admin-token")
SNOW_ADMIN = ("admin", "admin")


def chaos_faults(seed: int) -> FaultConfig:
    """20% 5xx, 429s with Retry-After, timeouts past the client's patience, dropped connections and
    slow answers - all below the client's timeout except the injected timeouts themselves."""
    return FaultConfig(
        latency_ms=2,
        latency_jitter_ms=30,
        error_rate=0.2,
        rate_limit_rate=0.03,
        retry_after_seconds=1,
        timeout_rate=0.004,
        timeout_seconds=4.0,
        reset_rate=0.02,
        seed=seed,
    )


CLIENT_TIMEOUT = 3.0  # bridgeline's HTTP timeout in chaos runs: below the injected timeouts


class Poison:
    """ASGI middleware: ServiceNow refuses to create the change request of the poisoned releases,
    with a 400 a retry cannot change - each of them must end as a dead letter holding this error."""

    def __init__(self, app: Any, correlation_ids: set[str]) -> None:
        self.app = app
        self.correlation_ids = correlation_ids
        self.refused = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/api/now/table/change_request"
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        with contextlib.suppress(ValueError):
            if json.loads(body).get("correlation_id") in self.correlation_ids:
                self.refused += 1
                answer = json.dumps(
                    {
                        "error": {"message": POISON_MESSAGE, "detail": "Data Policy Exception"},
                        "status": "failure",
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": answer})
                return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@dataclass
class Release:
    id: str
    project: str
    name: str
    issues: list[str]  # issue ids

    @property
    def identity(self) -> str:
        return IDENTITY.format(project=self.project, version=self.id)

    def task_identity(self, issue_id: str) -> str:
        return f"{self.identity}:issue:{issue_id}"


@dataclass
class Findings:
    """What the invariants found after a run; every list empty means nothing duplicated or lost."""

    releases: int = 0
    issues: int = 0
    change_requests: int = 0
    change_tasks: int = 0
    cab_answers: int = 0
    comments: int = 0
    transitions: int = 0
    edits: int = 0
    duplicates: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    unexplained_dead_letters: list[str] = field(default_factory=list)
    dead_letters: int = 0
    pending: int = 0

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.losses or self.unexplained_dead_letters or self.pending)

    def summary(self) -> str:
        parts = [
            f"duplicates: {self.duplicates[:10]}" if self.duplicates else "",
            f"losses: {self.losses[:10]}" if self.losses else "",
            f"unexplained dead letters: {self.unexplained_dead_letters[:5]}"
            if self.unexplained_dead_letters
            else "",
            f"pending: {self.pending}" if self.pending else "",
        ]
        return "; ".join(p for p in parts if p) or "all invariants hold"


class World:
    """The simulators on loopback: a faulty face for bridgeline, a clean one for the test's own hands."""

    def __init__(
        self, *, releases: int, issues: int, projects: int, poison: int, seed: int, faults: bool = True
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.jira = JiraSimulator(
            scale=JiraScale(projects=projects, versions=releases, issues=issues),
            faults=chaos_faults(seed) if faults else None,
        )
        self.snow = ServiceNowSimulator(faults=chaos_faults(seed + 1) if faults else None)
        with self.jira.state.lock:
            self.projects = {str(p.id): p.key for p in self.jira.state.projects.values()}
            self.releases = {
                str(v.id): Release(str(v.id), self.projects[str(v.project_id)], v.name, [])
                for v in self.jira.state.versions.values()
            }
            for issue in self.jira.state.issues.values():
                for vid in issue.fix_versions:
                    self.releases[str(vid)].issues.append(str(issue.id))
            self.in_review = {str(i.id) for i in self.jira.state.issues.values() if i.status == "In Review"}
        chosen = self.rng.sample(sorted(self.releases, key=int), min(poison, len(self.releases)))
        self.poisoned = {self.releases[v].identity: v for v in chosen}
        self.poison = Poison(self.snow.app, set(self.poisoned))
        self.answers: dict[str, str] = {}  # change number -> approved | rejected
        self.edited: dict[str, str] = {}  # issue key -> the summary it was given last
        self._stack = contextlib.ExitStack()

    # -- serving -----------------------------------------------------------------------------

    def __enter__(self) -> World:
        stack = self._stack
        self.jira_served = stack.enter_context(ServedApp(self.jira.app))
        self.snow_served = stack.enter_context(ServedApp(self.poison))
        # the test's own calls skip the faults: same state, no injector in front
        self.jira_admin = stack.enter_context(ServedApp(self.jira.rate_limiter))
        self.snow_admin = stack.enter_context(ServedApp(self.snow.injector.app))
        with httpx.Client(base_url=self.snow_admin.url + "/api/now/table", auth=SNOW_ADMIN) as api:
            found = api.get("/sys_user", params={"sysparm_query": "user_name=bridgeline.integration"}).json()
            sys_id = found["result"][0]["sys_id"]
            api.patch(f"/sys_user/{sys_id}", json={"user_password": SNOW_PASSWORD}).raise_for_status()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def settings(self, database_url: str, port: int, *, concurrency: int = 16) -> dict[str, Any]:
        """bridgeline's configuration for one replica."""
        return {
            "database_url": database_url,
            "mappings": [str(MAPPINGS)],
            "jira": {
                "url": self.jira_served.url,
                "email": "bridgeline@example.com",
                "api_token": INTEGRATION_CLOUD[1],
                "projects": sorted(self.projects.values()),
                "poll_interval": 1.0,
                "poll_overlap": 30,
                "timeout": CLIENT_TIMEOUT,
                "max_concurrency": 16,
            },
            "servicenow": {
                "url": self.snow_served.url,
                "username": "bridgeline.integration",
                "password": SNOW_PASSWORD,
                "poll_interval": 1.0,
                "poll_overlap": 30,
                "timeout": CLIENT_TIMEOUT,
                # the simulator has surely finished a request by then (its longest is an injected timeout)
                "transaction_limit": 5.0,
                "max_concurrency": 16,
            },
            "worker": {
                "concurrency": concurrency,
                "lease_seconds": 3.0,
                "poll_idle": 0.2,
                "backoff_initial": 0.2,
                "backoff_max": 2.0,
                "max_attempts": 8,
            },
            "server": {"port": port},
            "log_format": "json",
            "log_level": "info",
        }

    def faults_injected(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for counters in (self.jira.fault_injector.counters, self.snow.injector.counters):
            totals.update(asdict(counters))
        totals["permanent_refusals"] = self.poison.refused
        return dict(totals)

    def calm(self) -> None:
        """No more injected faults (the end of a run: let what is left settle quickly)."""
        for faults in (self.jira.faults, self.snow.faults):
            faults.update({"error_rate": 0, "rate_limit_rate": 0, "timeout_rate": 0, "reset_rate": 0})

    # -- the people on the other side -------------------------------------------------------

    def cab_round(self, share: float) -> int:
        """The CAB answers some change requests waiting for it (about ``share`` of all, overall)."""
        waiting = self.snow.state.records(
            "change_request", "correlation_idSTARTSWITHchaos:^approval=requested"
        )
        answered = 0
        for row in waiting:
            number = row["number"]
            if number in self.answers or self.rng.random() > share:
                continue
            if self.rng.random() < 0.7:
                self.snow.approve(number)
                self.answers[number] = "approved"
            else:
                self.snow.reject(number, reason="No rollback plan")
                self.answers[number] = "rejected"
            answered += 1
        return answered

    def edit_round(self, count: int) -> None:
        """Developers rename a few issues of releases that are syncing: tasks must follow."""
        with self.jira.state.lock:
            candidates = [i.key for i in self.jira.state.issues.values() if i.fix_versions]
        with httpx.Client(base_url=self.jira_admin.url + "/rest/api/3", auth=JIRA_ADMIN, timeout=10) as api:
            for key in self.rng.sample(candidates, min(count, len(candidates))):
                summary = f"Chaos edit {len(self.edited) + 1} of {key}"
                api.put(f"/issue/{key}", json={"fields": {"summary": summary}}).raise_for_status()
                self.edited[key] = summary

    @contextlib.contextmanager
    def people(self, *, cab_share: float, edits_per_round: int, every: float = 0.5) -> Iterator[None]:
        """The CAB and the developers at work in the background while the block runs."""
        stop = threading.Event()
        errors: list[BaseException] = []

        def work() -> None:
            while not stop.wait(every):
                try:
                    self.cab_round(cab_share)
                    if edits_per_round:
                        self.edit_round(edits_per_round)
                except BaseException as exc:  # surfaced when the block ends
                    errors.append(exc)
                    return

        thread = threading.Thread(target=work, name="chaos-people", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(30)
        if errors:
            raise errors[0]

    # -- invariants --------------------------------------------------------------------------

    def check(self, inbox: dict[str, Any]) -> Findings:
        """Exactly one change request per release and one task per issue in it, each with the
        current summary; the CAB's every answer in Jira exactly once; nothing pending; dead letters
        only where a permanent error was injected.

        ``inbox``: ``{"pending": n, "dead": {entity: error}}``."""
        f = Findings(releases=len(self.releases))
        requests = _by_correlation(
            self.snow.state.records("change_request", "correlation_idSTARTSWITHchaos:")
        )
        tasks = _by_correlation(self.snow.state.records("change_task", "correlation_idSTARTSWITHchaos:"))
        f.change_requests = sum(len(v) for v in requests.values())
        f.change_tasks = sum(len(v) for v in tasks.values())
        with self.jira.state.lock:
            issues = {str(i.id): i for i in self.jira.state.issues.values()}
            bridgeline = self.jira.state.user("bridgeline")
            assert bridgeline is not None
            own = bridgeline.account_id
            f.issues = len({i for r in self.releases.values() for i in r.issues})
            number_of: dict[str, str] = {}
            for vid, release in sorted(self.releases.items()):
                found = requests.get(release.identity, [])
                if release.identity in self.poisoned:
                    if found:
                        f.duplicates.append(f"{release.identity}: created although refused")
                    continue
                if len(found) != 1:
                    (f.duplicates if found else f.losses).append(
                        f"release {vid}: {len(found)} change requests"
                    )
                    continue
                number_of[vid] = found[0]["number"]
                for iid in release.issues:
                    mine = tasks.get(release.task_identity(iid), [])
                    if len(mine) != 1:
                        (f.duplicates if mine else f.losses).append(
                            f"release {vid} issue {iid}: {len(mine)} tasks"
                        )
                        continue
                    issue = issues[iid]
                    wanted = f"{issue.key}: {issue.summary}"
                    if mine[0]["short_description"] != wanted:
                        f.losses.append(f"task of {issue.key} in {vid} says {mine[0]['short_description']!r}")
            comments: Counter[tuple[str, str]] = Counter()
            transitions: Counter[str] = Counter()
            for iid, issue in issues.items():
                for c in issue.comments:
                    if c.author == own:
                        comments[(iid, _text(c.body))] += 1
                for h in issue.histories:
                    if h.author != own:
                        continue
                    for item in h.items:
                        if item.get("field") == "status" and item.get("toString") == "Ready for Release":
                            transitions[iid] += 1
            f.comments = sum(comments.values())
            f.transitions = sum(transitions.values())
            for (iid, text), n in comments.items():
                if n > 1:
                    f.duplicates.append(f"issue {issues[iid].key}: {n} comments {text!r}")
            f.duplicates += [
                f"issue {i}: {n} transitions to Ready for Release" for i, n in transitions.items() if n > 1
            ]
            answered_by_issue: dict[str, set[str]] = {}
            for vid, number in number_of.items():
                answer = self.answers.get(number)
                if answer is None:
                    continue
                f.cab_answers += 1
                missing: list[str] = []
                for iid in self.releases[vid].issues:
                    expected = (
                        f"CAB approved {number}."
                        if answer == "approved"
                        else f"CAB rejected {number}: No rollback plan"
                    )
                    if comments[(iid, expected)] == 0:
                        missing.append(f"issue {issues[iid].key}: no comment {expected!r}")
                    if answer == "rejected" and "cab-rejected" not in issues[iid].labels:
                        missing.append(f"issue {issues[iid].key}: no cab-rejected label")
                f.losses += missing
                for iid in self.releases[vid].issues:
                    answered_by_issue.setdefault(iid, set()).add(answer)
            for iid in self.in_review:
                if "approved" in answered_by_issue.get(iid, set()) and transitions[iid] != 1:
                    f.losses.append(f"issue {issues[iid].key}: approved while In Review, not moved on")
        f.edits = len(self.edited)
        f.pending = int(inbox.get("pending", 0))
        dead: dict[str, str] = inbox.get("dead", {})
        f.dead_letters = len(dead)
        poisoned_entities = {f"jira:version:{v}" for v in self.poisoned.values()}
        for entity, error in dead.items():
            if entity not in poisoned_entities or POISON_MESSAGE not in (error or ""):
                f.unexplained_dead_letters.append(f"{entity}: {error}")
        for entity in sorted(poisoned_entities - set(dead)):
            f.losses.append(f"{entity}: refused for good but not a dead letter")
        return f


def _by_correlation(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        out.setdefault(row.get("correlation_id", ""), []).append(row)
    return out


def _text(doc: Any) -> str:
    """The plain text of an ADF comment body (or a wiki string)."""
    if isinstance(doc, str):
        return doc.strip()
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            for child in node.get("content") or []:
                walk(child)

    walk(doc)
    return "".join(parts).strip()


def wait(check: Any, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return bool(check())

"""`bridgeline run` fed hostile mapping edits: each is refused while the daemon keeps answering, the
previous mappings stay live and keep syncing, and SIGTERM still ends it cleanly."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from .test_daemon import bridgeline_run, daemon_config, free_port

ADMIN = "admin-tok-Hq7Wd3"
HEADERS = {"Authorization": f"Bearer {ADMIN}"}

# (template, words of the refusal): each froze a daemon, or took it gigabytes and minutes, to load
HOSTILE = [
    ("{{ 9**(9**9) }}", "9 ** 387420489 would make a number"),
    ("{{ 'a' * 10**9 }}", "'a' * 1000000000 would make 1,000,000,000 characters"),
    ("{{ '%999999999s' % 'a' }}", "'%999999999s' % ... would make"),
    ("{{ 'a' | center(999999999) }}", "center(999999999) would make"),
    ("{{ 'a'.ljust(999999999) }}", "ljust(999999999) would make"),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
        "the render",
    ),
]
HEALTHY_WITHIN = 1.0  # seconds: /healthz answers this fast while a hostile set is being refused


def status(url: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(url + "/api/status", headers=HEADERS, timeout=10).json()
    return answer


def refuse(daemon: Any, mapping: Path, template: str, expected: str, *, sighup: bool) -> dict[str, Any]:
    """Write a hostile field into the live mapping file; return the status once the reload is refused,
    checking all the while that /healthz keeps answering promptly."""
    before = status(daemon.url)["mappings"]["last_reload"]["at"]
    text = mapping.read_text(encoding="utf-8")
    hostile = template.replace('"', '\\"')
    mapping.write_text(text.replace("fields:\n", f'fields:\n  hostile: "{hostile}"\n', 1), encoding="utf-8")
    if sighup:
        daemon.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    slowest = 0.0
    while time.monotonic() < deadline:
        assert daemon.proc.poll() is None, daemon.log.read_text()[-3000:]
        started = time.monotonic()
        health = httpx.get(daemon.url + "/healthz", timeout=5)
        slowest = max(slowest, time.monotonic() - started)
        assert health.status_code == 200
        last = status(daemon.url)["mappings"]["last_reload"]
        if last["at"] != before and last["ok"] is False:
            assert expected in last["error"], last["error"]
            assert "release.yaml" in last["error"] and "fields.hostile" in last["error"]
            assert slowest < HEALTHY_WITHIN, f"/healthz took {slowest:.2f}s while {template} was refused"
            mapping.write_text(text, encoding="utf-8")  # the next edit starts from the live file
            return last
        time.sleep(0.05)
    raise AssertionError(f"{template} was not refused in time\n{daemon.log.read_text()[-3000:]}")


def test_hostile_mapping_edits_are_refused_while_the_daemon_stays_ready_and_stops_on_sigterm(
    sims: Any, tmp_path: Path
) -> None:
    port = free_port()
    config = daemon_config(sims, tmp_path, port)
    env = {"BRIDGELINE_SERVER__ADMIN_TOKEN": ADMIN}
    with bridgeline_run(config, port, env, tmp_path / "bridgeline.log") as daemon:
        deadline = time.monotonic() + 30
        while True:
            try:
                live = status(daemon.url)
                if live["links_total"] == 2 and live["queue"]["pending"] == 0:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, daemon.log.read_text()[-3000:]
            time.sleep(0.1)
        fingerprint = live["mappings"]["fingerprint"]
        mapping = tmp_path / "mappings" / "release.yaml"
        for index, (template, expected) in enumerate(HOSTILE):
            refuse(daemon, mapping, template, expected, sighup=index > 0)  # the first through the file watch
            assert status(daemon.url)["mappings"]["fingerprint"] == fingerprint  # the previous set is live
            assert daemon.get("/readyz").status_code == 200

        # the live set still syncs
        sims.set_version_description("10003", "Still synced after the hostile edits")
        deadline = time.monotonic() + 30
        while not any(
            c["description"] == "Still synced after the hostile edits" for c in sims.change_requests()
        ):
            assert time.monotonic() < deadline, daemon.log.read_text()[-3000:]
            time.sleep(0.1)

        # a template that is costly only on a real release loads, and burns its budget in a worker
        # thread: the release becomes a dead letter while the daemon keeps answering
        loops = "{% for i in range(100000) %}{% for j in range(100000) %}"
        burner = loops + "{{ version.name }}{% endfor %}{% endfor %}"
        text = mapping.read_text(encoding="utf-8")
        mapping.write_text(
            text.replace("fields:\n", f'fields:\n  hostile: "{burner}"\n', 1), encoding="utf-8"
        )
        daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while status(daemon.url)["mappings"]["fingerprint"] == fingerprint:
            assert time.monotonic() < deadline, daemon.log.read_text()[-3000:]
            time.sleep(0.05)
        sims.set_version_description("10003", "Rendered by a costly template")
        slowest, dead = 0.0, []
        deadline = time.monotonic() + 60
        while not dead:
            assert time.monotonic() < deadline, daemon.log.read_text()[-3000:]
            started = time.monotonic()
            assert httpx.get(daemon.url + "/healthz", timeout=5).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            dead = [d for d in status(daemon.url)["dead_letters"] if d["entity"] == "jira:version:10003"]
            time.sleep(0.05)
        assert "field 'fields.hostile'" in dead[0]["error"]
        assert "the render took more than 2 s of CPU time" in dead[0]["error"]
        assert slowest < HEALTHY_WITHIN, f"/healthz took {slowest:.2f}s while a render burned its budget"

        # the preview renders in a worker thread too, and reports the budget as the reason
        version = {
            "id": "1",
            "name": "9.9",
            "released": False,
            "archived": False,
            "releaseDate": "2024-05-03",
        }
        body = {"mapping": "ops-release", "input": {"version": version, "project": {"id": "1", "key": "PAY"}}}
        answers: list[httpx.Response] = []
        asking = threading.Thread(
            target=lambda: answers.append(
                httpx.post(daemon.url + "/api/preview", json=body, headers=HEADERS, timeout=30)
            )
        )
        asking.start()
        slowest = 0.0
        while asking.is_alive():
            started = time.monotonic()
            assert httpx.get(daemon.url + "/healthz", timeout=5).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.05)
        (preview,) = answers
        assert preview.status_code == 422
        assert "the render took more than 2 s of CPU time" in preview.json()["error"]
        assert slowest < HEALTHY_WITHIN, f"/healthz took {slowest:.2f}s while a preview burned its budget"

        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(30) == 0
    events = [line["event"] for line in daemon.lines()]
    assert events.count("mapping reload refused; the previous mappings stay live") >= len(HOSTILE)
    assert events[-1] == "bridgeline exited cleanly"

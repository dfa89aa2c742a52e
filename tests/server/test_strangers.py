"""Strangers read nothing but health. Operators prove themselves with the admin token or a session
(new on every sign-in, ended server-side); browsers may change things only from bridgeline's own
pages; requests must name this bridgeline; sign-in guesses are limited."""

from __future__ import annotations

import socket
from typing import Any

from .conftest import ADMIN_TOKEN, Daemon

BROKEN = "jira:version:10004"


async def daemon_with_a_dead_letter(start_daemon: Any, sims: Any, **extra: Any) -> Daemon:
    sims.set_version_description("10004", "")  # the mapping requires a description
    extra.setdefault("jira", {"poll_interval": 3600})
    daemon: Daemon = await start_daemon(**extra)
    await daemon.wait_for(lambda s: s["queue"]["dead"] == 1 and s["links_total"] == 1)
    return daemon


async def sign_in(http: Any, token: str = ADMIN_TOKEN, name: str = "alex") -> str:
    answer = await http.post("/status/login", data={"admin_token": token, "name": name})
    assert answer.status_code == 200 and f"signed in as {name}" in answer.text, answer.text[:500]
    cookie: str = http.cookies["bridgeline_session"]
    return cookie


async def test_strangers_read_nothing_but_health(start_daemon: Any, sims: Any) -> None:
    daemon = await daemon_with_a_dead_letter(start_daemon, sims)
    version = {"id": "10003", "name": "3.3.0", "description": "d", "released": False, "archived": False}
    preview = {"mapping": "ops-release", "input": {"version": version, "project": {"key": "PAY"}}}
    async with daemon.stranger() as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        answers = {
            "/status": await http.get("/status"),
            "/": await http.get("/"),
            "/status/preview": await http.get("/status/preview"),
            "/api/status": await http.get("/api/status"),
            "/api/dead-letters": await http.get("/api/dead-letters"),
            "/metrics": await http.get("/metrics"),
            "POST /api/preview": await http.post("/api/preview", json=preview),
            "POST /status/preview": await http.post(
                "/status/preview", data={"mapping": "ops-release", "payload": "{}"}
            ),
            "POST replay": await http.post(f"/api/dead-letters/{BROKEN}/replay"),
        }
    assert ready.status_code == 200
    # the verdict and each check's ok, nothing more: no mapping names, no systems' answers
    assert ready.json() == {"ready": True, "checks": {k: {"ok": True} for k in ready.json()["checks"]}}
    assert {"running", "database", "mappings", "jira", "servicenow"} <= set(ready.json()["checks"])
    for what, answer in answers.items():
        assert answer.status_code == 401, (what, answer.status_code)
        for secret in (BROKEN, "ops-release", "required, but the value is empty", socket.gethostname()):
            assert secret not in answer.text, (what, secret)
        assert answer.headers["www-authenticate"] == 'Bearer realm="bridgeline"'
    assert 'name="admin_token"' in answers["/status"].text  # a stranger sees the sign-in form
    assert (await daemon.service.store.inbox_row(BROKEN)).state == "dead"  # type: ignore[union-attr]


async def test_readiness_tells_why_only_to_operators(start_daemon: Any) -> None:
    daemon: Daemon = await start_daemon(health_ttl=0)
    daemon.sims.set_jira_token("a-token-jira-no-longer-accepts")
    async with daemon.stranger() as stranger, daemon.client() as operator:
        told = await stranger.get("/readyz")
        explained = await operator.get("/readyz")
    assert told.status_code == explained.status_code == 503
    assert told.json()["checks"]["jira"] == {"ok": False}
    assert "credentials refused (401)" in explained.json()["checks"]["jira"]["error"]


async def test_metrics_take_their_own_token_or_are_opened_for_scrapers(start_daemon: Any) -> None:
    scraper = "metrics-scraper-token-9c2d"
    daemon: Daemon = await start_daemon(server={"metrics_token": scraper})
    async with daemon.stranger(headers={"Authorization": f"Bearer {scraper}"}) as http:
        scraped = await http.get("/metrics")
        status = await http.get("/api/status")
    async with daemon.stranger() as http:
        refused = await http.get("/metrics")
    assert scraped.status_code == 200 and "bridgeline_info" in scraped.text
    assert status.status_code == 401  # the metrics token reads the metrics and nothing else
    assert refused.status_code == 401 and "server.metrics_token" in refused.json()["detail"]

    opened: Daemon = await start_daemon(server={"metrics_open": True})
    async with opened.stranger() as http:
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/api/status")).status_code == 401


async def test_each_sign_in_starts_a_new_session_and_signing_out_ends_it_everywhere(
    start_daemon: Any, sims: Any
) -> None:
    daemon = await daemon_with_a_dead_letter(start_daemon, sims)
    async with daemon.stranger() as browser, daemon.stranger() as thief:
        first = await sign_in(browser)
        second = await sign_in(browser)
        assert first != second and ADMIN_TOKEN not in second
        # the session of the first sign-in ended with the second: a copy of it opens nothing
        thief.cookies.set("bridgeline_session", first)
        assert (await thief.get("/api/status")).status_code == 401
        thief.cookies.set("bridgeline_session", second)
        assert (await thief.get("/api/status")).status_code == 200
        page = await browser.post("/status/logout")
        assert page.status_code == 401 and "signed out" in page.text
        assert "bridgeline_session" not in browser.cookies
        # signed out on the server: the copied cookie is worthless too
        assert (await thief.get("/api/status")).status_code == 401
        assert (await thief.post(f"/api/dead-letters/{BROKEN}/replay")).status_code == 401


async def test_the_api_refuses_a_foreign_origin_and_the_content_types_forms_send(
    start_daemon: Any, sims: Any
) -> None:
    daemon = await daemon_with_a_dead_letter(start_daemon, sims)
    replay = f"/api/dead-letters/{BROKEN}/replay"
    async with daemon.stranger() as browser:
        await sign_in(browser)
        forged = {
            "a foreign Origin": await browser.post(replay, headers={"Origin": "https://evil.example"}),
            "Origin null": await browser.post(replay, headers={"Origin": "null"}),
            "a foreign Referer": await browser.post(replay, headers={"Referer": "https://evil.example/x"}),
            "Sec-Fetch-Site cross-site": await browser.post(replay, headers={"Sec-Fetch-Site": "cross-site"}),
            "Sec-Fetch-Site same-site": await browser.post(replay, headers={"Sec-Fetch-Site": "same-site"}),
            "a sign-in from a foreign page": await browser.post(
                "/status/login", data={"admin_token": ADMIN_TOKEN}, headers={"Origin": "https://evil.example"}
            ),
        }
        simple = {
            "text/plain": await browser.post(replay, content=b"{}", headers={"Content-Type": "text/plain"}),
            "a form": await browser.post(replay, data={"x": "1"}),
            "multipart": await browser.post(replay, files={"x": ("x", b"1")}),
        }
        for what, answer in forged.items():
            assert answer.status_code == 403, what
            assert "another site" in answer.json()["error"] or "Sec-Fetch-Site" in answer.json()["error"], (
                what
            )
        for what, answer in simple.items():
            assert answer.status_code == 415, what
            assert "send Content-Type: application/json" in answer.json()["error"], what
        assert (await daemon.service.store.inbox_row(BROKEN)).state == "dead"  # type: ignore[union-attr]
        # from the page itself it works
        own = await browser.post(replay, headers={"Origin": daemon.url, "Sec-Fetch-Site": "same-origin"})
        assert own.status_code == 200 and own.json()["done"] == [BROKEN]


async def test_requests_must_name_this_bridgeline(start_daemon: Any) -> None:
    daemon: Daemon = await start_daemon()
    async with daemon.client() as http:
        rebound = await http.get("/api/status", headers={"Host": "attacker.example"})
        page = await http.get("/status", headers={"Host": "attacker.example:8080"})
        by_name = await http.get("/api/status", headers={"Host": f"localhost:{daemon.port}"})
        by_address = await http.get("/api/status", headers={"Host": f"[::1]:{daemon.port}"})
        probe = await http.get("/readyz", headers={"Host": "10.1.2.3:8080"})
        health = await http.get("/healthz", headers={"Host": "bridgeline-7f9c.pods.local"})
    assert rebound.status_code == page.status_code == 400
    assert "server.public_url" in rebound.json()["error"]
    assert by_name.status_code == by_address.status_code == 200
    assert probe.status_code == health.status_code == 200  # probes address a pod however they like

    behind: Daemon = await start_daemon(server={"public_url": "https://bridgeline.example.com"})
    async with behind.client() as http:
        public = await http.get("/api/status", headers={"Host": "bridgeline.example.com"})
        other = await http.get("/api/status", headers={"Host": "bridgeline.internal"})
        # a proxy that passes its own Host: the Origin of the public URL is still this bridgeline
        proxied = await http.post(
            "/api/dead-letters/jira:version:1/replay", headers={"Origin": "https://bridgeline.example.com"}
        )
        foreign = await http.post(
            "/api/dead-letters/jira:version:1/replay", headers={"Origin": f"http://127.0.0.1:{behind.port}0"}
        )
    assert public.status_code == 200 and other.status_code == 400
    assert "https://bridgeline.example.com" in other.json()["error"]
    assert proxied.status_code == 404  # let through: there is no such dead letter
    assert foreign.status_code == 403


async def test_failed_sign_ins_are_limited_per_client_address(start_daemon: Any) -> None:
    daemon: Daemon = await start_daemon(server={"sign_in_attempts": 3})
    guesser = {"X-Forwarded-For": "203.0.113.7"}  # the daemon believes its loopback proxy
    async with daemon.stranger(headers=guesser) as http:
        for _ in range(3):
            wrong = await http.post("/status/login", data={"admin_token": "guess"})
            assert wrong.status_code == 401 and "that admin token is not right" in wrong.text
        limited = await http.post("/status/login", data={"admin_token": ADMIN_TOKEN})
        bearer = await http.get("/api/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "too many failed sign-ins from 203.0.113.7" in limited.text
    assert bearer.status_code == 429  # the token itself is not tried either meanwhile
    # a wrong bearer token is a failed sign-in too
    async with daemon.stranger(headers={"X-Forwarded-For": "198.51.100.4"}) as http:
        for _ in range(3):
            assert (
                await http.get("/api/status", headers={"Authorization": "Bearer nope"})
            ).status_code == 401
        assert (await http.get("/api/status", headers={"Authorization": "Bearer nope"})).status_code == 429
    # everyone else is unaffected
    async with daemon.stranger() as http:
        await sign_in(http)

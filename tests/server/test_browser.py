"""The status page in headless Chromium: it loads, shows links to both systems, and a replay works."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import Daemon

CHROMIUM = os.environ.get("BRIDGELINE_TEST_CHROMIUM", "/usr/bin/chromium")
TOKEN = "browser-admin-token-77d1"
BROKEN = "jira:version:10004"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set BRIDGELINE_TEST_CHROMIUM)",
    ),
]


async def test_the_status_page_loads_and_a_replay_works(start_daemon: Any, sims: Any, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    sims.set_version_description("10004", "")
    # one poll only: the fix below reaches bridgeline through the replay, not through a later poll
    daemon: Daemon = await start_daemon(server={"admin_token": TOKEN}, jira={"poll_interval": 3600})
    await daemon.wait_for(lambda s: s["queue"]["dead"] == 1 and s["links_total"] == 1)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = await browser.new_page()
            await page.goto(daemon.url + "/status")
            # a stranger sees the sign-in form and nothing else
            await expect(page.locator("h2", has_text="Dead letters")).to_have_count(0)
            await page.fill('#login input[name="name"]', "Alex Mercer")
            await page.fill('#login input[name="admin_token"]', TOKEN)
            await page.click('#login button[type="submit"]')
            await expect(page.locator("#notice")).to_contain_text("signed in as Alex Mercer")
            await expect(page.locator("h2", has_text="Dead letters")).to_be_visible()
            jira_link = page.locator("#links a.jira").first
            release = f"{sims.jira_url}/projects/PAY/versions/10003/tab/release-report-all-issues"
            assert await jira_link.get_attribute("href") == release
            change = page.locator("#links a.change").first
            assert (await change.inner_text()).startswith("CHG")
            assert (await change.get_attribute("href") or "").startswith(sims.snow_url + "/change_request.do")
            row = page.locator(f'#dead-letters tr[data-entity="{BROKEN}"]')
            await expect(row).to_contain_text("required, but the value is empty")

            sims.set_version_description("10004", "Card tokenisation")
            await row.get_by_role("button", name="Replay").click()
            await expect(page.locator("#notice")).to_contain_text(f"{BROKEN} queued again")
            await daemon.wait_for(lambda s: s["links_total"] == 2 and s["queue"]["dead"] == 0)
            await page.reload()
            await expect(page.locator(f'#dead-letters tr[data-entity="{BROKEN}"]')).to_have_count(0)
            await expect(page.locator("#links a.change")).to_have_count(2)
            await page.screenshot(path=str(tmp_path / "status.png"), full_page=True)

            with sims.jira_api() as api:
                payload = {
                    "version": api.get("/version/10003").json(),
                    "project": api.get("/project/PAY").json(),
                }
            await page.goto(daemon.url + "/status/preview")
            await page.select_option("#mapping", "ops-release")
            await page.fill("#payload", json.dumps(payload))
            await page.click('#preview-form button[type="submit"]')
            field = page.locator('#fields tr[data-field="short_description"]')
            await expect(field).to_contain_text("Release PAY 3.3.0")
            await expect(page.locator("#identity")).to_have_text("jira:PAY:version:10003")

            await page.goto(daemon.url + "/status")
            await page.click('#logout button[type="submit"]')
            await expect(page.locator("#notice")).to_contain_text("signed out")
            await expect(page.locator("#login")).to_be_visible()
            audit = await daemon.service.store.recent_audit(entity=BROKEN)
            assert any(a.detail == "replay asked by session:Alex Mercer from 127.0.0.1" for a in audit)
        finally:
            await browser.close()

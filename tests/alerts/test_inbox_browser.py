"""The staff inbox in a real browser: a note created through the FHIR REST API appears
live (server-sent events, no reload) in the care manager's open inbox, and Acknowledge
completes its Task."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.services import SERVICES
from tests.alerts.world import GRACE, care_team, eventually, note, patient, put, search
from tests.bot.browser import ARTIFACTS, chromium
from tests.bot.service import DEMO_PASSWORD, running_application, service_settings

pytestmark = pytest.mark.browser


async def test_a_note_appears_live_in_the_inbox_and_is_acknowledged(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = service_settings(tmp_path, sqlite_url)
    async with running_application(settings) as (base, app), chromium() as browser:
        services = app[SERVICES]
        fhir = services.fhir.system()
        await put(fhir, patient("p1", "Alice", "Martin"), care_team("p1", GRACE))
        page = await browser.new_page(locale="en-US")
        await page.goto(f"{base}/staff")
        await page.fill("#username", "grace")
        await page.fill("#password", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await page.get_by_text("Welcome, Grace Miller").wait_for()
        await page.goto(f"{base}/staff/alerts")
        await page.get_by_text("No open alerts.").wait_for()

        # a provider's note, written through the store's REST API over the network
        async with httpx.AsyncClient(base_url=f"{base}/fhir") as http:
            response = await http.post(
                "/DocumentReference",
                json=note("p1", "Reviewed medication; dizziness on standing."),
                headers={
                    "Authorization": f"Bearer {services.fhir.system_token()}",
                    "Content-Type": "application/fhir+json",
                },
            )
        assert response.status_code == 201
        focus = f"DocumentReference/{response.json()['id']}"
        task = (await eventually(lambda: search(fhir, "Task", focus=focus)))[0]

        row = page.locator(f"#alert-{task['id']}")
        await row.wait_for(timeout=10_000)  # arrived live: the page was not reloaded
        assert "New clinical note" in await row.inner_text()
        assert "Alice Martin" in await row.inner_text()
        assert await page.get_by_text("No open alerts.").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "staff-alerts.png"), full_page=True)

        await row.get_by_role("button", name="Acknowledge").click()
        await page.wait_for_load_state()
        await page.get_by_text("No open alerts.").wait_for()
        _, done = await fhir.request_json("GET", f"Task/{task['id']}")
        assert done is not None and done["status"] == "completed"

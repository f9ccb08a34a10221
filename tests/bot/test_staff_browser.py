"""The staff pages in headless Chromium: a provider signs in, opens a booked visit's summary
with its vitals chart, sees Join only once consent is active, adds a note; the administrator
finds those accesses in the audit view. axe-core checks every page (no serious or critical
violation); screenshots go to tests/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

from tests.bot.browser import ARTIFACTS, chromium
from tests.bot.service import DEMO_PASSWORD, running_app, service_settings
from tests.bot.staff_world import ADMIN_USER, ALICE, CHEN, seed_staff_world, sign_consent

AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on PAGE."""
    # evaluated through the DevTools protocol, which the page's CSP does not govern
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = await page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


async def _checked(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"staff-{name}.png"), full_page=True)
    violations = await axe_violations(page)
    assert not violations, (name, [(v["id"], v["impact"], v["help"]) for v in violations])


async def _sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(f"{base}/staff")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("button[type=submit]")


async def test_provider_and_admin_in_the_browser(tmp_path: Path, sqlite_url: str) -> None:
    settings = service_settings(tmp_path, sqlite_url, timezone="UTC")
    async with running_app(settings) as (base, services), chromium() as browser:
        world = await seed_staff_world(services)
        page = await browser.new_page()
        await _sign_in(page, base, "dr.chen")
        await page.wait_for_url("**/staff/queue")
        await page.goto(f"{base}/staff/queue?day={world.day}")
        row = page.locator("tr", has_text="Alice Martin")
        await row.get_by_text("Intake pending").wait_for()
        await _checked(page, "queue")
        await row.get_by_role("link").click()
        await page.wait_for_url(f"**/staff/visits/{world.alice_visit}")
        assert await page.locator("figure.chart svg").count() == 1
        assert await page.locator("a.join").count() == 0  # no consent yet
        await _checked(page, "summary-no-consent")
        await sign_consent(services, ALICE)
        await page.reload()
        join = page.locator("a.join")
        assert "carebot-test-" in (await join.get_attribute("href") or "")
        await page.fill("#note", "Reviewed before the visit.")
        await page.get_by_role("button", name="Add note").click()
        await page.get_by_role("status").get_by_text("Note saved.").wait_for()
        await page.get_by_text("Reviewed before the visit.").wait_for()
        await _checked(page, "summary-note")
        admin = await browser.new_page()
        await _sign_in(admin, base, ADMIN_USER)
        await admin.wait_for_url("**/staff/audit")
        await admin.fill("#patient", "demo-patient-alice")
        await admin.fill("#person", "dr.chen")
        await admin.select_option("#action", "R")
        await admin.get_by_role("button", name="Filter").click()
        await admin.get_by_text(f"Appointment/{world.alice_visit}").first.wait_for()
        assert await admin.locator("tbody tr", has_text=CHEN).count() > 0
        await _checked(admin, "audit")

"""The patient portal in a real browser: sign in, chat through Microsoft's Web Chat."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from tests.bot.browser import ARTIFACTS, chromium
from tests.bot.service import DEMO_PASSWORD, running_service, service_settings

pytestmark = pytest.mark.browser

WEBCHAT_DIR = Settings().webchat_dir.resolve()


async def test_patient_signs_in_and_web_chat_greets_them_by_name(
    tmp_path: Path, sqlite_url: str
) -> None:
    assert (WEBCHAT_DIR / "webchat.js").is_file(), "Web Chat is installed by `make test`"
    settings = service_settings(tmp_path, sqlite_url, webchat_dir=WEBCHAT_DIR)
    async with running_service(settings) as base, chromium() as browser:
        page = await browser.new_page(locale="en-US")
        await page.goto(f"{base}/portal")
        await page.fill("#username", "alice")
        await page.fill("#password", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        send_box = page.locator("[data-id='webchat-sendbox-input']")
        await send_box.wait_for(timeout=30_000)
        # The opening greeting arrives when the conversation starts.
        await page.get_by_text("Hello Alice!").first.wait_for(timeout=30_000)
        await send_box.fill("hello")
        await send_box.press("Enter")
        greetings = page.locator("p", has_text="Hello Alice!")
        await page.wait_for_function(
            "() => [...document.querySelectorAll('.webchat__bubble:not(.webchat__bubble--from-user) p')]"
            ".filter(p => p.textContent.includes('Hello Alice!')).length >= 2",
            timeout=30_000,
        )
        assert await greetings.count() >= 2
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "portal-hello.png"), full_page=True)


async def test_wrong_password_is_refused_in_the_browser(tmp_path: Path, sqlite_url: str) -> None:
    async with (
        running_service(service_settings(tmp_path, sqlite_url)) as base,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await page.goto(f"{base}/portal")
        await page.fill("#username", "alice")
        await page.fill("#password", "not the password")
        await page.click("button[type=submit]")
        await page.get_by_role("alert").wait_for()
        assert await page.get_by_role("alert").inner_text() == (
            "Wrong username or password. Care team members sign in at /staff."
        )
        assert await page.locator("#webchat").count() == 0

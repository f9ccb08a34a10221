"""Switching language in the chat re-creates Web Chat with the new locale at once and serves
the page in that language, the conversation kept (headless chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.browser import ARTIFACTS, portal_service, portal_sign_in, wait_for_new_bubble
from tests.bot.service import DEMO_PASSWORD

pytestmark = pytest.mark.browser
PLACEHOLDER = "[data-id='webchat-sendbox-input']"


async def test_a_language_switch_changes_web_chat_and_the_page_at_once(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with portal_service(tmp_path, sqlite_url) as (base, browser):
        page = await browser.new_page(locale="en-US", viewport={"width": 390, "height": 844})
        send_box = await portal_sign_in(page, base, "emma", DEMO_PASSWORD)
        english = await send_box.get_attribute("placeholder")
        assert await page.locator("header button[type=submit]").inner_text() == "Sign out"
        bubbles = await wait_for_new_bubble(page, 1)
        await send_box.fill("language")
        await send_box.press("Enter")
        bubbles = await wait_for_new_bubble(page, len(bubbles))
        await send_box.fill("Français")
        await send_box.press("Enter")
        await page.wait_for_function("() => document.documentElement.lang === 'fr'", timeout=30_000)
        french_box = page.locator(PLACEHOLDER)
        await french_box.wait_for(timeout=30_000)
        assert await page.locator("header button[type=submit]").inner_text() == "Se déconnecter"
        assert await page.locator("#new-conversation").inner_text() == "Nouvelle conversation"
        french = await french_box.get_attribute("placeholder")
        assert french and french != english, (english, french)
        # the conversation is kept: the choice and its confirmation are still there
        await page.get_by_text("Français").last.wait_for(timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "portal-language-fr-390.png"), full_page=True)

"""A whole triage in the portal, in headless chromium: story, age, card answers, outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from tests.bot.browser import ARTIFACTS, chromium, portal_sign_in, wait_for_new_bubble
from tests.bot.service import DEMO_PASSWORD, running_service, service_settings

pytestmark = pytest.mark.browser


async def test_patient_completes_a_triage_by_typing_and_clicking_card_answers(
    tmp_path: Path, sqlite_url: str
) -> None:
    webchat = Settings().webchat_dir.resolve()
    settings = service_settings(tmp_path, sqlite_url, webchat_dir=webchat)
    async with running_service(settings) as base, chromium() as browser:
        page = await browser.new_page(locale="en-US", viewport={"width": 900, "height": 1400})
        send_box = await portal_sign_in(page, base, "emma", DEMO_PASSWORD)
        bubbles = await wait_for_new_bubble(page, 1)  # greeting and offer

        await send_box.fill("I have a sore throat and a runny nose since yesterday")
        await send_box.press("Enter")
        bubbles = await wait_for_new_bubble(page, len(bubbles))
        assert "How old" in bubbles[-1]
        await send_box.fill("24")
        await send_box.press("Enter")

        answered = 0
        while answered < 10:
            bubbles = await wait_for_new_bubble(page, len(bubbles))
            if "Why:" in bubbles[-1]:
                break
            # The newest card asks a yes / no question: answer with its "No" button.
            await page.get_by_role("button", name="No", exact=True).last.click()
            answered += 1
        outcome = bubbles[-1]
        assert "You can look after this at home" in outcome
        assert 1 <= answered <= 8  # a typical interview asks at most about 8 questions
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "portal-triage.png"), full_page=True)


async def test_a_red_flag_in_the_portal_gives_emergency_advice(
    tmp_path: Path, sqlite_url: str
) -> None:
    webchat = Settings().webchat_dir.resolve()
    settings = service_settings(tmp_path, sqlite_url, webchat_dir=webchat)
    async with running_service(settings) as base, chromium() as browser:
        page = await browser.new_page(locale="en-US")
        send_box = await portal_sign_in(page, base, "david", DEMO_PASSWORD)
        bubbles = await wait_for_new_bubble(page, 1)
        await send_box.fill("crushing chest pain going down my left arm and I'm sweating")
        await send_box.press("Enter")
        bubbles = await wait_for_new_bubble(page, len(bubbles))
        assert "911" in "\n".join(bubbles[-2:])

"""The portal keeps the patient's conversation across a reload, in headless chromium; a new
conversation starts afresh; each answer button is shown once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bot.browser import (
    ARTIFACTS,
    bot_bubbles,
    portal_service,
    portal_sign_in,
    wait_for_new_bubble,
)
from tests.bot.service import DEMO_PASSWORD

pytestmark = pytest.mark.browser
STORY = "I have a sore throat and a runny nose since yesterday"


async def test_a_reload_keeps_the_conversation_and_its_question(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with portal_service(tmp_path, sqlite_url) as (base, browser):
        page = await browser.new_page(locale="en-US", viewport={"width": 1280, "height": 1000})
        send_box = await portal_sign_in(page, base, "emma", DEMO_PASSWORD)
        bubbles = await wait_for_new_bubble(page, 1)
        await send_box.fill(STORY)
        await send_box.press("Enter")
        bubbles = await wait_for_new_bubble(page, len(bubbles))
        if "How old" in bubbles[-1]:  # no birth date on this test record
            await send_box.fill("24")
            await send_box.press("Enter")
            bubbles = await wait_for_new_bubble(page, len(bubbles))
        question = bubbles[-1]
        no = page.locator("button.ac-pushButton").filter(has_text=re.compile(r"^No$"))
        assert await no.count() == 1  # on the card only, not again as a suggestion
        assert await page.locator(".webchat__suggested-action").count() == 0

        await page.reload()
        await page.locator("[data-id='webchat-sendbox-input']").wait_for(timeout=30_000)
        await page.get_by_text(STORY).last.wait_for(timeout=30_000)
        await page.wait_for_function(
            "q => [...document.querySelectorAll('.webchat__bubble')].some(b => b.innerText.includes(q))",
            arg=question.strip().split("\n")[0],
            timeout=30_000,
        )
        resumed = await bot_bubbles(page)
        assert resumed[: len(bubbles)] == bubbles  # the history, in order, once
        await no.last.click()  # the question is still pending after the reload
        after = await wait_for_new_bubble(page, len(resumed))
        assert after[-1] != question and "Sorry" not in after[-1]
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "portal-reload.png"), full_page=True)

        # An old card's button, clicked now, is answered sensibly, not "Sorry".
        await page.locator("button.ac-pushButton", has_text="Not sure").first.click()
        earlier = await wait_for_new_bubble(page, len(after))
        reply = "\n".join(earlier[len(after) :])
        finished = "Why:" in after[-1]
        assert ("already finished" if finished else "earlier question") in reply, reply

        await page.click("#new-conversation")
        await page.wait_for_function(
            "() => !document.body.innerText.includes(" + repr(STORY) + ")", timeout=30_000
        )
        fresh = await wait_for_new_bubble(page, 0)
        assert fresh[0].startswith("Hello Emma")
        assert STORY not in "\n".join(fresh)

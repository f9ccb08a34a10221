"""A patient asks for a person in the portal chat; the care manager takes the request on
/staff/handoffs, messages go both ways live (the patient's Web Chat gets the care manager's
as bot activities; the staff page gets the patient's by server-sent events), then she hands
the chat back to the bot. At 1280 px and 390 px, screenshots of both sides."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.demo_clinical import record_bundle
from bot.settings import Settings
from dialogs.texts import HANDOFF_LABEL
from tests.bot.browser import (
    ARTIFACTS,
    chromium,
    portal_sign_in,
    staff_sign_in,
    wait_for_bubble,
)
from tests.bot.service import DEMO_PASSWORD, running_app, service_settings

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 390])
async def test_a_care_manager_takes_the_chat_and_hands_it_back(
    tmp_path: Path, sqlite_url: str, width: int
) -> None:
    webchat = Settings().webchat_dir.resolve()
    settings = service_settings(tmp_path, sqlite_url, webchat_dir=webchat)
    viewport = {"width": width, "height": 1000}
    async with running_app(settings) as (base, services), chromium() as browser:
        await services.fhir.system().post_bundle_json(record_bundle(datetime.now(UTC)))
        patient = await browser.new_page(locale="en-US", viewport=viewport)  # type: ignore[arg-type]
        send_box = await portal_sign_in(patient, base, "alice", DEMO_PASSWORD)

        async def say(text: str) -> None:
            await send_box.fill(text)
            await send_box.press("Enter")

        await wait_for_bubble(patient, "What would you like to do?")
        await say("can I speak to a real person")
        await patient.locator(
            "button.webchat__suggested-action", has_text=HANDOFF_LABEL["en"]
        ).click()
        await wait_for_bubble(patient, "asked the care team")  # Web Chat curls the apostrophe
        await say("I feel dizzy since this morning")

        staff = await (await browser.new_context(viewport=viewport)).new_page()  # type: ignore[arg-type]
        await staff_sign_in(staff, base, "grace", DEMO_PASSWORD)
        await staff.goto(f"{base}/staff/handoffs")
        await staff.locator("li.handoff a").click()
        await staff.get_by_role("heading", name="Alice Martin").wait_for()  # from the record
        await staff.get_by_text("I feel dizzy since this morning").wait_for()
        await staff.get_by_role("button", name="Take this conversation").click()
        await wait_for_bubble(patient, "Grace Miller (care team) has joined the chat.")
        await staff.fill("#text", "Hello Alice, how long have you felt dizzy?")
        await staff.get_by_role("button", name="Send").click()
        await wait_for_bubble(patient, "Grace Miller (care team): Hello Alice, how long")
        await say("Since 8 this morning, and I am thirsty")  # live on the staff page, no reload
        await staff.locator("p.msg.patient", has_text="Since 8 this morning").wait_for()
        ARTIFACTS.mkdir(exist_ok=True)
        await staff.screenshot(path=str(ARTIFACTS / f"handoff-staff-{width}.png"), full_page=True)
        await patient.screenshot(path=str(ARTIFACTS / f"handoff-patient-{width}.png"))

        await staff.get_by_role("button", name="Hand back to the bot").click()
        await staff.get_by_text("Nobody is waiting.").wait_for()
        await wait_for_bubble(patient, "Grace Miller has handed you back to the care assistant.")
        await say("thanks")
        await wait_for_bubble(patient, "You are back with the care assistant.")
        await say("my vitals")  # the bot answers again
        await wait_for_bubble(patient, "vitals")

"""My vitals in the portal, in headless chromium at desktop and phone widths: the text, the
chart and the "outside the normal range" message agree on the seeded readings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.demo import seed_clinical_record
from bot.patient_records import PatientVitals
from bot.settings import Settings
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.vitals_bands import is_normal, shown
from dialogs.vitals_dialog import SUMMARY_NAMES, describe_latest
from tests.bot.browser import ARTIFACTS, chromium, portal_sign_in, wait_for_new_bubble
from tests.bot.service import DEMO_PASSWORD, running_app, service_settings

pytestmark = pytest.mark.browser
ZONE = "Europe/Paris"
WIDTHS = (1280, 390)
WORST = re.compile(r"the worst (\d+(?:\.\d)?)|once, (\d+(?:\.\d)?)")


async def test_alice_and_david_see_text_chart_and_message_agree(
    tmp_path: Path, sqlite_url: str
) -> None:
    kb = load_knowledge()
    webchat = Settings().webchat_dir.resolve()
    settings = service_settings(tmp_path, sqlite_url, webchat_dir=webchat, timezone=ZONE)
    async with running_app(settings) as (base, services), chromium() as browser:
        await seed_clinical_record(services.fhir.system(), datetime.now(UTC))
        for username in ("alice", "david"):
            patient = f"Patient/demo-patient-{username}"
            readings = await PatientVitals(services.fhir).readings(
                patient, datetime.now(UTC) - timedelta(days=7), reader="test"
            )
            assert any(not is_normal(r, kb) for r in readings), "the seed has out-of-range days"
            for width in WIDTHS:
                page = await browser.new_page(
                    locale="en-US", viewport={"width": width, "height": 900}
                )
                send_box = await portal_sign_in(page, base, username, DEMO_PASSWORD)
                bubbles = await wait_for_new_bubble(page, 1)
                await send_box.fill("my vitals")
                await send_box.press("Enter")
                await page.get_by_text("Outside the normal range in the last 7 days").last.wait_for(
                    timeout=60_000
                )
                text = "\n".join(await wait_for_new_bubble(page, len(bubbles)))
                # The text is what the single source of truth says of the latest readings.
                expected = describe_latest(readings, datetime.now(UTC), "en", ZoneInfo(ZONE), kb)
                for line in expected:
                    assert line in text, (username, width, line)
                # The message names each vital out of range in the period, with its worst value,
                # and that value is out of range by the same bands.
                message = next(
                    line for line in text.split("\n") if line.startswith("Outside the normal")
                )
                for kind, names in SUMMARY_NAMES.items():
                    out = [r for r in readings if r.kind is kind and not is_normal(r, kb)]
                    assert (names["en"] in message.lower()) == bool(out), (kind, message)
                for match in WORST.finditer(message):
                    value = float(match.group(1) or match.group(2))
                    assert any(
                        shown(r).value == value and not is_normal(r, kb) for r in readings
                    ), (value, message)
                # The chart is drawn at about twice the pixels it is shown at: legible on a phone.
                image = page.locator("img[src^='data:image/png']").last
                await image.scroll_into_view_if_needed()
                natural, shown_width = await image.evaluate(
                    "img => [img.naturalWidth, img.getBoundingClientRect().width]"
                )
                assert 0 < shown_width <= width
                assert natural >= 1.5 * shown_width or natural >= 700, (natural, shown_width)
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(
                    path=str(ARTIFACTS / f"portal-vitals-{username}-{width}.png"), full_page=True
                )
                await page.close()

"""A whole booking in the portal, in headless chromium: a consultation_24 triage, slots
only within 24 hours, intake, signed consent, the link in the chat; then the store holds
the Appointment, the active Consent and its Provenance, and var/mail the mail and its .ics."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.demo_clinical import record_bundle
from bot.settings import Settings
from integrations.fhir.client import FhirClient
from tests.bot.browser import ARTIFACTS, chromium, portal_sign_in, wait_for_new_bubble
from tests.bot.service import DEMO_PASSWORD, running_app, service_settings

pytestmark = pytest.mark.browser


async def _around_the_clock(system: FhirClient) -> None:
    """Dr Chen works every day, all day: a slot within 24 hours whenever the test runs."""
    path = "PractitionerRole/demo-practitioner-chen-role"
    _, role = await system.request_json("GET", path)
    assert role is not None
    body = {k: v for k, v in role.items() if k != "meta"}
    await system.request_json("PUT", path, body={**body, "availableTime": [{"allDay": True}]})


async def test_a_patient_books_a_visit_in_the_portal_and_sees_the_link(
    tmp_path: Path, sqlite_url: str
) -> None:
    webchat = Settings().webchat_dir.resolve()
    settings = service_settings(tmp_path, sqlite_url, webchat_dir=webchat)
    async with running_app(settings) as (base, services), chromium() as browser:
        system = services.fhir.system()
        await system.post_bundle_json(record_bundle(datetime.now(UTC)))  # what `carebot demo` does
        await _around_the_clock(system)  # demo doctors work Mon-Fri: any day and hour passes
        page = await browser.new_page(locale="en-US", viewport={"width": 900, "height": 1600})
        send_box = await portal_sign_in(page, base, "alice", DEMO_PASSWORD)
        bubbles = await wait_for_new_bubble(page, 1)

        async def say(text: str) -> list[str]:
            await send_box.fill(text)
            await send_box.press("Enter")
            return await wait_for_new_bubble(page, len(bubbles))

        bubbles = await say("It burns when I pee and I need to go all the time")
        bubbles = await say("34")
        assert "You should be seen within 24 hours" in "\n".join(bubbles[-3:])
        now = datetime.now(UTC)
        buttons = page.locator("button.webchat__suggested-action")
        await buttons.first.wait_for(timeout=30_000)
        labels = [t for t in await buttons.all_inner_texts() if t not in ("later",)]
        assert labels
        first = labels[0]
        await buttons.first.click()
        bubbles = await wait_for_new_bubble(page, len(bubbles))
        assert f"holding {first} for you" in "\n".join(bubbles[-2:])
        bubbles = await say("yes")
        bubbles = await say("use my insurance")
        bubbles = await say("yes")
        assert "consent" in "\n".join(bubbles[-2:]).lower()
        bubbles = await say("Alice Martin")
        booked = next(b for b in bubbles[-3:] if "is booked for" in b)
        link = booked.rsplit(": ", 1)[1].strip().strip("\u200b")
        assert link.startswith("https://meet.jit.si/carebot-")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "portal-booking.png"), full_page=True)

        _, appointments = await system.request_json(
            "GET", "Appointment", params=[("patient", "Patient/demo-patient-alice")]
        )
        (appointment,) = [e["resource"] for e in (appointments or {})["entry"]]
        assert appointment["status"] == "booked"
        start = datetime.fromisoformat(appointment["start"].replace("Z", "+00:00"))
        assert now < start <= now + timedelta(hours=24)  # only inside the window
        assert any(p["actor"]["reference"].startswith("Practitioner/")
                   for p in appointment["participant"])  # fmt: skip
        _, consents = await system.request_json(
            "GET", "Consent", params=[("patient", "Patient/demo-patient-alice")]
        )
        (consent,) = [e["resource"] for e in (consents or {})["entry"]]
        assert consent["status"] == "active"
        _, provenances = await system.request_json(
            "GET", "Provenance", params=[("target", f"Consent/{consent['id']}")]
        )
        (provenance,) = [e["resource"] for e in (provenances or {})["entry"]]
        assert provenance["signature"][0]["data"]
        mails: list[email.message.EmailMessage] = []
        for _ in range(100):  # the outbox hands the mails to var/mail in the background
            mails = [
                email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
                for p in (settings.var_dir / "mail").glob("*.eml")
            ]
            if len(mails) >= 2:
                break
            await asyncio.sleep(0.1)
    to_alice = [m for m in mails if m["To"] == "alice@patients.example.org"]
    assert to_alice and link in to_alice[0].get_body().get_content()  # type: ignore[union-attr]
    assert [p for p in to_alice[0].iter_attachments() if p.get_content_type() == "text/calendar"]

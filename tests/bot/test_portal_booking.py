"""Booking out of the box: the demo-seeded service, a patient in the portal's Direct Line
chat books a video visit from the menu, signs the consent, sees the link; the mail with its
`.ics` reaches var/mail through the outbox worker."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.demo import _load_or_make_password, run_demo_seed
from bot.settings import Settings
from tests.bot.directline_client import DirectLineTestClient, browser_session
from tests.bot.service import running_service, service_settings


@pytest.fixture
async def seeded(tmp_path: Path, sqlite_url: str) -> Settings:
    settings = service_settings(tmp_path, sqlite_url)
    assert await run_demo_seed(settings, days=0.1) == 0
    return settings


async def _turn(client: DirectLineTestClient, text: str) -> list[dict[str, Any]]:
    await client.say(text)
    await asyncio.sleep(0)
    return [a for a in await client.new_activities()
            if a["from"]["role"] == "bot" and a["type"] == "message"]  # fmt: skip


async def test_a_demo_patient_books_a_visit_in_the_portal_chat(seeded: Settings) -> None:
    password = _load_or_make_password(seeded)
    async with running_service(seeded, seed=False) as base, browser_session() as http:
        client = DirectLineTestClient(http, base)
        await client.sign_in("alice", password)
        await client.start()
        await client.bot_texts()
        offer = (await _turn(client, "book a visit"))[-1]
        assert offer["text"].startswith("Here are the free times for a video visit")
        titles = [a["title"] for a in offer["suggestedActions"]["actions"]]
        assert len(titles) == 7 and titles[-1] == "later"  # six slots of the demo providers
        for answer in (titles[0], "yes", "use my insurance", "yes"):
            replies = await _turn(client, answer)
        assert replies[-1]["text"].startswith("Consent to a virtual visit")
        booked = await _turn(client, "Alice Martin")
        assert booked[0]["text"].startswith("Your video visit with Dr ")
        assert "https://meet.jit.si/carebot-" in booked[0]["text"]
        mail_dir = seeded.var_dir / "mail"
        for _ in range(100):  # the outbox worker delivers the two confirmations
            if len(list(mail_dir.glob("*.eml"))) == 2:
                break
            await asyncio.sleep(0.1)
        mails = [p.read_text() for p in mail_dir.glob("*.eml")]
        assert len(mails) == 2
        assert all("text/calendar" in m and "visit.ics" in m for m in mails)

"""H3: chat text over the limit gets a polite reply in the sender's language on every channel
and never reaches the dialogs (the 250 KB timing is in bench/edge_long_message.py)."""

from __future__ import annotations

from pathlib import Path

from bot.text_limit import TOO_LONG
from tests.bot.directline_client import browser_session
from tests.bot.service import emulator_settings, running_service
from tests.fakes.bot_connector import FakeBotConnector
from tests.security.edge import message, patient

CLAUSE = "I do not have a fever, not a cough but a headache; "
LONG = (CLAUSE * 100)[:4001]


async def test_long_text_gets_a_polite_reply_on_both_channels(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = emulator_settings(tmp_path, sqlite_url)
    async with (
        FakeBotConnector() as connector,
        running_service(settings) as base,
        browser_session() as http,
    ):
        alice = await patient(http, base, "alice")
        await alice.say(LONG)
        assert await alice.bot_texts() == [TOO_LONG["en"].format(length=4001, limit=4000)]
        bruno = await patient(http, base, "bruno")  # French
        await bruno.say(LONG)
        assert await bruno.bot_texts() == [TOO_LONG["fr"].format(length=4001, limit=4000)]
        activity = message(connector.service_url, LONG, "long-1")
        async with http.post(f"{base}/api/messages", json=activity) as response:
            assert response.status == 200
        reply = await connector.wait_for_reply("long-1")
        assert isinstance(reply.body, dict)
        assert reply.body["text"] == TOO_LONG["en"].format(length=4001, limit=4000)
        assert len(connector.activities) == 1
        # At the limit the dialogs answer as usual.
        await alice.say("hello" + " " * 3995)
        assert (await alice.bot_texts())[0].startswith("Hello Alice!")


async def test_a_long_card_value_is_refused_too(tmp_path: Path, sqlite_url: str) -> None:
    async with running_service(emulator_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            alice = await patient(http, base, "alice")
            async with http.post(
                f"{base}/directline/conversations/{alice.conversation_id}/activities",
                json={"type": "message", "value": {"note": LONG}},
                headers={"Authorization": f"Bearer {alice.token}"},
            ) as response:
                assert response.status == 200
            assert await alice.bot_texts() == [TOO_LONG["en"].format(length=4001, limit=4000)]

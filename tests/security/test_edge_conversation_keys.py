"""M2: /api/messages cannot address a portal conversation's state, whatever channelId it
claims; conversation ids are not logged in clear."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.adapter import conversation_tag
from tests.bot.directline_client import browser_session
from tests.bot.service import emulator_settings, running_service
from tests.fakes.bot_connector import FakeBotConnector
from tests.security.edge import message, patient


async def test_a_directline_activity_on_api_messages_cannot_reach_a_portal_conversation(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url)) as base,
        browser_session() as http,
    ):
        alice = await patient(http, base, "alice")
        await alice.say("language")
        assert await alice.bot_texts() == ["Which language would you like: English or French?"]
        forged = message(
            connector.service_url,
            "Français",
            "forged-1",
            channelId="directline",
            conversation={"id": alice.conversation_id},
            **{"from": {"id": alice.user_id, "role": "user"}},
        )
        async with http.post(f"{base}/api/messages", json=forged) as response:
            assert response.status == 200
        (reply,) = await connector.wait_for_requests(1)
        assert isinstance(reply.body, dict)
        # A guest's menu answer: Alice's language dialog was not resumed.
        assert reply.body["text"].startswith("Sorry, I didn't understand that.")
        # Alice's own conversation still waits for her answer.
        await alice.say("English")
        assert await alice.bot_texts() == ["All right, I'll speak English from now on."]


async def test_turn_errors_log_a_tag_not_the_conversation_id(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret_id = "a:1conversation-id-of-a-patient"
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        browser_session() as http,
    ):
        connector.fail_next(500, times=2)  # the reply and the apology both fail
        activity = message(connector.service_url, "hello", "e-1", conversation={"id": secret_id})
        with caplog.at_level(logging.INFO):
            async with http.post(f"{base}/api/messages", json=activity) as response:
                assert response.status == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "turn failed in conversation" in logged
    assert conversation_tag(secret_id) in logged
    assert secret_id not in logged

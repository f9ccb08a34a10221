"""The local Direct Line channel: identity from the token, greetings, state across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.directline_client import DirectLineTestClient, browser_session
from tests.bot.service import DEMO_PASSWORD, running_service, service_settings


async def test_greets_the_signed_in_patient_by_name(tmp_path: Path, database_url: str) -> None:
    async with running_service(service_settings(tmp_path, database_url)) as base:
        async with browser_session() as http:
            client = DirectLineTestClient(http, base)
            await client.sign_in("alice", DEMO_PASSWORD)
            assert await client.start() == 201
            opening = await client.bot_texts()
            assert opening[0].startswith("Hello Alice!")
            await client.say("hello")
            texts = await client.bot_texts()
            assert texts[0] == "Hello Alice! I'm your care assistant."
            assert "What would you like to do?" in texts[1]


async def test_french_patient_is_answered_in_french(tmp_path: Path, sqlite_url: str) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            client = DirectLineTestClient(http, base)
            await client.sign_in("bruno", DEMO_PASSWORD)
            await client.start()
            await client.bot_texts()
            await client.say("aide")
            (text,) = await client.bot_texts()
            assert text.startswith("Voici ce que je peux faire")
            await client.say("qwertz")
            (text,) = await client.bot_texts()
            assert text.startswith("Désolé, je n'ai pas compris")


async def test_the_browser_cannot_claim_another_identity(tmp_path: Path, sqlite_url: str) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as alice_http, browser_session() as david_http:
            alice = DirectLineTestClient(alice_http, base)
            await alice.sign_in("alice", DEMO_PASSWORD)
            await alice.start()
            david = DirectLineTestClient(david_http, base)
            await david.sign_in("david", DEMO_PASSWORD)
            await david.start()
            # David's browser claims to be Alice: the server still answers David.
            await david.new_activities()
            await david.say("hello", from_id=alice.user_id)
            activities = await david.new_activities()
            assert activities[0]["from"]["id"] == david.user_id
            assert activities[1]["text"].startswith("Hello David!")
            # David's token cannot read or write Alice's conversation.
            url = f"{base}/directline/conversations/{alice.conversation_id}/activities"
            headers = {"Authorization": f"Bearer {david.token}"}
            async with david_http.get(url, headers=headers) as response:
                assert response.status == 403
            async with david_http.post(
                url, json={"type": "message", "text": "hi"}, headers=headers
            ) as response:
                assert response.status == 403
            assert [a["type"] for a in await alice.new_activities()] == ["message", "message"]


async def test_no_token_or_a_forged_token_is_refused(tmp_path: Path, sqlite_url: str) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url), seed=False) as base:
        async with browser_session() as http:
            async with http.post(f"{base}/directline/conversations") as response:
                assert response.status == 403
                assert (await response.json())["error"]["code"] == "TokenInvalid"
            async with http.post(f"{base}/portal/api/directline-token", json={}) as response:
                assert response.status == 401
            forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
            async with http.post(
                f"{base}/directline/conversations", headers={"Authorization": f"Bearer {forged}"}
            ) as response:
                assert response.status == 403


async def test_dialog_state_survives_a_server_restart(tmp_path: Path, database_url: str) -> None:
    settings = service_settings(tmp_path, database_url)
    async with browser_session() as http:
        async with running_service(settings) as base:
            client = DirectLineTestClient(http, base)
            await client.sign_in("alice", DEMO_PASSWORD)
            await client.start()
            await client.bot_texts()
            await client.say("language")
            assert await client.bot_texts() == ["Which language would you like: English or French?"]
        # The server is gone; a new process on the same database takes over mid-dialog.
        async with running_service(settings, seed=False) as base:
            client.base = base
            assert await client.start() == 200  # the token's conversation is resumed
            await client.say("Français")
            assert await client.bot_texts() == [
                "Très bien, je vous parlerai en français désormais."
            ]
            await client.say("hello")
            texts = await client.bot_texts()
            assert texts[0].startswith("Bonjour Alice")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{oops", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b'{"text": "no type"}', "application/json", 400),
        (b'{"type": "message", "text": 5}', "application/json", 400),
        (b"hello", "text/plain", 415),
        (b'{"type":"message","text":"' + b"a" * (256 * 1024) + b'"}', "application/json", 413),
    ],
)
async def test_bad_activities_get_a_json_4xx_and_change_nothing(
    tmp_path: Path, sqlite_url: str, body: bytes, content_type: str, status: int
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            client = DirectLineTestClient(http, base)
            await client.sign_in("emma", DEMO_PASSWORD)
            await client.start()
            before = await client.new_activities()
            async with http.post(
                f"{base}/directline/conversations/{client.conversation_id}/activities",
                data=body,
                headers={"Content-Type": content_type, "Authorization": f"Bearer {client.token}"},
            ) as response:
                assert response.status == status
                assert (await response.json())["error"]["message"]
            assert await client.new_activities() == []
            await client.say("hello")
            assert (await client.bot_texts())[0].startswith("Hello Emma!")
            assert before

"""`POST /api/messages` in emulator mode: recorded Teams traffic gets its reply at the (loopback)
serviceUrl; bad input 4xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.bot.service import emulator_settings, running_service
from tests.corpora import corpus
from tests.fakes.bot_connector import FakeBotConnector

RECORDINGS = corpus("botframework", "teams_recorded_integrationBot")


def recorded_requests(kind: str) -> list[dict[str, Any]]:
    """Bodies of the recorded inbound requests whose activity type is KIND."""
    bodies = []
    for path in sorted(RECORDINGS.glob("*-request-*.json")):
        body = json.loads(path.read_text())["body"]
        if body.get("type") == kind:
            bodies.append(body)
    return bodies


def pointed_at(body: dict[str, Any], connector: FakeBotConnector) -> dict[str, Any]:
    """The recorded activity with its serviceUrl host replaced by the fake connector's."""
    path = urlsplit(body["serviceUrl"]).path  # the recordings use /amer/
    assert connector.service_url.endswith(path.rstrip("/")) or path == "/amer/"
    return {**body, "serviceUrl": connector.service_url}


async def test_recorded_teams_message_gets_its_reply_at_the_service_url(
    tmp_path: Path, sqlite_url: str
) -> None:
    message = recorded_requests("message")[0]
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        activity = pointed_at(message, connector)
        async with http.post(f"{base}/api/messages", json=activity) as response:
            assert response.status == 200
        reply = await connector.wait_for_reply(activity["id"])
        assert reply.path.startswith("/amer/v3/conversations/")
        body = reply.body
        assert isinstance(body, dict)
        assert body["type"] == "message"
        assert body["replyToId"] == activity["id"]
        assert body["conversation"]["id"] == activity["conversation"]["id"]
        assert body["recipient"]["id"] == activity["from"]["id"]
        assert body["from"]["id"] == activity["recipient"]["id"]
        assert body["text"]


@pytest.mark.parametrize("index", range(4))
async def test_every_recorded_message_kind_is_answered_without_error(
    tmp_path: Path, sqlite_url: str, index: int
) -> None:
    bodies = recorded_requests("message") + recorded_requests("conversationUpdate")
    body = bodies[index * (len(bodies) // 4)]
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(f"{base}/api/messages", json=pointed_at(body, connector)) as response:
            assert response.status == 200


async def test_help_lists_what_the_bot_can_do_in_teams(tmp_path: Path, sqlite_url: str) -> None:
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        activity = pointed_at(recorded_requests("message")[0], connector)
        activity = {**activity, "text": "help", "id": "help-1"}
        async with http.post(f"{base}/api/messages", json=activity) as response:
            assert response.status == 200
        reply = await connector.wait_for_reply("help-1")
        assert isinstance(reply.body, dict)
        assert "Here is what I can do" in reply.body["text"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"type": "message"', "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'{"type": "message"}', "application/json", 400),
        (b'{"type": "message"}', "text/plain", 415),
        (b"x" * (256 * 1024 + 1), "application/json", 413),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
    ],
)
async def test_bad_requests_get_a_json_4xx_and_the_server_keeps_serving(
    tmp_path: Path, sqlite_url: str, body: bytes, content_type: str, status: int
) -> None:
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(
            f"{base}/api/messages", data=body, headers={"Content-Type": content_type}
        ) as response:
            assert response.status == status
            error = await response.json()
            assert error["error"]["code"]
        assert connector.requests == []
        activity = pointed_at(recorded_requests("message")[0], connector)
        async with http.post(f"{base}/api/messages", json=activity) as response:
            assert response.status == 200
        await connector.wait_for_reply(activity["id"])


async def test_reply_path_keeps_teams_ids_percent_encoded(tmp_path: Path, sqlite_url: str) -> None:
    # A channel thread id holds ':', '@' and ';': the recordings show them percent-encoded.
    recorded = json.loads((RECORDINGS / "20191020015222569-reply-integrationBot.json").read_text())
    message = recorded_requests("message")[0]
    assert message["id"] == recorded["body"]["replyToId"]
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(f"{base}/api/messages", json=pointed_at(message, connector)) as r:
            assert r.status == 200
        reply = await connector.wait_for_reply(message["id"])
        assert reply.path == recorded["path"]


async def test_red_flag_in_teams_gets_the_deployments_emergency_number(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = emulator_settings(tmp_path, sqlite_url, emergency_numbers={"en": "999"})
    async with (
        FakeBotConnector() as connector,
        running_service(settings, seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        activity = pointed_at(recorded_requests("message")[0], connector)
        activity = {**activity, "text": "I have crushing chest pain and I'm sweating", "id": "rf"}
        async with http.post(f"{base}/api/messages", json=activity) as response:
            assert response.status == 200
        reply = await connector.wait_for_reply("rf")
        assert isinstance(reply.body, dict)
        card = json.dumps(reply.body.get("attachments") or []) + str(reply.body.get("text"))
        assert "999" in card
        assert "911" not in card

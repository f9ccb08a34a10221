"""Helpers of the bot channel edge's security tests: a patient on Direct Line, raw posts."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.bot.directline_client import DirectLineTestClient
from tests.bot.service import DEMO_PASSWORD


async def patient(http: aiohttp.ClientSession, base: str, username: str) -> DirectLineTestClient:
    """USERNAME signed in on the portal with an open conversation, its greeting read."""
    client = DirectLineTestClient(http, base)
    await client.sign_in(username, DEMO_PASSWORD)
    await client.start()
    await client.new_activities()
    return client


async def post_raw(client: DirectLineTestClient, body: bytes) -> tuple[int, Any]:
    """POST BODY as the client's activity; the status and the JSON answer."""
    async with client.http.post(
        f"{client.base}/directline/conversations/{client.conversation_id}/activities",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {client.token}"},
    ) as response:
        return response.status, await response.json(content_type=None)


def message(service_url: str, text: str, activity_id: str, **extra: Any) -> dict[str, Any]:
    """A Bot Framework Emulator-like message activity (channel `emulator`)."""
    return {
        "type": "message",
        "id": activity_id,
        "text": text,
        "channelId": "emulator",
        "serviceUrl": service_url,
        "from": {"id": "user-1", "name": "Pat"},
        "recipient": {"id": "bot-1", "name": "carebot"},
        "conversation": {"id": "conv-1"},
        "locale": "en-US",
        **extra,
    }
